"""Collection templates: the canonical CSV and the XLSX with dropdowns and ranges."""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import load_workbook

from collectonce.burden.plan import collection_plan
from collectonce.burden.templates import write_csv_template, write_xlsx_template


def test_csv_template_prefills_keys_and_leaves_values_blank(catalog_min, tmp_path: Path) -> None:
    """It writes provider_code, period, metric_id, value, comment with one row per metric."""
    plan = collection_plan(catalog_min, "RF4", "2019-03")
    path = write_csv_template(plan, tmp_path / "sub" / "rf4.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["provider_code", "period", "metric_id", "value", "comment"]
    assert sorted(r["metric_id"] for r in rows) == sorted(i.metric.code for i in plan.items)
    assert {r["provider_code"] for r in rows} == {"RF4"}
    assert {r["period"] for r in rows} == {"2019-03"}
    assert all(r["value"] == "" and r["comment"] == "" for r in rows)
    assert "ae_4hr_performance_type1" not in {r["metric_id"] for r in rows}


def test_csv_template_has_a_row_per_month_owed(catalog_min, tmp_path: Path) -> None:
    """It gives RQM three sickness-absence rows in March, one per month of the quarter."""
    path = write_csv_template(collection_plan(catalog_min, "RQM", "2019-03"), tmp_path / "t.csv")
    with path.open(newline="") as handle:
        rows = [
            r for r in csv.DictReader(handle) if r["metric_id"] == "staff_sickness_absence_rate"
        ]
    assert [r["period"] for r in rows] == ["2019-01", "2019-02", "2019-03"]


def test_xlsx_template_has_ranges_dropdowns_and_why_collected(catalog_min, tmp_path: Path) -> None:
    """It writes a workbook whose value cells check the metric's range and say why it is needed."""
    plan = collection_plan(catalog_min, "RF4", "2019-03")
    path = write_xlsx_template(plan, tmp_path / "rf4.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["Data", "Metrics", "README"]
    data = wb["Data"]
    rows = list(data.iter_rows(values_only=True))
    assert rows[0] == ("provider_code", "period", "metric_id", "value", "comment")
    by_metric = {r[2]: i + 1 for i, r in enumerate(rows) if i > 0}
    assert all(r[0] == "RF4" and r[1] == "2019-03" and r[3] is None for r in rows[1:])

    checks = data.data_validations.dataValidation

    def check_for(cell: str):
        return next(dv for dv in checks if cell in dv.sqref and dv.type != "list")

    attendances = check_for(f"D{by_metric['ae_attendances_type1']}")
    # "between" is the schema's default operator, so a writer may leave it out.
    assert (attendances.type, attendances.operator or "between") == ("whole", "between")
    assert (attendances.formula1, attendances.formula2) == ("0", "100000")
    assert "denominator of the 4-hour standard" in attendances.prompt
    assert attendances.showInputMessage

    sickness = check_for(f"D{by_metric['staff_sickness_absence_rate']}")
    assert (sickness.type, sickness.formula1, sickness.formula2) == ("decimal", "0", "100")

    breaches = check_for(f"D{by_metric['ae_breaches_4hr_type1']}")
    assert (breaches.operator, breaches.formula1) == ("greaterThanOrEqual", "0")

    dropdown = next(dv for dv in checks if dv.type == "list")
    # The file format stores a formula without its leading "=" (Excel shows it with one).
    assert dropdown.formula1.removeprefix("=") == "Metrics!$A$2:$A$5"
    assert f"C{by_metric['ae_attendances_type1']}" in dropdown.sqref

    metrics = list(wb["Metrics"].iter_rows(values_only=True))
    assert metrics[0][:4] == ("metric_id", "label", "definition", "why_collected")
    assert {m[0] for m in metrics[1:]} == set(by_metric)
    readme = " ".join(str(r[0]) for r in wb["README"].iter_rows(values_only=True) if r[0])
    assert "Care Quality Commission" in readme and "Type * " in readme


def test_xlsx_template_checks_warn_so_suppression_can_be_typed(catalog_min, tmp_path: Path) -> None:
    """It uses warning-style checks so a provider can still enter * for a suppressed figure."""
    path = write_xlsx_template(collection_plan(catalog_min, "RF4", "2019-01"), tmp_path / "t.xlsx")
    checks = load_workbook(path)["Data"].data_validations.dataValidation
    assert {dv.errorStyle for dv in checks if dv.type != "list"} == {"warning"}


def test_filled_templates_are_read_back_without_findings(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It produces templates the submission reader accepts: every row read, no findings."""
    from collectonce.ingest.readers import read_submission

    plan = collection_plan(catalog_min, "RQM", "2019-03")
    blank = write_csv_template(plan, tmp_path / "blank.csv")
    with blank.open(newline="") as handle:
        rows = [{**row, "value": "12"} for row in csv.DictReader(handle)]
    filled = tmp_path / "rqm_2019_03.csv"
    with filled.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    parsed = read_submission(filled, catalog_min, settings)
    assert parsed.file_error is None
    assert parsed.findings == []
    assert parsed.rows_read == len(parsed.rows) == len(plan.template_rows()) == 6
    assert set(parsed.rows["value_status"]) == {"reported"}

    workbook = read_submission(
        write_xlsx_template(plan, tmp_path / "t.xlsx"), catalog_min, settings
    )
    assert workbook.file_error is None
    assert workbook.rows_read == 6
    assert set(workbook.rows["metric_id"]) == {i.metric.code for i in plan.items}
