"""`collectonce rollup` on the bundled NHS England A&E data, as a regional team would ask."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from rollup_helpers import AE_CSV, invoke, rollup_json, submit_and_publish

MEDIAN_METRIC = """\
code: ae_median_time_in_department_minutes
label: Median time in A&E, type 1 (minutes)
definition: >-
  Median time from arrival to admission, transfer or discharge of type 1 A&E attendances in the
  month, in minutes.
why_collected: Shows how long patients wait in A&E beyond the 4-hour threshold.
unit: minutes
value_type: decimal
grain: {entity: provider, period: month}
valid: {min: 0}
zero_is_significant: false
improvement_direction: decrease
status: {state: active, version: 1, effective_from: 2016-04-01}
"""


def four_hour(frame: pd.DataFrame) -> float:
    return 100 * (1 - frame["breaches"].sum() / frame["attendances"].sum())


def test_json_has_exactly_the_documented_shape(ae_home: Path) -> None:
    """It prints one object {"rows": [...]} whose rows hold exactly the documented keys."""
    code, out = invoke(
        ae_home, "rollup", "--metric", "ae_4hr_performance_all", "--level", "region",
        "--from", "2019-01", "--to", "2019-01", "--json",
    )  # fmt: skip
    assert code == 0, out
    body = json.loads(out)
    assert list(body) == ["rows"]
    keys = {"level", "code", "period", "value", "providers", "providers_expected", "partial"}
    assert body["rows"] and all(set(row) == keys for row in body["rows"])
    assert {row["period"] for row in body["rows"]} == {"2019-01"}
    assert {row["level"] for row in body["rows"]} == {"region"}


def test_region_four_hour_is_recomputed_from_summed_counts(ae_home: Path, ae_data) -> None:
    """A region's 4-hour % is 1 − Σ breaches / Σ attendances of its providers, all types,
    computed here straight from the bundled file: not the mean of the providers' percentages."""
    rows = rollup_json(
        ae_home, "--metric", "ae_4hr_performance_all", "--level", "region",
        "--from", "2019-01", "--to", "2019-01",
    )  # fmt: skip
    month = ae_data[ae_data["month"] == "2019-01"]
    by_region = {row["code"]: row for row in rows}
    assert set(by_region) == set(month["region"])
    differs_from_mean = 0
    for region, part in month.groupby("region"):
        expected = four_hour(part)
        assert by_region[region]["value"] == pytest.approx(expected, abs=1e-6), region
        per_provider = part.groupby("org_code").apply(four_hour, include_groups=False)
        assert by_region[region]["providers"] == part["org_code"].nunique()
        if abs(per_provider.mean() - expected) > 0.1:
            differs_from_mean += 1
    assert differs_from_mean >= 5  # averaging percentages would give other figures
    london = by_region["London"]
    assert london["value"] == pytest.approx(four_hour(month[month["region"] == "London"]))


def test_england_is_every_provider_including_those_with_no_region(ae_home, ae_data) -> None:
    """England sums every provider, Unassigned ones included; counts are sums."""
    rows = rollup_json(
        ae_home, "--metric", "ae_4hr_performance_all", "--level", "england", "--from", "2018-12",
        "--to", "2019-01",
    )  # fmt: skip
    assert [(r["code"], r["period"]) for r in rows] == [
        ("England", "2018-12"),
        ("England", "2019-01"),
    ]
    jan = ae_data[ae_data["month"] == "2019-01"]
    assert rows[1]["value"] == pytest.approx(four_hour(jan), abs=1e-6)
    assert rows[1]["providers"] == jan["org_code"].nunique()
    assert not rows[1]["partial"]
    type1 = rollup_json(
        ae_home, "--metric", "ae_attendances_type1", "--level", "england", "--from", "2019-01",
        "--to", "2019-01",
    )  # fmt: skip
    assert type1[0]["value"] == jan.loc[jan["type"] == "1", "attendances"].sum()
    assert isinstance(type1[0]["value"], int)  # a count is written as a whole number
    unassigned = rollup_json(
        ae_home, "--metric", "ae_attendances_other", "--level", "region", "--region",
        "unassigned", "--from", "2019-01", "--to", "2019-01",
    )  # fmt: skip
    other = jan[(jan["type"] == "other") & (jan["region"] == "Unassigned")]
    assert unassigned[0]["code"] == "Unassigned"
    assert unassigned[0]["value"] == other["attendances"].sum()


def test_human_output_has_a_table_and_an_spc_verdict_per_region(ae_home: Path) -> None:
    """It prints the values and, for each region, the variation and assurance verdicts."""
    code, out = invoke(
        ae_home, "rollup", "--metric", "ae_4hr_performance_all", "--level", "region",
        "--from", "2017-01",
    )  # fmt: skip
    assert code == 0, out
    assert "SPC verdict per region" in out
    for region in ("London", "Midlands", "North West", "Unassigned"):
        assert f"  {region}: variation " in out
    assert "assurance consistently failing" in out  # no region meets the 95% standard


