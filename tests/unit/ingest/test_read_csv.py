"""Reading CSV submissions: encodings, delimiters, headers, row numbers, values and periods."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from collectonce.ingest.formats import text as text_reader
from collectonce.ingest.readers import (
    ParsedFile,
    iter_canonical_csv_batches,
    read_submission,
)

SUBMISSIONS = Path(__file__).resolve().parents[2] / "fixtures" / "submissions"
JAN, FEB, MAR = dt.date(2019, 1, 1), dt.date(2019, 2, 1), dt.date(2019, 3, 1)


def read(name: str, catalog, settings, **kwargs) -> ParsedFile:
    return read_submission(SUBMISSIONS / name, catalog, settings, **kwargs)


def by_row(parsed: ParsedFile, rule: str | None = None) -> dict[int | None, list[str]]:
    out: dict[int | None, list[str]] = {}
    for f in parsed.findings:
        if rule is None or f.rule == rule:
            out.setdefault(f.row, []).append(f.rule)
    return out


def values(parsed: ParsedFile) -> list[tuple]:
    rows = parsed.rows
    return [
        (p, per, m, None if v != v else v, s)
        for p, per, m, v, s in zip(
            rows.provider_code,
            rows.period,
            rows.metric_id,
            rows.value,
            rows.value_status,
            strict=True,
        )
    ]


def test_it_reads_a_canonical_long_csv(catalog_min, settings) -> None:
    """It reads every row of the canonical template, keeping comments and row numbers."""
    parsed = read("rf4__canonical_long.csv", catalog_min, settings)
    assert parsed.file_error is None
    assert parsed.findings == []
    assert parsed.template == "canonical_long"
    assert parsed.rows_read == 6
    assert values(parsed)[:3] == [
        ("RF4", JAN, "ae_attendances_type1", 16428.0, "reported"),
        ("RF4", JAN, "ae_breaches_4hr_type1", 7363.0, "reported"),
        ("RF4", JAN, "ae_emergency_admissions", 4607.0, "reported"),
    ]
    assert parsed.rows.source_row.tolist() == [2, 3, 4, 5, 6, 7]
    assert parsed.rows.comment.iloc[4] == "Norovirus outbreak, two wards closed"
    assert isinstance(parsed.rows.period.iloc[0], dt.date)
    assert list(parsed.rows.columns) == [
        "provider_code",
        "period",
        "metric_id",
        "value",
        "value_status",
        "comment",
        "source_row",
        "source_column",
    ]


def test_a_bom_crlf_file_with_odd_header_case_reads_the_same(catalog_min, settings) -> None:
    """It reads UTF-8 with a byte-order mark and CRLF line ends, headers in any case; a blank
    line keeps its row number."""
    raw = (SUBMISSIONS / "rf4__utf8_bom_crlf.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    parsed = read("rf4__utf8_bom_crlf.csv", catalog_min, settings)
    assert parsed.file_error is None and parsed.findings == []
    assert parsed.rows_read == 3
    assert parsed.rows.source_row.tolist() == [2, 3, 5]
    assert parsed.rows.value.tolist() == [15994, 4618, 4703]
    assert set(parsed.rows.period) == {MAR}


def test_a_windows_1252_semicolon_file_keeps_pound_and_dash(catalog_min, settings) -> None:
    """It reads Windows-1252 text with ; delimiters and dd/mm/yyyy periods, keeping £ and –."""
    parsed = read("rf4__windows1252_semicolon.csv", catalog_min, settings)
    assert parsed.file_error is None
    assert (parsed.encoding, parsed.delimiter) == ("cp1252", ";")
    assert parsed.rows.comment.iloc[0] == "Cost of agency cover £5,200 – see board paper"
    assert parsed.rows.period.tolist() == [MAR, MAR]


def test_windows_1252_after_a_long_ascii_start_is_still_read(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It finishes a file in Windows-1252 when a £ appears only after the first megabyte."""
    lines = ["provider_code,period,metric_id,value,comment"]
    lines += ["RF4,2019-01,ae_attendances_type1,16428,checked"] * 30_000
    lines.append("RF4,2019-02,ae_attendances_type1,14569,£ overtime")
    path = tmp_path / "late_pound.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is None
    assert parsed.rows_read == 30_001
    assert parsed.rows.comment.iloc[-1] == "£ overtime"
    assert parsed.rows.source_row.iloc[-1] == 30_002


