"""Whole files that cannot be used are refused with a clear reason, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collectonce.ingest.readers import iter_canonical_csv_batches, read_submission

SUBMISSIONS = Path(__file__).resolve().parents[2] / "fixtures" / "submissions"


@pytest.mark.parametrize(
    ("name", "rule", "words"),
    [
        ("rf4__empty.csv", "file_empty", "empty"),
        ("rf4__header_only.csv", "file_empty", "no data rows"),
        ("rf4__pdf_saved_as_csv.csv", "binary_file", "PDF"),
        ("rf4__unrecognised_columns.csv", "file_unrecognised", "metric code"),
    ],
)
def test_unusable_fixture_files_are_refused(
    catalog_min, settings, name: str, rule: str, words: str
) -> None:
    """It refuses an empty file, a header with no rows, a PDF and an unrecognised layout with
    a whole-file error and no rows."""
    parsed = read_submission(SUBMISSIONS / name, catalog_min, settings)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == rule
    assert parsed.file_error.severity == "error"
    assert words in parsed.file_error.message
    assert parsed.file_error.file == name
    assert parsed.rows.empty


def test_a_refused_layout_still_counts_its_rows(catalog_min, settings) -> None:
    """It counts the data rows of a file whose columns it cannot place, as a person would
    (blank lines left out, a short row included), so the receipt accounts for every row."""
    parsed = read_submission(SUBMISSIONS / "rf4__unrecognised_columns.csv", catalog_min, settings)
    assert parsed.file_error is not None
    assert "'attendances_total', 'waits'" in parsed.file_error.message
    assert parsed.rows_read == 3


def test_random_bytes_are_refused_as_binary(catalog_min, settings, tmp_path: Path) -> None:
    """It refuses random binary content named .csv."""
    path = tmp_path / "rf4__random.csv"
    path.write_bytes(os.urandom(20_000))
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "binary_file"


def test_many_nul_bytes_make_a_file_binary(catalog_min, settings, tmp_path: Path) -> None:
    """It refuses a text file riddled with NUL bytes (a damaged export) as binary."""
    path = tmp_path / "rf4__nul_riddled.csv"
    row = "RF4,2019-01,ae_attendances_type1,16428\n"
    path.write_bytes(b"provider_code,period,metric_id,value\n" + ("\x00".join(row)).encode() * 50)
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "binary_file"
    assert "NUL" in parsed.file_error.message or "binary" in parsed.file_error.message


def test_a_file_over_the_size_limit_is_refused_before_reading(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It refuses a file larger than max_upload_bytes by its size alone."""
    tiny = settings.model_copy(update={"max_upload_bytes": 100})
    parsed = read_submission(SUBMISSIONS / "rf4__canonical_long.csv", catalog_min, tiny)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "file_too_large"
    assert "over the 100 bytes limit" in parsed.file_error.message


def test_a_missing_file_is_unreadable(catalog_min, settings, tmp_path: Path) -> None:
    """It reports a file that does not exist as unreadable rather than raising."""
    parsed = read_submission(tmp_path / "gone.csv", catalog_min, settings)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "file_unreadable"


def test_the_original_name_is_used_without_its_folders(catalog_min, settings) -> None:
    """It names the file in findings by its original base name, never a path."""
    parsed = read_submission(
        SUBMISSIONS / "rf4__header_only.csv",
        catalog_min,
        settings,
        original_name="..\\..\\returns/RF4 March.csv",
    )
    assert parsed.file_error is not None
    assert parsed.file_error.file == "RF4 March.csv"


def test_streaming_a_refused_file_gives_one_batch_with_the_error(catalog_min, settings) -> None:
    """It yields a single batch carrying the whole-file error when streaming a bad file."""
    batches = list(
        iter_canonical_csv_batches(SUBMISSIONS / "rf4__header_only.csv", catalog_min, settings)
    )
    assert len(batches) == 1
    assert batches[0].file_error is not None
    assert batches[0].file_error.rule == "file_empty"
    assert batches[0].table.num_rows == 0


def test_deeply_nested_json_is_unreadable(catalog_min, settings, tmp_path: Path) -> None:
    """It refuses JSON nested too deeply to be a table instead of overflowing the stack."""
    path = tmp_path / "rf4__nested.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "file_unreadable"


def test_csv_text_saved_under_a_workbook_name_is_read_as_csv(catalog_min, settings) -> None:
    """It reads CSV text named .xlsx as the CSV it is, with a warning about the name."""
    parsed = read_submission(SUBMISSIONS / "rf4__csv_text_named_xlsx.xlsx", catalog_min, settings)
    assert parsed.file_error is None and parsed.format == "csv"
    assert parsed.rows.value.tolist() == [16428.0]
    assert [(f.rule, f.severity) for f in parsed.findings] == [("file_renamed", "warning")]


def test_a_web_page_saved_as_xls_is_refused(catalog_min, settings) -> None:
    """It refuses an HTML table named .xls (an old export trick) as not a workbook."""
    parsed = read_submission(SUBMISSIONS / "rf4__web_page_named_xls.xls", catalog_min, settings)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "file_unreadable"
    assert "web page" in parsed.file_error.message and "save it again as .xlsx" in (
        parsed.file_error.message
    )
