"""Reading NHS England's published monthly A&E file (one row per organisation and month)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ingest_helpers import RF4_JANUARY_2019

from collectonce.ingest.readers import ParsedFile, iter_submission_batches, read_submission

SUBMISSIONS = Path(__file__).resolve().parents[2] / "fixtures" / "submissions"
PUBLISHED = "nhse_ae_published_monthly"
DEC, JAN = dt.date(2018, 12, 1), dt.date(2019, 1, 1)
FEB, MAR = dt.date(2019, 2, 1), dt.date(2019, 3, 1)
CURRENT_HEADER = (
    "Period,Org Code,Parent Org,Org name,A&E attendances Type 1,A&E attendances Type 2,"
    "A&E attendances Other A&E Department,A&E attendances Booked Appointments Type 1,"
    "A&E attendances Booked Appointments Type 2,A&E attendances Booked Appointments Other "
    "Department,Attendances over 4hrs Type 1,Attendances over 4hrs Type 2,Attendances over 4hrs "
    "Other Department,Attendances over 4hrs Booked Appointments Type 1,Attendances over 4hrs "
    "Booked Appointments Type 2,Attendances over 4hrs Booked Appointments Other Department,"
    "Patients who have waited 4-12 hs from DTA to admission,Patients who have waited 12+ hrs "
    "from DTA to admission,Emergency admissions via A&E - Type 1,Emergency admissions via A&E - "
    "Type 2,Emergency admissions via A&E - Other A&E department,Other emergency admissions"
)


def read(name: str, catalog, settings) -> ParsedFile:
    return read_submission(SUBMISSIONS / name, catalog, settings)


def values(parsed: ParsedFile) -> dict[tuple[dt.date, str], tuple[float | None, str]]:
    rows = parsed.rows
    return {
        (period, metric): (None if value != value else value, status)
        for period, metric, value, status in zip(
            rows.period, rows.metric_id, rows.value, rows.value_status, strict=True
        )
    }


def test_the_published_file_of_january_2019_gives_the_catalogue_metrics(shipped_catalog, settings):
    """It reads RF4's row of the January 2019 file (the "Number of ..." headings of the time) as
    the catalogue's metrics, adds the admissions of every department type up, turns the period
    MSitAE-JANUARY-2019 into 2019-01 and skips the total row with a warning."""
    parsed = read("rf4__nhse_published_monthly_ae.csv", shipped_catalog, settings)
    assert parsed.file_error is None
    assert parsed.template == PUBLISHED
    assert parsed.rows_read == 2 and parsed.error_rows == []
    got = values(parsed)
    for metric, figure in RF4_JANUARY_2019.items():
        assert got[(JAN, metric)] == (figure, "reported")
    # The file's blank cells are blank figures, not zeros.
    for metric in ("ae_dta_waits_over_4hr", "ae_dta_waits_over_12hr"):
        assert got[(JAN, metric)] == (None, "missing")
    assert got[(JAN, "emergency_admissions_not_via_ae")] == (None, "missing")
    assert set(parsed.rows.provider_code) == {"RF4"}
    assert set(parsed.rows.source_row) == {2}
    admissions = parsed.rows[parsed.rows.metric_id == "ae_emergency_admissions"]
    assert admissions.source_column.iloc[0] == (
        "Emergency admissions via A&E - Type 1 + Emergency admissions via A&E - Type 2 + "
        "Emergency admissions via A&E - Other A&E department"
    )
    [total] = parsed.findings
    assert (total.row, total.rule, total.severity, total.value) == (
        3,
        "item_not_stored",
        "warning",
        "TOTAL",
    )
    assert "total row" in total.message


def test_the_current_headings_under_a_title_block_give_the_same_facts(shipped_catalog, settings):
    """It finds the current headings (booked appointments included) below a workbook's title
    block and reads the same facts as from the older headings; a total row named only in the
    organisation name column is skipped too."""
    older = read("rf4__nhse_published_monthly_ae.csv", shipped_catalog, settings)
    parsed = read(
        "rf4__nhse_published_monthly_ae_current_headings_title_block.xlsx",
        shipped_catalog,
        settings,
    )
    assert (parsed.format, parsed.template, parsed.rows_read) == ("xlsx", PUBLISHED, 2)
    assert values(parsed) == values(older)
    assert set(parsed.rows.source_row) == {6}
    [total] = parsed.findings
    assert (total.row, total.column, total.value) == (7, "Org name", "Total")


def test_booked_appointments_and_waits_from_decision_to_admit_are_added_up(
    shipped_catalog, settings, tmp_path
):
    """It counts booked appointments as attendances of their department (and their waits over 4
    hours as breaches), counts every wait over 4 hours from decision to admit (the 4-12 hour and
    12+ hour columns added up) and the 12+ hour column alone as waits over 12 hours; headings
    match whatever their case and spacing, and a suppressed part makes its sum suppressed."""
    header = CURRENT_HEADER.replace("A&E attendances Type 1", "  a&e ATTENDANCES  type 1 ")
    header = header.replace("Attendances over 4hrs Type 2,", "attendances_over_4_hrs_type_2,")
    figures = "1000,50,400,100,10,*,300,5,2,40,1,0,70,6,250,3,1,20"
    path = tmp_path / "rf4__booked_appointments.csv"
    path.write_text(f"{header}\nMSitAE-MARCH-2021,RF4,NHS ENGLAND LONDON,RF4 TRUST,{figures}\n")
    parsed = read_submission(path, shipped_catalog, settings)
    assert parsed.findings == [] and parsed.error_rows == []
    march = dt.date(2021, 3, 1)
    got = values(parsed)
    assert got[(march, "ae_attendances_type1")] == (1100.0, "reported")
    assert got[(march, "ae_attendances_type2")] == (60.0, "reported")
    assert got[(march, "ae_attendances_other")] == (None, "suppressed")
    assert got[(march, "ae_breaches_4hr_type1")] == (340.0, "reported")
    assert got[(march, "ae_breaches_4hr_type2")] == (6.0, "reported")
    assert got[(march, "ae_breaches_4hr_other")] == (2.0, "reported")
    assert got[(march, "ae_dta_waits_over_4hr")] == (76.0, "reported")
    assert got[(march, "ae_dta_waits_over_12hr")] == (6.0, "reported")
    assert got[(march, "ae_emergency_admissions")] == (254.0, "reported")
    assert got[(march, "emergency_admissions_not_via_ae")] == (20.0, "reported")


def test_the_workbook_wording_of_waits_over_4_hours_is_taken_as_it_is(
    shipped_catalog, settings, tmp_path
):
    """It takes "Number of patients spending >4 hours from decision to admit to admission" as
    every wait over 4 hours (those over 12 hours included), without adding the 12-hour column."""
    path = tmp_path / "rf4__dta_workbook_wording.csv"
    path.write_text(
        "Period,Org Code,A&E attendances Type 1,Attendances over 4hrs Type 1,"
        "Number of patients spending >4 hours from decision to admit to admission,"
        "Number of patients spending >12 hours from decision to admit to admission\n"
        "MSitAE-JANUARY-2019,RF4,16428,7363,120,9\n"
    )
    parsed = read_submission(path, shipped_catalog, settings)
    assert parsed.template == PUBLISHED and parsed.findings == []
    got = values(parsed)
    assert got[(JAN, "ae_dta_waits_over_4hr")] == (120.0, "reported")
    assert got[(JAN, "ae_dta_waits_over_12hr")] == (9.0, "reported")
    assert got[(JAN, "ae_attendances_type1")] == (16428.0, "reported")


def test_a_sum_missing_one_of_its_columns_is_not_stored(shipped_catalog, settings, tmp_path):
    """It does not store emergency admissions via A&E when a department type's column is
    missing (the sum would be short), and says which column to add; a column the layout does not
    know is ignored with a warning."""
    path = tmp_path / "rf4__no_type2_admissions.csv"
    path.write_text(
        "Period,Org Code,A&E attendances Type 1,Attendances over 4hrs Type 1,"
        "Emergency admissions via A&E - Type 1,Emergency admissions via A&E - Other A&E "
        "department,Ambulance handovers\n"
        "MSitAE-JANUARY-2019,RF4,16428,7363,4607,0,12\n"
    )
    parsed = read_submission(path, shipped_catalog, settings)
    assert set(parsed.rows.metric_id) == {"ae_attendances_type1", "ae_breaches_4hr_type1"}
    by_rule = {f.rule: f for f in parsed.findings}
    assert set(by_rule) == {"item_not_stored", "unknown_column"}
    short = by_rule["item_not_stored"]
    assert short.metric == "ae_emergency_admissions" and short.row is None
    assert "'Emergency admissions via A&E - Type 2'" in short.message
    assert by_rule["unknown_column"].column == "Ambulance handovers"


def test_figures_a_catalogue_does_not_collect_are_ignored_once(catalog_min, settings):
    """It stores what a smaller catalogue collects and says once per metric that the other
    columns' figures were ignored."""
    parsed = read("rf4__nhse_published_monthly_ae.csv", catalog_min, settings)
    assert set(parsed.rows.metric_id) == {
        "ae_attendances_type1",
        "ae_breaches_4hr_type1",
        "ae_emergency_admissions",
    }
    # that catalogue's layout file makes no metric of the other columns: one warning each,
    # naming the column
    ignored = sorted(f.column for f in parsed.findings if f.row is None)
    assert ignored == sorted(
        [
            "Number of A&E attendances Type 2",
            "Number of A&E attendances Other A&E Department",
            "Number of attendances over 4hrs Type 2",
            "Number of attendances over 4hrs Other A&E Department",
            "Other emergency admissions",
            "Patients who have waited 4-12 hs from DTA to admission",
            "Patients who have waited 12+ hrs from DTA to admission",
        ]
    )
    assert all(f.metric is None for f in parsed.findings)
    assert {f.rule for f in parsed.findings} == {"item_not_stored"}