def test_headers_match_aliases_in_any_order_and_codes_are_cleaned(catalog_min, settings) -> None:
    """It matches 'ODS Code', 'Month', 'Metric', ' VALUE ' in any order and trims/cases codes."""
    parsed = read("rf4__columns_reordered_aliases.csv", catalog_min, settings)
    assert parsed.file_error is None and parsed.findings == []
    assert values(parsed) == [
        ("RF4", JAN, "ae_attendances_type1", 16428.0, "reported"),
        ("RF4", JAN, "ae_breaches_4hr_type1", 7363.0, "reported"),
    ]


def test_template_headers_with_notes_and_metric_labels_are_understood(catalog_min, settings):
    """It reads headers that carry a note ("Reporting Period (YYYY-MM)", "Provider ODS Code*",
    "Data Value") and a metric written as its catalogue label instead of its code."""
    parsed = read("rf4__template_headers_with_notes_and_labels.csv", catalog_min, settings)
    assert parsed.file_error is None and parsed.findings == []
    assert values(parsed) == [
        ("RF4", JAN, "ae_attendances_type1", 16428.0, "reported"),
        ("RF4", JAN, "ae_breaches_4hr_type1", 7363.0, "reported"),
    ]
    assert parsed.rows.comment.tolist()[1] == "checked"


def test_each_period_format_is_normalised_and_bad_ones_are_errors(catalog_min, settings) -> None:
    """It reads YYYY-MM, dates, dd/mm/yyyy, Mon-YY, month names and Excel serials; a US-order
    date and free text are errors on their own rows."""
    parsed = read("rf4__period_formats.csv", catalog_min, settings)
    periods = dict(zip(parsed.rows.source_row, parsed.rows.period, strict=True))
    assert periods == {
        2: JAN,
        3: FEB,
        4: MAR,
        5: dt.date(2018, 12, 1),
        6: dt.date(2018, 11, 1),
        7: dt.date(2018, 10, 1),
        8: JAN,
    }
    assert by_row(parsed) == {9: ["type_period"], 10: ["type_period"]}
    message = next(f.message for f in parsed.findings if f.row == 9)
    assert "'03/31/2019' is not a period" in message and "dd/mm/yyyy" in message
    assert parsed.error_rows == [9, 10]
    assert parsed.rows_read == 9


def test_suppressed_zero_and_blank_stay_distinct(catalog_min, settings) -> None:
    """It keeps 0 as a reported zero, * as suppressed and blank or - as missing, all accepted."""
    parsed = read("rf4__suppressed_zero_blank.csv", catalog_min, settings)
    assert parsed.findings == []
    assert [(r[3], r[4]) for r in values(parsed)] == [
        (16428.0, "reported"),
        (0.0, "reported"),
        (None, "suppressed"),
        (None, "missing"),
        (None, "missing"),
        (None, "suppressed"),
    ]


def test_thousands_and_percent_are_understood(catalog_min, settings) -> None:
    """It reads "16,428" and 4.2% for a percent metric; a % on a count and malformed commas
    are errors that say how to write the figure."""
    parsed = read("rf4__thousands_and_percent.csv", catalog_min, settings)
    got = dict(zip(parsed.rows.source_row, parsed.rows.value, strict=True))
    assert got == {2: 16428.0, 3: 7363.0, 4: 4.2}
    assert by_row(parsed) == {5: ["type_number"], 6: ["type_number"], 7: ["type_number"]}
    messages = {f.row: f.message for f in parsed.findings}
    assert "has a % sign" in messages[5] and "count" in messages[5]
    assert "full stop for decimals" in messages[7]


def test_non_finite_numbers_are_row_errors(catalog_min, settings) -> None:
    """It rejects 1e308 as too large to be a real figure, and NaN, inf, -inf and 1e999 as not
    finite numbers, each row with its own message."""
    parsed = read("rf4__non_finite_values.csv", catalog_min, settings)
    assert parsed.rows.empty
    assert by_row(parsed) == {r: ["type_number"] for r in (2, 3, 4, 5, 6)}
    messages = {f.row: f.message for f in parsed.findings}
    assert "too large to be a real figure" in messages[2]
    assert all("not a finite number" in messages[r] for r in (3, 4, 5, 6))
    assert [f.value for f in parsed.findings][:2] == ["1e308", "NaN"]


