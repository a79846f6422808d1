"""Aggregation in the catalogue, the level table's versions, and SPC at a level."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rollup_helpers import AE_CSV, CATALOG, invoke, rollup_json, submit_and_publish


def check(catalog: Path) -> tuple[int, dict]:
    code, out = invoke(Path("."), "catalog", "check", "--catalog", str(catalog), "--json")
    return code, json.JSONDecoder().raw_decode(out)[0]


def set_field(path: Path, line: str) -> None:
    text = path.read_text()
    path.write_text(text.replace("status: ", f"{line}\nstatus: ", 1))


def test_catalog_check_warns_of_providers_with_no_region_and_stays_green() -> None:
    """The shipped providers.csv leaves some providers without a region: a warning, exit 0."""
    code, body = check(CATALOG)
    assert code == 0 and body["ok"] is True
    (warning,) = body["warnings"]
    assert warning["file"] == "providers.csv" and "no region" in warning["message"]
    assert "Unassigned" in warning["message"]


@pytest.mark.parametrize(
    ("metric", "line", "message"),
    [
        ("workforce/staff_sickness_absence_rate", "aggregation: sum", "a percent cannot be summed"),
        ("urgent_care/ae_4hr_performance_all", "aggregation: sum", "derived metric cannot be"),
        ("workforce/appraisal_rate", "aggregation: recompute", "only a derived metric"),
    ],
)
def test_catalog_check_refuses_an_aggregation_that_does_not_fit(
    catalog_copy, metric: str, line: str, message: str
) -> None:
    catalog = catalog_copy()
    path = catalog / "metrics" / f"{metric}.yaml"
    text = path.read_text().replace("aggregation: none\n", "")
    path.write_text(text)
    set_field(path, line)
    code, body = check(catalog)
    assert code == 1
    (problem,) = body["problems"]
    assert problem["field"] == "aggregation" and message in problem["message"]
    assert problem["fix"]


def test_a_level_request_may_only_hold_metrics_that_roll_up(catalog_copy) -> None:
    catalog = catalog_copy()
    path = catalog / "requests/hee/hee_workforce_quarterly.yaml"
    path.write_text(path.read_text().replace("respondents: all", "respondents: all\nlevel: region"))
    code, body = check(catalog)
    assert code == 1
    assert any("cannot be rolled up" in p["message"] for p in body["problems"])


def test_coverage_threshold_is_a_catalogue_setting(tmp_path: Path, catalog_copy, ae_data) -> None:
    """With a threshold of 100%, a region missing one trust in a month is partial."""
    catalog = catalog_copy()
    (catalog / "levels.yaml").write_text("coverage_threshold: 1.0\n")
    (catalog / "levels.yaml").write_text("coverage_threshold: 1.0\n")
    london = sorted(ae_data.loc[ae_data["region"] == "London", "org_code"].unique())
    data = pd.read_csv(AE_CSV, dtype={"type": str})
    keep = ~((data["org_code"] == london[0]) & data["period"].str.startswith("2019-02"))
    path = tmp_path / "ae_one_london_trust_missing.csv"
    data[keep].to_csv(path, index=False)
    home = tmp_path / "home"
    submit_and_publish(home, path, catalog=catalog)
    rows = rollup_json(
        home, "--metric", "ae_attendances_type1", "--region", "London", "--from", "2019-02",
        "--to", "2019-02", catalog=catalog,
    )  # fmt: skip
    (row,) = rows
    assert row["partial"] is True and row["providers"] == row["providers_expected"] - 1
    default = rollup_json(
        home, "--metric", "ae_attendances_type1", "--region", "London", "--from", "2019-02",
        "--to", "2019-02",
    )  # fmt: skip
    assert default[0]["partial"] is False  # 17 of 18 is above the shipped 90%


def test_each_level_commit_records_its_publication(tmp_path: Path) -> None:
    from collectonce.catalog import load_catalog
    from collectonce.rollup.table import describe
    from collectonce.settings import get_settings

    home = tmp_path / "home"
    submit_and_publish(home, AE_CSV)
    settings = get_settings(home=home, catalog=CATALOG)
    assert describe(settings) == [{"levels_version": 0, "unified_version": 0}]
    assert load_catalog(CATALOG).levels.coverage_threshold == 0.9


def test_a_publish_killed_before_its_roll_ups_never_shows_stale_levels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ae_data
) -> None:
    """The unified commit lands but the process dies before the level commit: readers of the
    new publication get roll-ups computed from it, never the previous publication's."""
    import collectonce.rollup.writer as writer

    home = tmp_path / "home"
    submit_and_publish(home, AE_CSV)
    jan = ae_data[(ae_data["month"] == "2019-01") & (ae_data["type"] == "1")]
    revision = jan[jan["org_code"] == "RF4"].assign(attendances=lambda f: f["attendances"] + 500)
    path = tmp_path / "rf4_revision.csv"
    revision.drop(columns=["region", "month"]).to_csv(path, index=False)
    code, out = invoke(home, "submit", str(path))
    assert code == 0, out

    def killed(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(writer, "publish_levels", killed)
    code, out = invoke(home, "publish")
    assert code != 0
    monkeypatch.undo()
    code, out = invoke(home, "publications", "--json")
    assert [p["version"] for p in json.loads(out)["publications"]] == [0, 1]
    rows = rollup_json(home, "--metric", "ae_attendances_type1", "--level", "england",
                       "--from", "2019-01", "--to", "2019-01")  # fmt: skip
    assert rows[0]["value"] == jan["attendances"].sum() + 500


def test_partial_points_are_shown_but_left_out_of_the_limits(shipped_catalog) -> None:
    """A partial month far off the others neither moves the mean nor raises a signal."""
    from collectonce.feedback.level_spc import level_spc

    values = [100.0, 104, 98, 101, 99, 103, 97, 102, 100, 98, 101, 99, 10.0]
    rows = pd.DataFrame(
        {
            "level": "region",
            "code": "London",
            "period": pd.date_range("2018-01-01", periods=13, freq="MS"),
            "metric_id": "ae_attendances_type1",
            "value": values,
            "numerator": values,
            "denominator": np.nan,
            "providers": [18] * 12 + [4],
            "providers_expected": 18,
            "partial": [False] * 12 + [True],
        }
    )
    points, summary = level_spc(shipped_catalog, rows)
    assert points["mean"].iloc[-1] == pytest.approx(np.mean(values[:12]))
    last = points.iloc[-1]
    assert last["value"] == 10.0 and last["partial"]
    assert last["point_type"] is None
    assert "partial: 4 of 18 providers" in last["flags"]
    assert summary["variation_icon"].iloc[0] == "common_cause"


def test_a_region_spelt_two_ways_is_a_warning(catalog_copy) -> None:
    """A register copied from two documents ("North West", "North west") splits a region."""
    catalog = catalog_copy()
    path = catalog / "providers.csv"
    text = path.read_text()
    path.write_text(text.replace(",North West\n", ",North west\n", 1))
    code, body = check(catalog)
    assert code == 0
    (split,) = [w for w in body["warnings"] if "more than one way" in w["message"]]
    assert "'North West'" in split["value"] and "'North west'" in split["value"]


def test_quarterly_metrics_roll_up_by_nhs_quarter(shipped_catalog) -> None:
    """A quarterly count (staff Friends and Family responses) rolls up per NHS quarter, and its
    periods are written as views write them; a provider missing the latest quarter is counted."""
    from collectonce.rollup.aggregate import compute_levels
    from collectonce.rollup.query import rows_to_dicts

    quarters = pd.date_range("2018-04-01", periods=4, freq="QS-APR")
    rows = [
        (ods, day, "staff_fft_responses_care", 100.0, "reported")
        for ods in ("RF4", "R1H", "RQM")
        for day in quarters
        if not (ods == "RF4" and day == quarters[-1])
    ]
    unified = pd.DataFrame(
        rows, columns=["provider_code", "period", "metric_id", "value", "value_status"]
    )
    levels = compute_levels(shipped_catalog, unified)
    london = levels[(levels["level"] == "region") & (levels["code"] == "London")]
    out = rows_to_dicts(shipped_catalog, london)
    assert [r["period"] for r in out] == ["2018/19 Q1", "2018/19 Q2", "2018/19 Q3", "2018/19 Q4"]
    assert out[-1]["value"] == 200.0 and out[-1]["providers"] == 2
    assert out[-1]["providers_expected"] == 3 and out[-1]["partial"] is True