def test_bad_cells_are_explained_row_by_row_and_every_row_is_counted(shipped_catalog, settings):
    """It rejects a row with an unreadable figure, one with an unreadable period and one with a
    cell too many, each with its own finding, reads the good months, and keeps each rejected row
    as it was sent."""
    name = "rf4__nhse_published_monthly_ae_broken_cells.csv"
    parsed = read(name, shipped_catalog, settings)
    assert parsed.rows_read == 5
    assert parsed.error_rows == [3, 4, 5]
    errors = {(f.row, f.rule, f.column) for f in parsed.findings if f.severity == "error"}
    assert errors == {
        (3, "type_number", "A&E attendances Type 1"),
        (4, "type_period", "Period"),
        (5, "row_shape", None),
    }
    assert len(parsed.findings) == 3
    got = values(parsed)
    assert got[(DEC, "ae_attendances_type1")] == (16040.0, "reported")
    assert got[(MAR, "ae_breaches_4hr_type2")] == (21.0, "reported")
    assert (FEB, "ae_attendances_type1") not in got
    assert all(period != JAN for period, _metric in got)
    [batch] = list(iter_submission_batches(SUBMISSIONS / name, shipped_catalog, settings))
    rejected = batch.rejected.to_pydict()
    sent = dict(zip(rejected["source_row"], rejected["sent"], strict=True))
    assert sorted(sent) == [3, 4, 5]
    lines = (SUBMISSIONS / name).read_text().splitlines()
    assert [sent[row] for row in (3, 4, 5)] == [lines[2], lines[3], lines[4]]