def test_formula_text_is_refused_as_a_value_but_kept_as_a_comment(catalog_min, settings) -> None:
    """It refuses =HYPERLINK, +cmd| and @SUM as values, and keeps the same text verbatim as a
    comment (exports neutralise it)."""
    parsed = read("rf4__formula_injection.csv", catalog_min, settings)
    assert by_row(parsed) == {2: ["type_number"], 3: ["type_number"], 4: ["type_number"]}
    assert all("formula" in f.message for f in parsed.findings)
    assert parsed.rows.comment.tolist() == [
        '=HYPERLINK("http://evil.example","Click")',
        "+cmd|' /C calc'!A0",
        "@SUM(A1:A9)",
    ]
    assert parsed.rows.value.tolist() == [14569, 6140, 4097]


def test_blank_keys_are_errors_and_unknown_metrics_pass_to_validation(
    catalog_min, settings
) -> None:
    """It rejects rows with a blank provider, period or metric, and passes an unknown metric
    code through (lower-cased) for validation to explain."""
    parsed = read("rf4__blank_keys.csv", catalog_min, settings)
    assert by_row(parsed) == {2: ["required_value"], 3: ["required_value"], 4: ["required_value"]}
    columns = [f.column for f in sorted(parsed.findings, key=lambda f: f.row or 0)]
    assert columns == ["provider_code", "period", "metric_id"]
    assert parsed.rows.metric_id.tolist() == ["ae_attendance_type_1"]
    assert parsed.rows.source_row.tolist() == [5]


def test_ragged_rows_are_reported_with_their_row_numbers(catalog_min, settings) -> None:
    """It rejects a row with too many cells (an unquoted 7,363 would otherwise shift into the
    comment) or too few, naming the row, and accepts a row that leaves off the optional
    trailing comment."""
    parsed = read("rf4__ragged_rows.csv", catalog_min, settings)
    assert by_row(parsed) == {3: ["row_shape"], 4: ["row_shape"], 6: ["row_shape"]}
    messages = {f.row: f.message for f in parsed.findings}
    assert "6 cells but the header has 5" in messages[3]
    assert "missing or extra comma" in messages[3]
    assert "3 cells" in messages[4]
    assert parsed.rows.source_row.tolist() == [2, 5]
    assert parsed.rows.comment.isna().all()
    assert parsed.rows_read == 5
    assert parsed.error_rows == [3, 4, 6]


