"""Recognising the shape of a submission: canonical wide and the requests' own templates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from collectonce.ingest.readers import ParsedFile, read_submission

SUBMISSIONS = Path(__file__).resolve().parents[2] / "fixtures" / "submissions"
JAN, FEB, MAR = dt.date(2019, 1, 1), dt.date(2019, 2, 1), dt.date(2019, 3, 1)


def read(name: str, catalog, settings) -> ParsedFile:
    return read_submission(SUBMISSIONS / name, catalog, settings)


def facts(parsed: ParsedFile) -> set[tuple]:
    rows = parsed.rows
    return set(
        zip(
            rows.period,
            rows.metric_id,
            rows.value,
            rows.source_row,
            rows.source_column,
            strict=True,
        )
    )


def test_canonical_wide_becomes_long_rows_and_odd_columns_are_warned_once(
    catalog_min, settings
) -> None:
    """It turns one column per metric into long rows; a derived metric's column and an unknown
    column each get one warning (not one per row) and are not stored."""
    parsed = read("rf4__canonical_wide.csv", catalog_min, settings)
    assert parsed.template == "canonical_wide"
    assert parsed.rows_read == 2
    assert len(parsed.rows) == 6
    assert (JAN, "ae_breaches_4hr_type1", 7363.0, 2, "ae_breaches_4hr_type1") in facts(parsed)
    assert "ae_4hr_performance_type1" not in set(parsed.rows.metric_id)
    warnings = {(f.column, f.rule, f.severity, f.row) for f in parsed.findings}
    assert warnings == {
        ("ae_4hr_performance_type1", "metric_derived", "warning", None),
        ("type", "unknown_column", "warning", None),
    }
    derived = next(f for f in parsed.findings if f.rule == "metric_derived")
    assert "computed by collectonce from ae_attendances_type1 and ae_breaches_4hr_type1" in (
        derived.message
    )


def test_a_legacy_wide_return_is_mapped_through_the_catalogue(catalog_min, settings) -> None:
    """It reads NHS England's own A&E template (Org Code, Period, A1, A2, A3) as the catalogue's
    metrics, ignoring the organisation name silently."""
    parsed = read("rf4__nhse_ae_monthly_wide.csv", catalog_min, settings)
    assert parsed.template == "nhse_ae_monthly"
    assert parsed.findings == []
    assert len(parsed.rows) == 9
    assert (MAR, "ae_emergency_admissions", 4703.0, 4, "A3") in facts(parsed)
    assert (JAN, "ae_attendances_type1", 16428.0, 2, "A1") in facts(parsed)


def test_a_legacy_long_return_stores_single_metric_items_and_warns_on_combined_ones(
    catalog_min, settings
) -> None:
    """It maps item codes in a long legacy return (org, period, item_code, value): an item of
    two metrics cannot be split, so it is warned about, not stored, and not an error."""
    parsed = read("rf4__icb_quality_monthly_long.csv", catalog_min, settings)
    assert parsed.template == "icb_quality_monthly"
    assert set(zip(parsed.rows.metric_id, parsed.rows.value, strict=True)) == {
        ("ae_attendances_type1", 16428.0),
        ("staff_sickness_absence_rate", 4.2),
    }
    (finding,) = parsed.findings
    assert (finding.row, finding.rule, finding.severity) == (3, "item_not_stored", "warning")
    assert "QS2" in finding.message and "cannot be split" in finding.message
    assert parsed.error_rows == []


def test_quarter_totals_for_monthly_metrics_are_refused_with_a_way_forward(
    catalog_min, settings
) -> None:
    """It refuses CQC's quarterly totals of monthly metrics (asking for the monthly values),
    warns that a computed percentage is not stored, and ignores a free-text item."""
    parsed = read("rf4__cqc_uec_quarterly_quarter_totals.csv", catalog_min, settings)
    assert parsed.template == "cqc_uec_quarterly"
    assert parsed.rows.empty
    rules = {f.row: (f.rule, f.severity) for f in parsed.findings}
    assert rules == {
        2: ("period_grain", "error"),
        3: ("period_grain", "error"),
        4: ("metric_derived", "warning"),
        5: ("period_grain", "error"),
        6: ("item_not_stored", "warning"),
    }
    grain = next(f for f in parsed.findings if f.row == 2)
    assert grain.metric == "ae_attendances_type1"
    assert "submit the monthly values" in grain.message
    assert "UEC01" in grain.message
    assert "is computed by collectonce" in next(f.message for f in parsed.findings if f.row == 4)
    assert parsed.error_rows == [2, 3, 5]


def test_monthly_values_in_a_quarterly_template_are_accepted(catalog_min, settings) -> None:
    """It accepts a quarterly request's template when the periods are months, because then each
    value is the month's own figure."""
    parsed = read("rf4__cqc_uec_quarterly_monthly_values.csv", catalog_min, settings)
    assert parsed.template == "cqc_uec_quarterly"
    assert (FEB, "ae_breaches_4hr_type1", 6140.0, 3, "UEC02") in facts(parsed)
    assert len(parsed.rows) == 4
    assert [f.rule for f in parsed.findings] == ["metric_derived"]


def test_the_raw_published_ae_layout_is_not_recognised(catalog_min, settings) -> None:
    """It rejects a file whose value columns are neither metric codes nor item codes, naming
    the columns it could not place."""
    parsed = read("ae_attendances_raw_layout.csv", catalog_min, settings)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "file_unrecognised"
    assert "'attendances'" in parsed.file_error.message
    assert "provider and period columns were found" in parsed.file_error.message
    assert parsed.rows.empty


def test_a_file_without_a_provider_column_is_refused(catalog_min, settings) -> None:
    """It rejects a file with no provider code column, saying which header to add."""
    parsed = read("rf4__missing_provider_column.csv", catalog_min, settings)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "required_column"
    assert "provider_code" in parsed.file_error.message


def test_the_shipped_catalogue_templates_are_recognised(
    shipped_catalog, settings, tmp_path: Path
) -> None:
    """It recognises a real request's template from the shipped catalogue by its item codes."""
    request = shipped_catalog.requests["nhse_ae_monthly"]
    codes = [i.their_code for i in request.items if i.is_mapped and len(i.metric_codes) == 1]
    path = tmp_path / "rf4__nhse_ae_monthly_shipped.csv"
    path.write_text(
        "Org Code,Period," + ",".join(codes) + "\n" + "RF4,2019-01," + ",".join("1" * len(codes))
    )
    parsed = read_submission(path, shipped_catalog, settings)
    assert parsed.file_error is None
    assert parsed.template == "nhse_ae_monthly"
    assert "ae_attendances_type1" in set(parsed.rows.metric_id)


def test_a_bad_period_in_a_wide_row_is_reported_once(catalog_min, settings, tmp_path: Path) -> None:
    """It reports an unreadable period once for the row, not once per metric column, and
    rejects every value of that row."""
    path = tmp_path / "rf4__wide_bad_period.csv"
    path.write_text("Org Code,Period,A1,A2,A3\nRF4,January,16428,7363,4607\nRF4,2019-02,1,2,3\n")
    parsed = read_submission(path, catalog_min, settings)
    assert [(f.row, f.rule, f.column) for f in parsed.findings] == [(2, "type_period", "Period")]
    assert parsed.error_rows == [2]
    assert set(parsed.rows.source_row) == {3}
