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


def test_the_published_ae_layout_by_department_type_is_read(shipped_catalog, settings) -> None:
    """It reads NHS England's A&E layout (one row per department type) under its own column
    names: attendances and breaches per type, admissions added up over every type."""
    parsed = read("ae_attendances_raw_layout.csv", shipped_catalog, settings)
    assert parsed.file_error is None
    assert parsed.template == "nhse_ae_by_department_type"
    assert parsed.rows_read == 3 and parsed.error_rows == [] and parsed.findings == []
    march = dt.date(2017, 3, 1)
    assert facts(parsed) == {
        (march, "ae_attendances_type1", 21289.0, 2, "attendances"),
        (march, "ae_breaches_4hr_type1", 2879.0, 2, "breaches"),
        (march, "ae_emergency_admissions", 5060.0, 2, "admissions"),
        (march, "ae_attendances_type2", 813.0, 3, "attendances"),
        (march, "ae_breaches_4hr_type2", 22.0, 3, "breaches"),
        (march, "ae_attendances_other", 2850.0, 4, "attendances"),
        (march, "ae_breaches_4hr_other", 6.0, 4, "breaches"),
    }


def test_the_ae_layout_is_found_under_a_title_in_any_column_order(shipped_catalog, settings):
    """It finds the A&E layout's header below a title block, with other case and order, reads
    Type 1..4 and adds types 3 and 4 up as "other"."""
    parsed = read("rf4__ae_by_type_title_rows_reordered.csv", shipped_catalog, settings)
    assert parsed.template == "nhse_ae_by_department_type"
    assert parsed.rows_read == 4 and parsed.findings == []
    values = {
        m: (v, r)
        for m, v, r in zip(
            parsed.rows.metric_id, parsed.rows.value, parsed.rows.source_row, strict=True
        )
    }
    assert values["ae_attendances_type1"] == (21289.0, 5)
    assert values["ae_attendances_other"] == (2850.0, 7)
    assert values["ae_breaches_4hr_other"] == (6.0, 7)
    assert values["ae_emergency_admissions"] == (5060.0, 5)
    assert set(parsed.rows.provider_code) == {"RF4"}


def test_the_ae_layout_ignores_types_a_catalogue_does_not_collect(catalog_min, settings):
    """It stores what the catalogue collects (type 1 and admissions) and says once per column
    that the other department types' figures were ignored."""
    parsed = read("rf4__ae_by_type_title_rows_reordered.csv", catalog_min, settings)
    assert set(parsed.rows.metric_id) == {
        "ae_attendances_type1",
        "ae_breaches_4hr_type1",
        "ae_emergency_admissions",
    }
    assert {(f.rule, f.severity, f.row) for f in parsed.findings} == {
        ("item_not_stored", "warning", None)
    }
    # that catalogue's layout file maps type 2 and other departments' attendances and breaches
    # to no metric: one warning for each, naming the column and the department type
    said = sorted((f.column, f.message.split(" are ")[0]) for f in parsed.findings)
    assert said == [
        ("Attendances", "Attendances of department type 2"),
        ("Attendances", "Attendances of department type other"),
        ("Breaches", "Breaches of department type 2"),
        ("Breaches", "Breaches of department type other"),
    ]
    assert all("layouts/nhse_ae_by_department_type.yaml" in f.message for f in parsed.findings)


def test_broken_rows_of_the_ae_layout_are_explained_row_by_row(shipped_catalog, settings):
    """It rejects an unknown department type, an unreadable figure and two copies of one row
    with different figures; it counts an identical copy once, skips a total row, and does not
    store a sum that would miss a rejected row."""
    parsed = read("rf4__ae_by_type_broken_rows.csv", shipped_catalog, settings)
    assert parsed.rows_read == 11
    assert parsed.error_rows == [3, 8, 10, 11]
    rules = {(f.row, f.rule, f.severity) for f in parsed.findings}
    assert rules == {
        (3, "type_number", "error"),
        (8, "department_type", "error"),
        (10, "conflicting_key", "error"),
        (11, "conflicting_key", "error"),
        (5, "duplicate_key", "warning"),
        (9, "item_not_stored", "warning"),
        (2, "item_not_stored", "warning"),
    }
    unknown = next(f for f in parsed.findings if f.rule == "department_type")
    assert "'5' is not an A&E department type" in unknown.message
    assert "1 (major A&E), 2 (single specialty), 3 or 4, or other" in unknown.message
    blocked = next(f for f in parsed.findings if f.row == 2)
    assert blocked.metric == "ae_emergency_admissions"
    assert "row 3 was rejected, so the total was not stored" in blocked.message
    rows = parsed.rows.set_index(["period", "provider_code", "metric_id"])
    april = dt.date(2017, 4, 1)
    assert rows.loc[(april, "RF4", "ae_emergency_admissions"), "value"] == 5001.0
    assert rows.loc[(april, "RF4", "ae_breaches_4hr_type1"), "value_status"] == "suppressed"
    assert rows.loc[(april, "RF4", "ae_breaches_4hr_type2"), "value_status"] == "missing"
    march = dt.date(2017, 3, 1)
    assert rows.loc[(march, "RF4", "ae_attendances_other"), "value"] == 2850.0
    assert (march, "RF4", "ae_emergency_admissions") not in rows.index
    assert (dt.date(2017, 5, 1), "RF4", "ae_attendances_type1") not in rows.index


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
