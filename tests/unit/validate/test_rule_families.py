"""Each rule family owns its rules' messages: every rule validation can raise has its own wording
and fix, and a provider sees that wording, not a generic one, through `collectonce submit`."""

from __future__ import annotations

import csv
import inspect
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectonce.findings import RULES

GENERIC = re.compile(r"^Rule \w+ failed for ")


def _families():
    from collectonce.validate import checks

    return [checks.catalogue, checks.scope, checks.keys, checks.wide, checks.metrics, checks.flags]


def _raised_by_checks() -> set[str]:
    """The rules the families raise themselves (besides those of the generated suites)."""
    found: set[str] = set()
    for module in _families():
        found |= set(re.findall(r'Listed\(\s*"(\w+)"', inspect.getsource(module)))
    return found


@pytest.mark.parametrize("which", ["catalog_min_dir", "shipped_catalog_dir"])
def test_every_rule_validation_can_raise_has_its_familys_message(which, request) -> None:
    """A rule of a generated suite or of a family check, without a writer, would reach people
    as 'Rule … failed'; every writer's rule is a documented rule, owned by one family."""
    from collectonce.catalog import load_catalog
    from collectonce.validate.checks import WRITERS
    from collectonce.validate.suites import long_expectations, wide_expectations

    catalog = load_catalog(request.getfixturevalue(which))
    suites = {e["meta"]["rule"] for e in [*long_expectations(catalog), *wide_expectations(catalog)]}
    raised = suites | _raised_by_checks()
    assert {"provider_scope", "conflicting_key", "outlier_history"} <= raised
    assert raised - set(WRITERS) == set()
    assert set(WRITERS) - set(RULES) == set()
    owners: dict[str, str] = {}
    for module in _families():
        for rule in module.WRITERS:
            assert rule not in owners, f"{rule} is written by {owners[rule]} and {module.__name__}"
            owners[rule] = module.__name__
    assert set(owners) == set(WRITERS)


def _write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["provider_code", "period", "metric_id", "value"], *rows])
    return path


def _submit(path: Path, catalog_dir: Path, *extra: str) -> dict:
    from collectonce.cli import app

    result = CliRunner().invoke(
        app, ["submit", str(path), "--json", "--catalog", str(catalog_dir), *extra]
    )
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_a_provider_sees_each_familys_own_wording_at_the_door(
    home, catalog_min_dir, tmp_path
) -> None:
    """One file trips a rule of every family; each finding names its row and column and says
    how to fix it in its family's words, and every row is accounted for."""
    path = _write_csv(
        tmp_path / "rf4__every_family.csv",
        [
            ["RF4", "2019-01", "ae_attendances_type1", "16428"],  # row 2
            ["RF4", "2019-01", "ae_breaches_4hr_type1", "20000"],  # 3: cross-metric rule
            ["RF4", "2019-02", "ae_attendences_type1", "100"],  # 4: misspelt metric
            ["RF4", "2019-03", "ae_attendances_type1", "100.5"],  # 5: not a whole number
            ["RF4", "2019-04", "ae_attendances_type1", "200000"],  # 6: over the maximum
            ["RF4", "2099-01", "ae_attendances_type1", "5"],  # 7: a period not begun
            ["RF44", "2019-05", "ae_attendances_type1", "5"],  # 8: unknown provider
            ["RF4", "2019-06", "ae_emergency_admissions", "*"],  # 9: suppressed
            ["RF4", "2019-07", "ae_emergency_admissions", "10"],  # 10
            ["RF4", "2019-07", "ae_emergency_admissions", "10"],  # 11: repeats row 10
            ["RF4", "2019-08", "ae_emergency_admissions", "10"],  # 12
            ["RF4", "2019-08", "ae_emergency_admissions", "12"],  # 13: disagrees with 12
            ["RF4", "2019-09", "staff_ffp_recommend", "50"],  # 14: a draft metric
        ],
    )
    receipt = _submit(path, catalog_min_dir)
    findings = receipt["findings"]
    assert receipt["rows_read"] == 13
    assert receipt["rows_read"] == receipt["rows_accepted"] + receipt["rows_rejected"]
    by_rule: dict[str, list[dict]] = {}
    for f in findings:
        assert not GENERIC.match(f["message"]), f
        by_rule.setdefault(f["rule"], []).append(f)
    expected = {
        "cross_metric_rule": ({2, 3}, "must be ≤"),
        "known_metric": ({4}, "Did you mean 'ae_attendances_type1'?"),
        "type_integer": ({5}, "Send the whole number"),
        "value_range": ({6}, "above the maximum of 100,000"),
        "future_period": ({7}, "has not started yet"),
        "known_provider": ({8}, "Did you mean RF4?"),
        "suppressed_value": ({9}, "kept as suppressed, not as zero"),
        "duplicate_key": ({11}, "repeats row 10"),
        "conflicting_key": ({12, 13}, "given more than once with different values"),
        "metric_active": ({14}, "is a draft metric"),
    }
    for rule, (rows, words) in expected.items():
        got = by_rule.get(rule, [])
        assert {f["row"] for f in got} == rows, (rule, got)
        assert all(words in f["message"] for f in got), (rule, got)
        assert all(f["file"] == path.name for f in got)
    assert by_rule["known_provider"][0]["column"] == "provider_code"
    assert by_rule["future_period"][0]["column"] == "period"
    assert by_rule["known_metric"][0]["value"] == "ae_attendences_type1"


def test_a_provider_sending_another_providers_rows_is_told_whose_they_are(
    home, catalog_min_dir, tmp_path
) -> None:
    """Who may submit what: the row for RRK is refused when RF4 sends it, in the scope
    family's words; RF4's own row is accepted."""
    path = _write_csv(
        tmp_path / "rf4__scope.csv",
        [
            ["RF4", "2019-01", "ae_attendances_type1", "16428"],
            ["RRK", "2019-01", "ae_attendances_type1", "9000"],
        ],
    )
    receipt = _submit(path, catalog_min_dir, "--as", "RF4")
    (finding,) = receipt["findings"]
    assert (finding["rule"], finding["row"], finding["column"]) == (
        "provider_scope",
        3,
        "provider_code",
    )
    assert finding["message"].startswith("You are submitting as RF4, but this row is for RRK.")
    assert (receipt["rows_accepted"], receipt["rows_rejected"]) == (1, 1)
