"""Reading Excel workbooks, and refusing the dangerous ones before opening them."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest

from collectonce.ingest.readers import iter_canonical_csv_batches, read_submission

JAN, FEB = dt.date(2019, 1, 1), dt.date(2019, 2, 1)


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_it_reads_the_first_sheet_that_holds_data_with_sheet_row_numbers(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It skips an empty first sheet and a title block, reads Excel date cells and serial
    numbers as periods, and numbers rows as the sheet does."""
    path = _workbook(
        tmp_path / "rf4__nhse_ae_monthly.xlsx",
        {
            "Blank": [],
            "Return": [
                ["A&E monthly return: Barking Havering and Redbridge"],
                [],
                ["Org Code", "Period", "A1", "A2", "A3"],
                ["RF4", dt.datetime(2019, 1, 1), 16428, 7363, 4607],
                ["RF4", 43497, 14569, "*", None],
            ],
        },
    )
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is None
    assert (parsed.format, parsed.sheet, parsed.template) == ("xlsx", "Return", "nhse_ae_monthly")
    assert parsed.rows_read == 2
    got = {(r.period, r.metric_id, r.value_status, r.source_row) for r in parsed.rows.itertuples()}
    assert (JAN, "ae_attendances_type1", "reported", 4) in got
    assert (FEB, "ae_breaches_4hr_type1", "suppressed", 5) in got
    assert (FEB, "ae_emergency_admissions", "missing", 5) in got


def test_a_notes_sheet_before_the_data_is_passed_over(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It prefers the first sheet with a recognisable header over a guidance sheet before it."""
    path = _workbook(
        tmp_path / "rf4__guidance_first.xlsx",
        {
            "Guidance": [["Complete the Data sheet"], ["Values in whole numbers"]],
            "Data": [
                ["provider_code", "period", "metric_id", "value"],
                ["RF4", "2019-01", "ae_attendances_type1", 16428],
            ],
        },
    )
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.sheet == "Data"
    assert parsed.rows.value.tolist() == [16428]


def test_percent_formatted_cells_are_read_as_shown(catalog_min, settings, tmp_path: Path) -> None:
    """It reads a cell holding 0.042 formatted as 4.2% as 4.2 for a percent metric."""
    path = _workbook(
        tmp_path / "rf4__percent_cells.xlsx",
        {
            "Data": [
                ["provider_code", "period", "metric_id", "value"],
                ["RF4", "2019-01", "staff_sickness_absence_rate", 0.042],
            ]
        },
    )
    book = openpyxl.load_workbook(path)
    book["Data"]["D2"].number_format = "0.0%"
    book.save(path)
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.rows.value.tolist() == [pytest.approx(4.2)]


def test_formula_text_in_a_workbook_comment_is_kept_as_text(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It keeps text that looks like a formula in the comment column, verbatim."""
    path = _workbook(
        tmp_path / "rf4__formula_comment.xlsx",
        {
            "Data": [
                ["provider_code", "period", "metric_id", "value", "comment"],
                ["RF4", "2019-01", "ae_attendances_type1", 16428, "@SUM(A1:A9)"],
            ]
        },
    )
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.rows.comment.tolist() == ["@SUM(A1:A9)"]


def test_an_all_empty_workbook_is_refused(catalog_min, settings, tmp_path: Path) -> None:
    """It rejects a workbook whose sheets are all empty."""
    path = _workbook(tmp_path / "rf4__empty_sheets.xlsx", {"Sheet1": [], "Sheet2": []})
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is not None and parsed.file_error.rule == "file_empty"


def test_a_macro_enabled_workbook_is_refused(catalog_min, settings, tmp_path: Path) -> None:
    """It rejects .xlsm files, and any workbook carrying a vbaProject.bin, without opening
    them."""
    path = _workbook(
        tmp_path / "rf4__return.xlsx",
        {"Data": [["provider_code", "period", "metric_id", "value"]]},
    )
    named = read_submission(path, catalog_min, settings, original_name="rf4__return.xlsm")
    assert named.file_error is not None
    assert named.file_error.rule == "workbook_macro_enabled"
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"\x00macro")
    hidden = read_submission(path, catalog_min, settings)
    assert hidden.file_error is not None
    assert hidden.file_error.rule == "workbook_macro_enabled"
    assert ".xlsx" in hidden.file_error.message


def test_an_encrypted_workbook_is_refused(catalog_min, settings, tmp_path: Path) -> None:
    """It rejects a password-protected workbook (an OLE2 container), asking for the password to
    be removed."""
    path = tmp_path / "rf4__password.xlsx"
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    path.write_bytes(header + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 1024)
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "workbook_encrypted"
    assert "password" in parsed.file_error.message


def test_a_zip_bomb_named_xlsx_is_refused_without_expanding_it(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It rejects a workbook whose members would expand past max_uncompressed_bytes, reading
    only the zip's directory."""
    path = tmp_path / "rf4__zip_bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (64 * 1024 * 1024))
    assert path.stat().st_size < 200_000
    small = settings.model_copy(update={"max_uncompressed_bytes": 16 * 1024 * 1024})
    parsed = read_submission(path, catalog_min, small)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "workbook_too_large_uncompressed"
    assert "64.0 MB" in parsed.file_error.message
    ratio = read_submission(path, catalog_min, settings)
    assert ratio.file_error is not None
    assert ratio.file_error.rule == "workbook_too_large_uncompressed"
    assert "zip bomb" in ratio.file_error.message


def test_a_damaged_workbook_is_unreadable_not_a_crash(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It reports a truncated workbook as unreadable, with how to fix it."""
    good = _workbook(tmp_path / "good.xlsx", {"Data": [["provider_code"]]})
    path = tmp_path / "rf4__truncated.xlsx"
    path.write_bytes(good.read_bytes()[:300])
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "file_unreadable"
    assert "save it again" in parsed.file_error.message


def test_a_long_sheet_streams_in_batches_with_sheet_row_numbers(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It streams a sheet in batches, keeping each row's sheet row number."""
    rows = [["provider_code", "period", "metric_id", "value"]]
    rows += [["RF4", f"2019-{m:02d}", "ae_attendances_type1", 16000 + m] for m in range(1, 13)]
    path = _workbook(tmp_path / "rf4__year.xlsx", {"Data": rows})
    batches = list(iter_canonical_csv_batches(path, catalog_min, settings, batch_rows=5))
    assert [b.rows_read for b in batches] == [5, 5, 2]
    got = [r for b in batches for r in b.table.column("source_row").to_pylist()]
    assert got == list(range(2, 14))
