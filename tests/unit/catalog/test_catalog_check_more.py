"""More catalogue mistakes: each reported once, where it is, with a fix, and never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectonce.catalog import CatalogInvalid, load_catalog
from collectonce.cli import app

runner = CliRunner()
METRIC = "metrics/urgent_care/ae_emergency_admissions.yaml"


@pytest.fixture
def cat_dir(tmp_path: Path, catalog_min_dir: Path) -> Path:
    """A private, editable copy of the tiny catalogue."""
    dest = tmp_path / "catalog"
    shutil.copytree(catalog_min_dir, dest)
    return dest


def problems_of(path: Path) -> list[dict[str, str]]:
    with pytest.raises(CatalogInvalid) as info:
        load_catalog(path)
    return [p.to_dict() for p in info.value.problems]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def check(path: Path, *extra: str):
    return runner.invoke(app, ["catalog", "check", "--catalog", str(path), *extra])


def test_a_broken_metric_file_is_reported_once(cat_dir: Path) -> None:
    """A bad code in a metric file is one problem, not one more per request that uses it."""
    edit(cat_dir / METRIC, "code: ae_emergency_admissions", "code: AE-Emergency Admissions")
    (problem,) = problems_of(cat_dir)
    assert problem["file"] == METRIC
    assert problem["field"] == "code"
    assert problem["value"] == "'AE-Emergency Admissions'"
    assert "snake_case" in problem["fix"] and "ae_emergency_admissions" in problem["fix"]


def test_malformed_yaml_is_one_problem(cat_dir: Path) -> None:
    """Broken YAML gives its line and nothing else about the same file."""
    (cat_dir / METRIC).write_text("code: ae_emergency_admissions\nlabel: [unclosed\n")
    (problem,) = problems_of(cat_dir)
    assert problem["file"] == METRIC and problem["field"].startswith("line 3")


def test_an_empty_file_is_named_empty(cat_dir: Path) -> None:
    """An empty metric file says it is empty."""
    (cat_dir / METRIC).write_text("")
    (problem,) = problems_of(cat_dir)
    assert problem["message"] == "is empty"


def test_a_key_given_twice_is_refused(cat_dir: Path) -> None:
    """YAML would silently keep the second `unit:`; the check refuses the file instead."""
    edit(cat_dir / METRIC, "unit: count\n", "unit: count\nunit: percent\n")
    (problem,) = problems_of(cat_dir)
    assert "`unit` appears twice" in problem["message"]
    assert problem["field"].startswith("line ")
    assert "delete the other" in problem["fix"]


def test_an_impossible_date_names_the_field(cat_dir: Path) -> None:
    """2016-13-01 is reported against status.effective_from, not as a crash."""
    path = cat_dir / METRIC
    text = path.read_text()
    path.write_text(text.replace("effective_from: 2016-04-01", "effective_from: 2016-13-01"))
    assert "2016-13-01" in path.read_text()
    result = check(cat_dir, "--json")
    assert result.exit_code == 1
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["field"] == "status.effective_from"
    assert problem["value"] == "'2016-13-01'"
    assert "YYYY-MM-DD" in problem["fix"]


def test_an_item_with_neither_metric_nor_reason(cat_dir: Path) -> None:
    """It names the item by its own code and says both ways to fix it."""
    edit(
        cat_dir / "requests/nhse_ae_monthly.yaml",
        "their_label: Type 1 over 4 hours, metric: ae_breaches_4hr_type1}",
        "their_label: Type 1 over 4 hours}",
    )
    (problem,) = problems_of(cat_dir)
    assert problem["field"] == "items[1] (A2)"
    assert problem["value"] == ""
    assert "metric:" in problem["fix"] and "unmapped_reason:" in problem["fix"]


def test_an_item_with_a_metric_and_a_reason(cat_dir: Path) -> None:
    """An item both mapped and marked unmapped is refused."""
    edit(
        cat_dir / "requests/nhse_ae_monthly.yaml",
        "metric: ae_breaches_4hr_type1}",
        "metric: ae_breaches_4hr_type1, unmapped_reason: Not yet}",
    )
    (problem,) = problems_of(cat_dir)
    assert "metric and unmapped_reason" in problem["message"]


def test_requesters_file_must_hold_a_list(cat_dir: Path) -> None:
    """A requesters.yaml without its list is one problem, not one per request."""
    (cat_dir / "requesters.yaml").write_text("- {code: cqc, name: CQC}\n")
    (problem,) = problems_of(cat_dir)
    assert problem["file"] == "requesters.yaml" and problem["field"] == "requesters"


def test_a_misspelt_requester_gets_the_nearest_code(cat_dir: Path) -> None:
    """It suggests the requester meant."""
    edit(
        cat_dir / "requests/nhse_ae_monthly.yaml", "requester: nhs_england", "requester: nhs_englnd"
    )
    (problem,) = problems_of(cat_dir)
    assert problem["fix"] == "did you mean `nhs_england`?"


def test_providers_header_is_checked_once(cat_dir: Path) -> None:
    """A renamed column is one problem about the header, not one per row."""
    edit(cat_dir / "providers.csv", "ods_code,name,peer_group,region", "ods_code,name,group,region")
    (problem,) = problems_of(cat_dir)
    assert problem["field"] == "header" and "peer_group" in problem["message"]


def test_an_extra_providers_column_is_one_problem(cat_dir: Path) -> None:
    """An unknown column is reported once."""
    path = cat_dir / "providers.csv"
    lines = path.read_text().splitlines()
    path.write_text(
        "\n".join([lines[0] + ",trust_type", *[line + ",X" for line in lines[1:]]]) + "\n"
    )
    (problem,) = problems_of(cat_dir)
    assert problem["value"] == "trust_type"


def test_a_catalogue_without_metrics(cat_dir: Path) -> None:
    """No metric files is one problem, not one per request item."""
    shutil.rmtree(cat_dir / "metrics")
    (problem,) = problems_of(cat_dir)
    assert problem["file"] == "metrics/"


def test_a_target_outside_the_valid_range(cat_dir: Path) -> None:
    """A 195% target for a percentage is caught."""
    edit(cat_dir / "metrics/urgent_care/ae_4hr_performance_type1.yaml", "value: 95", "value: 195")
    (problem,) = problems_of(cat_dir)
    assert problem["field"] == "target.value" and "0 to 100" in problem["message"]


def test_a_target_against_the_improvement_direction(cat_dir: Path) -> None:
    """A target met at or below it, on a metric that should increase, is caught."""
    edit(
        cat_dir / "metrics/urgent_care/ae_4hr_performance_type1.yaml",
        "comparison: gte",
        "comparison: lte",
    )
    (problem,) = problems_of(cat_dir)
    assert problem["field"] == "target.comparison" and "comparison: gte" in problem["fix"]


def test_a_rule_across_grains(cat_dir: Path) -> None:
    """A monthly count cannot be compared on entry with a quarterly one."""
    path = cat_dir / "metrics/workforce/staff_ffp_recommend.yaml"
    edit(path, "state: draft", "state: active")
    edit(
        cat_dir / "metrics/urgent_care/ae_breaches_4hr_type1.yaml",
        "rules: [{lte: ae_attendances_type1}]",
        "rules: [{lte: ae_attendances_type1}, {lte: staff_ffp_recommend}]",
    )
    (problem,) = problems_of(cat_dir)
    assert problem["field"] == "rules[1].lte" and "same grain" in problem["fix"]


def test_a_percentage_summed_over_a_quarter(cat_dir: Path) -> None:
    """Adding up three monthly sickness rates for a quarter is refused."""
    edit(
        cat_dir / "requests/cqc_uec_quarterly.yaml",
        "metric: staff_sickness_absence_rate, transform: {aggregate: mean}}",
        "metric: staff_sickness_absence_rate}",
    )
    (problem,) = problems_of(cat_dir)
    assert problem["field"] == "items[3] (UEC04).transform"
    assert "cannot be summed" in problem["message"]


def _money_metric(cat_dir: Path) -> None:
    (cat_dir / "metrics/workforce/agency_spend_gbp_thousands.yaml").write_text(
        """code: agency_spend_gbp_thousands
