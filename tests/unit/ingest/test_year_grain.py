"""Year-grain metrics count NHS financial years (April to March) unless every request asking
for them says `year_start: january`: from the plan's template through `collectonce submit`."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from collectonce.ingest.normalise import normalise_periods

runner = CliRunner()

TURNOVER = """\
code: staff_turnover_rate
label: Staff turnover rate (%)
definition: Leavers in the year as a percentage of average staff in post over the year.
why_collected: Workforce stability; reported once a year.
unit: percent
value_type: decimal
grain: {entity: provider, period: year}
valid: {min: 0, max: 100}
zero_is_significant: false
improvement_direction: decrease
status: {state: active, version: 1, effective_from: 2016-04-01}
"""
FLU = (
    TURNOVER.replace("staff_turnover_rate", "flu_vaccination_uptake")
    .replace("Staff turnover rate", "Flu vaccination uptake")
    .replace("decrease", "increase")
)
ANNUAL = """\
code: nhse_workforce_annual
requester: nhs_england
title: Annual workforce return
purpose: Workforce stability across the financial year.
frequency: year
due_days_after_period: 30
minutes_per_item: 10
items:
  - {their_code: "W1", their_label: Staff turnover rate, metric: staff_turnover_rate}
"""
CALENDAR = """\
code: flu_calendar_annual
requester: nhs_england
title: Flu vaccination uptake by calendar year
purpose: Uptake counted by calendar year.
frequency: year
year_start: january
due_days_after_period: 30
minutes_per_item: 10
items:
  - {their_code: "F1", their_label: Flu vaccination uptake, metric: flu_vaccination_uptake}
"""


@pytest.fixture
def year_catalog(catalog_min_dir: Path, tmp_path: Path) -> Path:
    catalog = tmp_path / "catalog"
    shutil.copytree(catalog_min_dir, catalog)
    (catalog / "metrics/workforce/staff_turnover_rate.yaml").write_text(TURNOVER)
    (catalog / "metrics/workforce/flu_vaccination_uptake.yaml").write_text(FLU)
    (catalog / "requests/nhse_workforce_annual.yaml").write_text(ANNUAL)
    (catalog / "requests/flu_calendar_annual.yaml").write_text(CALENDAR)
    return catalog


def cli(*args: str):
    from collectonce.cli import app

    return runner.invoke(app, list(args))


@pytest.mark.parametrize("text", ["2018/19", "2018-19", "FY2018/19", "fy 2018-19", "2018/2019"])
def test_every_way_of_writing_a_financial_year_is_the_same_year(text: str) -> None:
    parsed = normalise_periods(pd.Series([text]), "year")
    assert (parsed["period"][0], parsed["problem"][0]) == (dt.date(2018, 4, 1), None)
    calendar = normalise_periods(pd.Series(["2019"]), "year", year_start="january")
    assert calendar["period"][0] == dt.date(2019, 1, 1)


def test_a_filled_plan_template_stores_the_financial_year_it_names(
    home, year_catalog: Path, tmp_path: Path
) -> None:
    """`plan --period 2019-03` asks for the turnover rate of 2018/19; the filled template and
    the other ways of writing that year are stored as the year from 1 April 2018; a calendar
    year given for it, or a financial year for the calendar-year metric, is refused by row and
    column with the way to write it."""
    from collectonce.settings import get_settings
    from collectonce.store.submissions import current_values

    cat = ["--catalog", str(year_catalog)]
    template = tmp_path / "RF4_2019-03.csv"
    planned = cli(
        "plan", "--provider", "RF4", "--period", "2019-03", "--csv-template", str(template), *cat
    )
    assert planned.exit_code == 0, planned.output
    rows = pd.read_csv(template, dtype=str, keep_default_na=False)
    [turnover] = rows.index[rows["metric_id"] == "staff_turnover_rate"]
    assert rows.loc[turnover, "period"] == "2018/19"
    rows["value"] = "3"
    extra = pd.DataFrame(
        [
            ["RRK", "2018-19", "staff_turnover_rate", "12.5", ""],
            ["R1H", "FY2018/19", "staff_turnover_rate", "13.5", ""],
            ["RQM", "2018/2019", "staff_turnover_rate", "14.5", ""],
            ["RRK", "2019", "staff_turnover_rate", "15.5", ""],
            ["RF4", "2019", "flu_vaccination_uptake", "70", ""],
            ["RRK", "2018/19", "flu_vaccination_uptake", "71", ""],
        ],
        columns=rows.columns,
    )
    filled = tmp_path / "years.csv"
    pd.concat([rows, extra]).to_csv(filled, index=False)
    result = cli("submit", str(filled), "--json", *cat)
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.stdout)
    first = len(rows) + 2  # the first extra row, counting the header as row 1
    errors = {(f["row"], f["column"], f["rule"]) for f in receipt["findings"]}
    assert errors == {(first + 3, "period", "period_grain"), (first + 5, "period", "period_grain")}
    by_row = {f["row"]: f["message"] for f in receipt["findings"]}
    assert "write the financial year, for example 2018/19" in by_row[first + 3].lower()
    assert "write the calendar year, for example 2019" in by_row[first + 5].lower()
    held = current_values(get_settings())
    years = held[held["metric_id"] == "staff_turnover_rate"].set_index("provider_code")["period"]
    assert years.to_dict() == {p: dt.date(2018, 4, 1) for p in ("RF4", "RRK", "R1H", "RQM")}
    flu = held[held["metric_id"] == "flu_vaccination_uptake"]
    assert flu[["provider_code", "period"]].values.tolist() == [["RF4", dt.date(2019, 1, 1)]]
