"""The CLI: `requests overlap|suggest`, `plan` and `burden`, for people and machines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from collectonce.cli import app

runner = CliRunner()
SHIPPED_RULES = Path(__file__).resolve().parents[3] / "catalog" / "dedupe_rules.yaml"


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_overlap_json_has_rows_and_summary(catalog_min_dir: Path) -> None:
    """It prints one JSON object whose summary shows attendances asked for by three bodies."""
    result = run("requests", "overlap", "--catalog", catalog_min_dir, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["rows"]) == 11
    top = data["summary"][0]
    assert (top["metric"], top["requesters"]) == ("ae_attendances_type1", 3)
    assert data["unmapped_items"] == 1


def test_overlap_table_for_people(catalog_min_dir: Path) -> None:
    """It prints the table and points at `requests suggest` for unmapped items."""
    result = run("requests", "overlap", "--catalog", catalog_min_dir)
    assert result.exit_code == 0
    assert "ae_attendances_type1" in result.stdout
    assert "requests suggest" in result.stdout


def test_suggest_json_proposes_a_mapping(catalog_min_dir: Path, tmp_path: Path) -> None:
    """It suggests ae_attendances_type1 for an unmapped "Type one A&E attendances"."""
    root = tmp_path / "catalog"
    shutil.copytree(catalog_min_dir, root)
    shutil.copy(SHIPPED_RULES, root / "dedupe_rules.yaml")
    path = root / "requests" / "nhse_ae_monthly.yaml"
    path.write_text(
        path.read_text()
        + '  - {their_code: "A4", their_label: Type one A&E attendances, unmapped_reason: New}\n'
    )
    result = run("requests", "suggest", "--catalog", root, "--json", "--min-score", "0.5")
    assert result.exit_code == 0, result.output
    suggestions = json.loads(result.stdout)["suggestions"]
    hit = next(s for s in suggestions if s["their_code"] == "A4")
    assert hit["suggested_metric"] == "ae_attendances_type1"
    assert hit["current_metric"] is None
    table = run("requests", "suggest", "--catalog", root)
    assert table.exit_code == 0 and "A4" in table.stdout and "unmapped" in table.stdout


def test_suggest_says_when_the_catalogue_has_no_dedupe_rules(catalog_min_dir: Path) -> None:
    """It exits 1 with one line naming dedupe_rules.yaml and how to add it."""
    result = run("requests", "suggest", "--catalog", catalog_min_dir)
    assert result.exit_code == 1
    assert "dedupe_rules.yaml" in result.output
    assert "Traceback" not in result.output


def test_suggest_refuses_a_score_above_one(catalog_min_dir: Path) -> None:
    """It exits 2 with a usage error for --min-score 2."""
    result = run("requests", "suggest", "--catalog", catalog_min_dir, "--min-score", "2")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_plan_json_lists_each_metric_once_with_requesters(catalog_min_dir: Path) -> None:
    """It prints the plan for RF4 2019-03 with items holding metric and requesters."""
    result = run(
        "plan", "--provider", "RF4", "--period", "2019-03", "--catalog", catalog_min_dir, "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["provider"], data["period"]) == ("RF4", "2019-03")
    assert {r["request"] for r in data["requests_due"]} == {
        "cqc_uec_quarterly",
        "icb_quality_monthly",
        "nhse_ae_monthly",
    }
    metrics = [i["metric"] for i in data["items"]]
    assert len(metrics) == len(set(metrics)) == 4
    assert "ae_4hr_performance_type1" not in metrics
    for item in data["items"]:
        assert {"metric", "label", "why_collected", "requesters", "requests", "unit", "due"} <= set(
            item
        )
        assert item["requesters"]


def test_plan_writes_both_templates(catalog_min_dir: Path, tmp_path: Path) -> None:
    """It writes the CSV and XLSX templates where asked and says so."""
    csv_path, xlsx_path = tmp_path / "out" / "rf4.csv", tmp_path / "out" / "rf4.xlsx"
    result = run(
        "plan",
        "--provider",
        "RF4",
        "--period",
        "2019-01",
        "--catalog",
        catalog_min_dir,
        "--csv-template",
        csv_path,
        "--xlsx-template",
        xlsx_path,
    )
    assert result.exit_code == 0, result.output
    assert csv_path.read_text().startswith("provider_code,period,metric_id,value,comment")
    assert load_workbook(xlsx_path)["Data"].data_validations.dataValidation
    assert "wrote the xlsx template" in result.stdout


def test_plan_for_people_names_requesters_and_unmapped_items(catalog_min_dir: Path) -> None:
    """It prints the requests served and the items still on their own forms."""
    result = run("plan", "--provider", "RF4", "--period", "2019-03", "--catalog", catalog_min_dir)
    assert result.exit_code == 0
    assert "Commission" in result.stdout
    assert "UEC99" in result.stdout


@pytest.mark.parametrize(
    ("provider", "period", "code", "message"),
    [
        ("ZZZ", "2019-03", 1, "unknown provider"),
        ("RF4", "2019-13", 2, "YYYY-MM"),
        ("RF4", "201903", 2, "YYYY-MM"),
    ],
)
def test_plan_refuses_bad_input_with_one_line(
    catalog_min_dir: Path, provider: str, period: str, code: int, message: str
) -> None:
    """It prints a one-line error, no traceback, and exits 1 (unknown provider) or 2 (period)."""
    result = run("plan", "--provider", provider, "--period", period, "--catalog", catalog_min_dir)
    assert result.exit_code == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_plan_json_error_is_one_json_object(catalog_min_dir: Path) -> None:
    """It prints {"ok": false, "error": ...} on stdout with --json."""
    result = run(
        "plan", "--provider", "ZZZ", "--period", "2019-03", "--catalog", catalog_min_dir, "--json"
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and "ZZZ" in data["error"]


def test_plan_refuses_a_template_it_cannot_write(catalog_min_dir: Path, tmp_path: Path) -> None:
    """It exits 1 with one line when the template path is a folder."""
    result = run(
        "plan",
        "--provider",
        "RF4",
        "--period",
        "2019-03",
        "--catalog",
        catalog_min_dir,
        "--csv-template",
        tmp_path,
    )
    assert result.exit_code == 1
    assert "cannot write" in result.stderr


def test_commands_refuse_a_bad_catalogue(tmp_path: Path) -> None:
    """It exits 1 naming the problem when --catalog is not a catalogue."""
    for args in (
        ("requests", "overlap"),
        ("requests", "suggest"),
        ("plan", "--provider", "RF4", "--period", "2019-03"),
        ("burden",),
    ):
        result = run(*args, "--catalog", tmp_path / "missing")
        assert result.exit_code == 1, args
        assert "not a catalogue folder" in result.stderr
        assert "Traceback" not in result.output


def test_burden_json_and_reports(catalog_min_dir: Path, tmp_path: Path) -> None:
    """It prints hours before and after and writes the Markdown and HTML report to --out."""
    result = run("burden", "--catalog", catalog_min_dir, "--json", "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["hours_after"] < data["hours_before"]
    assert Path(data["reports"]["html"]).exists()
    assert (tmp_path / "r" / "burden.md").exists()


def test_burden_writes_to_the_reports_folder_by_default(catalog_min_dir: Path, settings) -> None:
    """It writes the report under COLLECTONCE_HOME/reports when --out is not given."""
    result = run("burden", "--catalog", catalog_min_dir)
    assert result.exit_code == 0, result.output
    assert (settings.reports_dir / "burden.html").exists()
    assert "49.3%" in result.stdout
