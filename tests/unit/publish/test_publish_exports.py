"""Exports: formula injection neutralised in CSV and XLSX, numbers kept as numbers."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from collectonce.publish import exports
from collectonce.publish.errors import BadParameter, ExportTooLarge
from collectonce.publish.exports import iter_csv_chunks, to_records, write_export

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+SUM(A1:A9)",
    "-2+3",
    "@cmd",
    "\tTabbed",
    "\rReturn",
]


def hostile_frame() -> pd.DataFrame:
    """Text cells that a spreadsheet would run, beside negative and missing numbers."""
    n = len(HOSTILE)
    return pd.DataFrame(
        {
            "provider_code": ["RF4"] * n,
            "item_label": HOSTILE,
            "value": [-5.0, -0.25, 12.0, np.nan, 0.0, 1e6],
            "flag": ["", "missing", "", "missing", "", "late"],
        }
    )


def test_csv_neutralises_formulas_but_keeps_negative_numbers() -> None:
    """It prefixes formula-like text with an apostrophe; -5 stays the number -5."""
    text = b"".join(iter_csv_chunks(hostile_frame())).decode("utf-8")
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    labels = list(back["item_label"])
    assert labels[0].startswith("'=HYPERLINK")
    assert labels[1] == "'+SUM(A1:A9)"
    assert labels[2] == "'-2+3"
    assert labels[3] == "'@cmd"
    assert labels[4].startswith("'\t") and labels[5].startswith("'")
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert len(records) == 1 + len(HOSTILE)
    for record in records[1:]:
        assert not record[1].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert [r[2] for r in records[1:3]] == ["-5.0", "-0.25"]  # unquoted numbers
    values = pd.read_csv(io.StringIO(text))["value"]
    assert values.iloc[0] == -5.0 and values.iloc[1] == -0.25
    assert '"-5.0"' not in text


def test_csv_streams_in_chunks_with_one_header() -> None:
    """It yields UTF-8 chunks with the header only once."""
    df = pd.DataFrame({"item": [f"é{i}" for i in range(10)], "value": range(10)})
    chunks = list(iter_csv_chunks(df, chunk_rows=3))
    assert len(chunks) == 4
    text = b"".join(chunks).decode("utf-8")
    assert text.count("item,value") == 1
    assert len(pd.read_csv(io.StringIO(text))) == 10


def test_xlsx_cells_are_text_and_numbers_are_numbers(tmp_path) -> None:
    """It writes formula-like text as inert strings and negative values as numeric cells."""
    import openpyxl

    dest = tmp_path / "view.xlsx"
    write_export(hostile_frame(), "xlsx", dest)
    sheet = openpyxl.load_workbook(dest).active
    assert [c.value for c in sheet[1]] == ["provider_code", "item_label", "value", "flag"]
    label = sheet.cell(row=2, column=2)
    assert label.data_type == "s" and label.value.startswith("'=HYPERLINK")
    assert sheet.cell(row=3, column=2).value == "'+SUM(A1:A9)"
    assert sheet.cell(row=4, column=2).value == "'-2+3"
    for row in range(2, 8):
        assert sheet.cell(row=row, column=2).data_type == "s"
    negative = sheet.cell(row=2, column=3)
    assert negative.data_type == "n" and negative.value == -5
    assert sheet.cell(row=3, column=3).value == -0.25
    assert sheet.cell(row=5, column=3).value is None  # NaN → empty cell


def test_xlsx_to_a_file_object() -> None:
    """It writes a workbook into a binary stream (as the API does)."""
    import openpyxl

    buffer = io.BytesIO()
    write_export(hostile_frame(), "xlsx", buffer)
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue())).active
    assert sheet.cell(row=2, column=3).value == -5


def test_json_writes_rows_with_null_for_nan() -> None:
    """It writes {"request": ..., "rows": [...]} with NaN as null and text unchanged."""
    buffer = io.BytesIO()
    write_export(hostile_frame(), "json", buffer, meta={"request": "r", "publication": 3})
    doc = json.loads(buffer.getvalue())
    assert doc["request"] == "r" and doc["publication"] == 3
    assert doc["rows"][3]["value"] is None
    assert doc["rows"][0]["item_label"] == HOSTILE[0]
    assert doc["rows"][0]["value"] == -5.0


def test_to_records_gives_plain_python_values() -> None:
    """It turns NaN/NA into None and numpy scalars into Python numbers."""
    df = pd.DataFrame(
        {"a": pd.array([1, None], dtype="Int64"), "b": [np.nan, 2.5], "c": [True, False]}
    )
    assert to_records(df) == [
        {"a": 1, "b": None, "c": True},
        {"a": None, "b": 2.5, "c": False},
    ]
    json.dumps(to_records(df), allow_nan=False)


def test_parquet_round_trips_values_unchanged(tmp_path) -> None:
    """It writes Parquet with numbers and text exactly as given."""
    dest = tmp_path / "view.parquet"
    write_export(hostile_frame(), "parquet", dest)
    back = pd.read_parquet(dest)
    assert back["item_label"].tolist() == HOSTILE
    assert back["value"].iloc[0] == -5.0


def test_unknown_format_is_refused(tmp_path) -> None:
    """It refuses a format it cannot write."""
    with pytest.raises(BadParameter, match="csv, json, parquet, xlsx"):
        write_export(hostile_frame(), "html", tmp_path / "x.html")


def test_xlsx_refuses_more_rows_than_a_sheet_holds(tmp_path, monkeypatch) -> None:
    """It says to narrow the range or use CSV when a view exceeds a worksheet."""
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    with pytest.raises(ExportTooLarge, match="csv or parquet"):
        write_export(hostile_frame(), "xlsx", tmp_path / "big.xlsx")


def test_exports_do_not_change_the_frame() -> None:
    """It leaves the caller's frame as it was."""
    df = hostile_frame()
    before = df.copy()
    b"".join(iter_csv_chunks(df))
    write_export(df, "xlsx", io.BytesIO())
    pd.testing.assert_frame_equal(df, before)