label: Agency spend (£ thousands)
definition: Spend in the month on agency staff, in thousands of pounds.
why_collected: Agency spend signals workforce gaps and cost.
unit: gbp_thousands
value_type: decimal
grain: {entity: provider, period: month}
valid: {min: 0}
zero_is_significant: true
improvement_direction: decrease
status: {state: active, version: 1, effective_from: 2016-04-01}
"""
    )


def _add_item(cat_dir: Path, metric: str, unit: str, transform: str) -> None:
    path = cat_dir / "requests/nhse_ae_monthly.yaml"
    path.write_text(
        path.read_text()
        + f'  - {{their_code: "A9", their_label: Spend, metric: {metric}, unit: {unit}, '
        f"transform: {transform}}}\n"
    )


@pytest.mark.parametrize(
    ("metric", "unit", "transform", "expected"),
    [
        ("agency_spend_gbp_thousands", "gbp", "{aggregate: sum, scale: 0.001}", "scale of 1000"),
        ("ae_attendances_type1", "percent", "{aggregate: sum, scale: 10}", "cannot be converted"),
    ],
)
def test_a_unit_change_needs_the_right_scale(
    cat_dir: Path, metric: str, unit: str, transform: str, expected: str
) -> None:
    """£ thousands become £ by 1000; a count never becomes a percentage by scaling."""
    _money_metric(cat_dir)
    _add_item(cat_dir, metric, unit, transform)
    (problem,) = problems_of(cat_dir)
    assert problem["field"].startswith("items[3] (A9)")
    assert expected in problem["message"]


def test_the_right_scale_passes(cat_dir: Path) -> None:
    """An item in £ of a metric in £ thousands with scale 1000 is accepted."""
    _money_metric(cat_dir)
    _add_item(cat_dir, "agency_spend_gbp_thousands", "gbp", "{aggregate: sum, scale: 1000}")
    catalog = load_catalog(cat_dir)
    assert catalog.requests["nhse_ae_monthly"].items[-1].transform.scale == 1000


def test_markup_in_a_value_is_printed_as_written(cat_dir: Path) -> None:
    """A value that looks like console markup is shown literally, so the user sees what is wrong."""
    edit(cat_dir / METRIC, "code: ae_emergency_admissions", 'code: "[bold]x"')
    result = check(cat_dir)
    assert result.exit_code == 1
    assert "[bold]x" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "text",
    [
        "code: x\n  bad: [\n",  # malformed
        "effective_from: 2019-02-30\n",  # an impossible date at the top level
        "? [a, b]\n: c\n",  # a non-text key
        "\x00\x01",  # control characters
    ],
)
def test_no_metric_file_content_ends_in_a_traceback(cat_dir: Path, text: str) -> None:
    """Whatever a metric file holds, the check exits 1 with problems listed."""
    (cat_dir / METRIC).write_text(text)
    result = check(cat_dir)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "problem(s)" in result.output


def test_pounds_asked_of_a_metric_in_thousands(cat_dir: Path) -> None:
    """An item labelled (£) on a metric in £ thousands must say how to convert."""
    _money_metric(cat_dir)
    path = cat_dir / "requests/nhse_ae_monthly.yaml"
    path.write_text(
        path.read_text() + '  - {their_code: "A9", their_label: "Agency spend (£)", '
        "metric: agency_spend_gbp_thousands}\n"
    )
    (problem,) = problems_of(cat_dir)
    assert problem["field"] == "items[3] (A9).their_label"
    assert problem["fix"] == "add unit: gbp and transform: {scale: 1000}"
    path.write_text(path.read_text().replace("Agency spend (£)", "Agency spend (£000)"))
    assert load_catalog(cat_dir).requests["nhse_ae_monthly"].items[-1].their_code == "A9"


def test_a_yml_file_is_not_silently_ignored(cat_dir: Path) -> None:
    """A metric saved as .yml would be skipped; the check says to rename it."""
    (cat_dir / METRIC).rename((cat_dir / METRIC).with_suffix(".yml"))
    (problem,) = problems_of(cat_dir)
    assert problem["file"] == METRIC.replace(".yaml", ".yml")
    assert problem["fix"] == "rename it to ae_emergency_admissions.yaml"


def test_an_absent_as_zero_group_must_name_inputs_of_the_formula(cat_dir: Path) -> None:
    """A group of inputs that may count as zero must come from the formula it belongs to."""
    edit(
        cat_dir / "metrics/urgent_care/ae_4hr_performance_type1.yaml",
        "multiplier: 100}",
        "multiplier: 100, absent_as_zero: [[ae_breaches_4hr_type1, ae_emergency_admissions]]}",
    )
    (problem,) = problems_of(cat_dir)
    assert problem["field"] == "derived.absent_as_zero[0]"
    assert problem["value"] == "ae_emergency_admissions"
    assert "numerator or denominator" in problem["fix"]
