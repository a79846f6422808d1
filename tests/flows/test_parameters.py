"""Parameter checks and run names that a data team reads in the UI (no Prefect run needed)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deltalake.exceptions import CommitFailedError  # noqa: E402
from flows.common import BadParameters, check_period, check_providers, is_transient  # noqa: E402
from flows.ingest import ingest_run_name, landing_run_name  # noqa: E402

TODAY = dt.date(2019, 4, 10)


def test_a_past_or_current_month_is_accepted() -> None:
    assert check_period("2019-04", today=TODAY) == "2019-04"
    assert check_period("2016-04", today=TODAY) == "2016-04"
    assert check_period(None, today=TODAY) is None


def test_a_future_month_is_refused_naming_the_latest_allowed() -> None:
    with pytest.raises(BadParameters, match=r"period 2019-05 is in the future.*pass 2019-04"):
        check_period("2019-05", today=TODAY)


@pytest.mark.parametrize("bad", ["2019-13", "201901", "April 2019", "2019-1x"])
def test_a_malformed_period_is_refused_with_an_example(bad: str) -> None:
    with pytest.raises(BadParameters, match=r"is not a month: pass YYYY-MM, e\.g\. 2019-04"):
        check_period(bad, today=TODAY)


def test_unknown_providers_are_named_with_the_nearest_codes(catalog_min) -> None:
    with pytest.raises(BadParameters) as refused:
        check_providers(catalog_min, ["RRK", "RFF4", "ZZZZZZ"])
    message = str(refused.value)
    assert "RFF4 (did you mean RF4?)" in message
    assert "ZZZZZZ" in message and "ZZZZZZ (did you mean" not in message
    assert "RRK" not in message.split(":")[0]
    assert check_providers(catalog_min, ["RRK"]) == ["RRK"]


@pytest.mark.parametrize(
    ("path", "as_provider", "name"),
    [
        ("landing/RF4_2019-01.csv", None, "ingest RF4 2019-01"),
        ("RF4_2019-01.csv", "RF4", "ingest RF4 2019-01"),
        ("drop/returns_march.xlsx", "RRK", "ingest RRK returns march"),
        ("history_2016-04_to_2018-12.csv", None, "ingest history 2016-04 to 2018-12"),
    ],
)
def test_an_ingest_run_is_named_for_its_file(path: str, as_provider: str | None, name: str) -> None:
    assert ingest_run_name(path, as_provider) == name


def test_a_landing_run_is_named_for_the_files_it_takes_in() -> None:
    names = ["RF4_2019-01.csv", *(f"R{i:02d}_2019-01.csv" for i in range(249))]
    assert landing_run_name(names) == "ingest RF4_2019-01.csv and 249 more"
    assert landing_run_name(["RRK_2019-03.xlsx"]) == "ingest RRK_2019-03.xlsx"
    assert landing_run_name([]) == "ingest landing: nothing new"


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ConnectionResetError("object store reset the connection"), True),
        (TimeoutError("read timed out"), True),
        (OSError(5, "Input/output error"), True),
        (FileNotFoundError("RF4_2019-01.csv"), False),
        (PermissionError("landing/RF4_2019-01.csv"), False),
        (KeyError("ae_attendances_type1"), False),
        (ValueError("bad data"), False),
        (CommitFailedError("another writer committed version 7 first"), True),
        (type("CommitFailedError", (Exception,), {})("same name, not the table's"), False),
    ],
)
def test_only_errors_that_may_pass_are_retried(error: BaseException, retried: bool) -> None:
    """A hiccup is retried with backoff; a bug, bad data or a missing file fails at once."""
    assert is_transient(error) is retried
