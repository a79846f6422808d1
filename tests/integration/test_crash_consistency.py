"""`collectonce submit` and `collectonce publish` killed (SIGKILL) at any point lose no fact,
store none twice and publish none without its receipt.

Two ways of killing: at each named crash point (``COLLECTONCE_FAULT_AT``, see
`collectonce.store.faults`), including between the store's commit and the receipt; and after a
random delay. After the kills, the files are sent again and published, and the data folder must
hold exactly what a run that was never interrupted holds.

CI runs a sample (two crash points and two random kills). The full run takes every point and
25 random kills (``COLLECTONCE_FAULT_FULL=1``; ``COLLECTONCE_FAULT_RUNS`` sets the number of
random kills).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from user_files import CATALOG, DATA, collectonce_command, pandas_xlsx

from collectonce.store.faults import POINTS

pytestmark = pytest.mark.integration

FULL = os.environ.get("COLLECTONCE_FAULT_FULL") == "1"
SAMPLE_POINTS = ("submit:stored", "publish:before_commit")
CRASH_POINTS = POINTS if FULL else SAMPLE_POINTS
RANDOM_KILLS = int(os.environ.get("COLLECTONCE_FAULT_RUNS", "25" if FULL else "2"))
#: What the unified table must agree on (lineage times differ between runs).
UNIFIED_FACTS = [
    "provider_code",
    "period",
    "metric_id",
    "value",
    "value_status",
    "is_derived",
    "revision",
    "comment",
]


def run(home: Path, *args: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLLECTONCE_HOME": str(home)}
    env.pop("COLLECTONCE_FAULT_AT", None)
    if fault:
        env["COLLECTONCE_FAULT_AT"] = fault
    return subprocess.run(
        [collectonce_command(), *args, "--catalog", str(CATALOG)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def submit(home: Path, path: Path, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    return run(home, "submit", str(path), "--json", fault=fault)


def publish(home: Path, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    return run(home, "publish", "--json", fault=fault)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A data team's half-year of the bundled A&E data (every provider, by department type) and
    RF4's own workbook for a month with a comment."""
    folder = tmp_path_factory.mktemp("crash_files")
    data = pd.read_csv(DATA, dtype={"type": str})
    half_year = folder / "ae_2018-10_to_2019-03_all_providers.csv"
    data[data["period"] >= "2018-10-01"].to_csv(half_year, index=False)
    return [half_year, pandas_xlsx(folder, "2017-06").path]


def state(home: Path) -> dict[str, Any]:
    """What the data folder holds: current values, duplicates, and the published facts with
    whether each has a receipt."""
    from collectonce.publish.errors import UnknownPublication
    from collectonce.publish.unified import read_unified
    from collectonce.settings import get_settings
    from collectonce.store.receipts import receipt_path
    from collectonce.store.submissions import KEY, table_path

    settings = get_settings(home=home)
    out: dict[str, Any] = {"values": None, "duplicates": 0, "unified": None, "unreceipted": 0}
    if (table_path(settings) / "_delta_log").is_dir():
        from deltalake import DeltaTable

        stored = DeltaTable(str(table_path(settings))).to_pandas()
        out["duplicates"] = int(stored.duplicated(["submission_id", *KEY]).sum())
        out["stored_by_submission"] = stored.groupby("submission_id").size().to_dict()
    try:
        unified = read_unified(settings)
    except UnknownPublication:
        return out
    collected = unified[~unified["is_derived"]]
    sids = collected["submission_id"].dropna().unique()
    out["unreceipted"] = sum(not receipt_path(settings, str(s)).is_file() for s in sids)
    out["unified"] = (
        unified[UNIFIED_FACTS]
        .sort_values(["metric_id", "period", "provider_code"])
        .reset_index(drop=True)
        .astype({"comment": object})
    )
    return out


@pytest.fixture(scope="module")
def reference(files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The data folder of a run never interrupted: each file sent once, then published."""
    home = tmp_path_factory.mktemp("reference")
    for path in files:
        assert submit(home, path).returncode == 0
    assert publish(home).returncode == 0
    found = state(home)
    assert found["duplicates"] == 0 and found["unified"] is not None
    return found


def finish_and_compare(home: Path, files: list[Path], reference: dict[str, Any]) -> None:
    """Send every file again and publish: the result is the reference's, fact for fact."""
    for path in files:
        result = submit(home, path)
        assert result.returncode == 0, result.stdout + result.stderr
    result = publish(home)
    assert result.returncode == 0, result.stdout + result.stderr
    found = state(home)
    assert found["duplicates"] == 0
    assert found["stored_by_submission"] == reference["stored_by_submission"]
    assert found["unreceipted"] == 0
    pd.testing.assert_frame_equal(found["unified"], reference["unified"])


def assert_nothing_published_without_receipt(home: Path) -> None:
    found = state(home)
    assert found["duplicates"] == 0
    assert found["unreceipted"] == 0


@pytest.mark.parametrize("point", [p for p in CRASH_POINTS if p.startswith("submit:")])
def test_submit_killed_at_a_crash_point(point: str, files, reference, tmp_path: Path) -> None:
    """It publishes nothing of a submission killed before its receipt, and the same file sent
    again completes it without storing any value twice."""
    home = tmp_path / "home"
    killed = submit(home, files[0], fault=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    published = publish(home)
    after = state(home)
    assert after["duplicates"] == 0 and after["unreceipted"] == 0
    if point == "submit:receipt_written":
        assert published.returncode == 0
    else:
        # Values without a receipt are not publishable: there is nothing to publish yet.
        assert published.returncode != 0 and after["unified"] is None, published.stdout
    again = json.loads(submit(home, files[0]).stdout)
    assert (again["status"] == "duplicate") == (point == "submit:receipt_written")
    finish_and_compare(home, files, reference)


@pytest.mark.parametrize("point", [p for p in CRASH_POINTS if p.startswith("publish:")])
def test_publish_killed_at_a_crash_point(point: str, files, reference, tmp_path: Path) -> None:
    """It keeps the table readable (the last publication, or the new one whole) and the next
    publish completes."""
    home = tmp_path / "home"
    assert submit(home, files[0]).returncode == 0
    assert publish(home).returncode == 0
    assert submit(home, files[1]).returncode == 0
    killed = publish(home, fault=point)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert_nothing_published_without_receipt(home)
    finish_and_compare(home, files, reference)


def test_random_kills_of_submit_and_publish(files, reference, tmp_path: Path) -> None:
    """It survives kills at random moments of submits and publishes, then ends where an
    uninterrupted run ends."""
    home = tmp_path / "home"
    rng = random.Random(20190101)
    env = {**os.environ, "COLLECTONCE_HOME": str(home)}
    env.pop("COLLECTONCE_FAULT_AT", None)
    for i in range(RANDOM_KILLS):
        if i % 3 == 2:
            command = [collectonce_command(), "publish"]
        else:
            command = [collectonce_command(), "submit", str(files[i % len(files)])]
        child = subprocess.Popen(
            [*command, "--catalog", str(CATALOG)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(rng.uniform(0.3, 3.5))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
            child.wait(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=30)
        assert_nothing_published_without_receipt(home)
    finish_and_compare(home, files, reference)