def test_a_metric_that_cannot_be_rolled_up_is_refused(ae_home: Path) -> None:
    """A percentage sent without its counts is refused with a clear message and exit 1."""
    code, out = invoke(
        ae_home, "rollup", "--metric", "staff_sickness_absence_rate", "--level", "england"
    )
    assert code == 1
    assert "cannot be rolled up" in out and "never averaged" in out


def test_a_median_metric_is_refused(ae_home: Path, catalog_copy) -> None:
    """A median time (unit minutes, not derived) defaults to `aggregation: none` and is refused
    for roll-up, at the CLI, in JSON too."""
    catalog = catalog_copy()
    (catalog / "metrics/urgent_care/ae_median_time_in_department_minutes.yaml").write_text(
        MEDIAN_METRIC
    )
    code, out = invoke(
        ae_home, "rollup", "--metric", "ae_median_time_in_department_minutes", "--level",
        "region", "--json", catalog=catalog,
    )  # fmt: skip
    assert code == 1
    body, _ = json.JSONDecoder().raw_decode(out)  # stdout; the one-line error follows on stderr
    assert body["ok"] is False
    assert "median" in body["error"] and "cannot be rolled up" in body["error"]


def test_unknown_region_and_level_are_clear_errors(ae_home: Path) -> None:
    code, out = invoke(ae_home, "rollup", "--metric", "ae_attendances_type1", "--level", "trust")
    assert code == 1 and "use icb, region or england" in out
    code, out = invoke(ae_home, "rollup", "--metric", "ae_attendances_type1", "--region", "Wessex")
    assert code == 1 and "there is no region 'Wessex'" in out and "London" in out


def test_a_month_with_missing_providers_is_partial(tmp_path: Path, ae_data) -> None:
    """London's February 2019 without half its trusts is flagged partial (and left out of the
    limits); the months around it, and England, are complete."""
    london = sorted(ae_data.loc[ae_data["region"] == "London", "org_code"].unique())
    dropped = london[: len(london) // 2]
    data = pd.read_csv(AE_CSV, dtype={"type": str})
    keep = ~(data["org_code"].isin(dropped) & data["period"].str.startswith("2019-02"))
    path = tmp_path / "ae_without_some_london_trusts_2019_02.csv"
    data[keep].to_csv(path, index=False)
    home = tmp_path / "home"
    submit_and_publish(home, path)
    rows = rollup_json(
        home, "--metric", "ae_attendances_type1", "--level", "region", "--region", "London",
        "--from", "2019-01", "--to", "2019-03",
    )  # fmt: skip
    by_month = {r["period"]: r for r in rows}
    assert by_month["2019-02"]["partial"] is True
    assert by_month["2019-02"]["providers"] < by_month["2019-02"]["providers_expected"]
    assert by_month["2019-02"]["providers_expected"] == by_month["2019-01"]["providers"]
    assert by_month["2019-01"]["partial"] is False and by_month["2019-03"]["partial"] is False
    code, out = invoke(
        home, "rollup", "--metric", "ae_attendances_type1", "--region", "London",
        "--from", "2018-10",
    )  # fmt: skip
    assert code == 0 and "partial" in out
    code, out = invoke(home, "pack", "--region", "London", "--out", str(tmp_path / "packs"))
    assert code == 0, out
    page = (tmp_path / "packs" / "london_pack.html").read_text()
    card = page.split('id="metric-ae_attendances_type1"', 1)[1]
    card = card.split('<section class="nhsuk-card"')[0]
    assert "1 period is partial" in card and "left out of the mean and limits" in card
    assert card.count('data-partial="true"') >= 1


def test_as_of_reads_each_level_at_that_publication(tmp_path: Path, ae_data) -> None:
    """After a revision is published, --as-of 0 still gives the first publication's roll-up."""
    home = tmp_path / "home"
    submit_and_publish(home, AE_CSV)
    jan = ae_data[(ae_data["month"] == "2019-01") & (ae_data["type"] == "1")]
    first = rollup_json(home, "--metric", "ae_attendances_type1", "--level", "england",
                        "--from", "2019-01", "--to", "2019-01")  # fmt: skip
    revision = jan[jan["org_code"] == "RF4"].assign(attendances=lambda f: f["attendances"] + 1000)
    path = tmp_path / "rf4_revision_2019_01.csv"
    revision.drop(columns=["region", "month"]).to_csv(path, index=False)
    submit_and_publish(home, path)
    latest = rollup_json(home, "--metric", "ae_attendances_type1", "--level", "england",
                         "--from", "2019-01", "--to", "2019-01")  # fmt: skip
    past = rollup_json(home, "--metric", "ae_attendances_type1", "--level", "england",
                       "--from", "2019-01", "--to", "2019-01", "--as-of", "0")  # fmt: skip
    assert latest[0]["value"] == first[0]["value"] + 1000
    assert past == first
    code, out = invoke(home, "rollup", "--metric", "ae_attendances_type1", "--as-of", "7")
    assert code == 1 and "there is no publication 7" in out