def _long_file(path: Path, rows: int, bad_at: int | None = None) -> Path:
    lines = ["provider_code,period,metric_id,value"]
    for i in range(rows):
        if bad_at is not None and i == bad_at:
            lines.append("RF4,2019-01,ae_breaches_4hr_type1,7,363")
        else:
            lines.append(f"RF4,2019-01,ae_attendances_type1,{16000 + i % 1000}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_streamed_batches_match_the_whole_file_read(
    catalog_min, settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It streams a long CSV in batches of about batch_rows rows, and a ragged row deep in the
    file is reported with its exact row number while every other row is kept."""
    monkeypatch.setattr(text_reader, "BLOCK_BYTES", 64 * 1024)
    path = _long_file(tmp_path / "long.csv", 20_000, bad_at=15_000)
    batches = list(iter_canonical_csv_batches(path, catalog_min, settings, batch_rows=4_000))
    assert len(batches) >= 4
    assert all(b.file_error is None for b in batches)
    assert sum(b.rows_read for b in batches) == 20_000
    assert sum(b.table.num_rows for b in batches) == 19_999
    findings = [f for b in batches for f in b.findings]
    assert [(f.row, f.rule) for f in findings] == [(15_002, "row_shape")]
    rows = [r for b in batches for r in b.table.column("source_row").to_pylist()]
    assert rows == [r for r in range(2, 20_002) if r != 15_002]
    whole = read_submission(path, catalog_min, settings)
    assert len(whole.rows) == 19_999 and whole.error_rows == [15_002]


def test_a_stray_nul_byte_is_removed_with_a_warning(catalog_min, settings) -> None:
    """It removes a stray NUL character from the cell it sits in and warns on that row."""
    parsed = read("rf4__stray_nul_byte.csv", catalog_min, settings)
    assert parsed.file_error is None
    assert parsed.rows.comment.tolist()[0] == "checked"
    assert [(f.row, f.column, f.rule, f.severity) for f in parsed.findings] == [
        (2, "comment", "nul_removed", "warning")
    ]


def test_a_one_megabyte_field_is_truncated_with_a_warning(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It keeps the row, cuts a 1 MB comment to max_field_chars and says so on that row."""
    path = tmp_path / "rf4__one_megabyte_comment.csv"
    path.write_text(
        "provider_code,period,metric_id,value,comment\n"
        f"RF4,2019-01,ae_attendances_type1,16428,{'x' * 1_000_000}\n"
        "RF4,2019-01,ae_breaches_4hr_type1,7363,\n"
    )
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is None
    assert len(parsed.rows) == 2
    assert len(parsed.rows.comment.iloc[0]) == settings.max_field_chars
    (finding,) = parsed.findings
    assert (finding.row, finding.column, finding.rule) == (2, "comment", "field_truncated")
    assert "1,000,000 characters" in finding.message


def test_findings_are_capped_per_rule_with_a_count_of_the_rest(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It lists the first 1,000 rows with one problem and counts the rest in one finding,
    while error_rows still names every rejected row."""
    lines = ["provider_code,period,metric_id,value"]
    lines += ["RF4,2019-01,ae_attendances_type1,NaN"] * 1_500
    path = tmp_path / "many_nan.csv"
    path.write_text("\n".join(lines) + "\n")
    parsed = read_submission(path, catalog_min, settings)
    listed = [f for f in parsed.findings if f.row is not None]
    summary = [f for f in parsed.findings if f.row is None]
    assert len(listed) == 1_000
    assert len(summary) == 1 and "500 more rows" in summary[0].message
    assert len(parsed.error_rows) == 1_500


def test_utf16_and_tab_delimited_exports_are_read(catalog_min, settings, tmp_path: Path) -> None:
    """It reads Excel's 'Unicode text' export: UTF-16 with a byte-order mark, tab-delimited."""
    path = tmp_path / "rf4__unicode_text.txt"
    text = (
        "provider_code\tperiod\tmetric_id\tvalue\r\nRF4\t2019-01\tae_attendances_type1\t16428\r\n"
    )
    path.write_bytes(text.encode("utf-16"))
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is None
    assert (parsed.encoding, parsed.delimiter) == ("utf-16", "\t")
    assert parsed.rows.value.tolist() == [16428]


def test_a_repeated_column_whose_copies_agree_is_read_once_with_a_warning(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It keeps one of two columns with the same header when they agree, and warns."""
    path = tmp_path / "rf4__repeated_value_column.csv"
    path.write_text(
        "provider_code,period,metric_id,value,Value\n"
        "RF4,2019-01,ae_attendances_type1,16428,16428\n"
        "RF4,2019-01,ae_breaches_4hr_type1,7363, 7363.0\n"
    )
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.rows.value.tolist() == [16428, 7363]
    assert [(f.column, f.rule, f.severity) for f in parsed.findings] == [
        ("Value", "duplicate_column", "warning")
    ]


def test_a_repeated_column_whose_copies_disagree_rejects_the_row(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It rejects a row where two columns with the same header disagree, naming both."""
    path = tmp_path / "rf4__repeated_value_column_disagrees.csv"
    path.write_text(
        "provider_code,period,metric_id,value,Value\n"
        "RF4,2019-01,ae_attendances_type1,16428,16428\n"
        "RF4,2019-01,ae_breaches_4hr_type1,7363,1\n"
    )
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.rows.value.tolist() == [16428]
    assert parsed.error_rows == [3]
    errors = [f for f in parsed.findings if f.severity == "error"]
    assert [(f.row, f.column, f.rule) for f in errors] == [
        (3, "Value", "duplicate_column_conflict")
    ]
    assert "7363 in column 4, 1 in column 5" in errors[0].message


def test_a_title_block_above_the_header_is_skipped(catalog_min, settings, tmp_path: Path) -> None:
    """It finds the header under a title line of a legacy export and keeps file row numbers."""
    path = tmp_path / "rf4__titled_export.csv"
    path.write_text(
        "A&E monthly return - Barking Havering and Redbridge\n\n"
        "Org Code,Period,A1,A2,A3\nRF4,2019-01,16428,7363,4607\n"
    )
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.template == "nhse_ae_monthly"
    assert set(parsed.rows.source_row) == {4}
    assert len(parsed.rows) == 3


def test_an_old_exports_end_of_file_mark_is_not_a_row(catalog_min, settings) -> None:
    """It treats the Ctrl-Z mark some old systems put at the end of a CSV as the end, not as a
    broken row."""
    parsed = read("rf4__ctrl_z_end_of_file.csv", catalog_min, settings)
    assert parsed.rows_read == 2 and parsed.error_rows == [] and parsed.findings == []
    assert parsed.rows.value.tolist() == [16428.0, 7363.0]
