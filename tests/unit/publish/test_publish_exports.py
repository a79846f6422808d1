"""Exports: formula injection neutralised in CSV and XLSX, numbers kept as numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import numpy as np
import pandas as pd
import pytest

from collectonce.publish import exports
from collectonce.publish.errors import BadParameter, ExportTooLarge
from collectonce.publish.exports import (
    iter_csv_chunks,
    iter_json_chunks,
    neutralise,
    safe_frame,
    to_records,
    write_export,
)

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
    assert [r[2] for r in records[1:3]] == ["-5", "-0.25"]  # unquoted numbers
    values = pd.read_csv(io.StringIO(text))["value"]
    assert values.iloc[0] == -5.0 and values.iloc[1] == -0.25
    assert '"-5"' not in text


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


def cell_by_cell_csv(df: pd.DataFrame) -> bytes:
    """The reference CSV: every text cell neutralised on its own, then written by pandas."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype.kind == "f":  # whole numbers are written as integers
            whole = [
                int(v)
                if np.isfinite(v)
                and v == np.floor(v)
                and abs(v) <= 2**53
                and not (v == 0 and np.signbit(v))
                else v
                for v in out[col].tolist()
            ]
            out[col] = pd.Series(whole, index=out.index, dtype=object)
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(lambda v: neutralise(v) if isinstance(v, str) else v)
    return out.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def awkward_view(repeats: int = 5) -> pd.DataFrame:
    """A view whose rows repeat hostile, quoted and multi-line labels beside awkward numbers."""
    labels = [*HOSTILE, 'Said "yes", then no', "two\nlines", "crlf\r\nend", "", "é plain", "+44 20"]
    n = len(labels) * repeats
    values = [-0.0, 0.0, np.inf, -np.inf, np.nan, 1e16, 1e-5, 0.1, -5.0, 123456.789, 2.5, -1.0]
    return pd.DataFrame(
        {
            "provider_code": pd.Series(["RF4", "R1H"] * (n // 2), dtype=object),
            "period": pd.Series(["2019-01", None, "2019-Q1"] * (n // 3), dtype="str"),
            "item_label": pd.Series(labels * repeats, dtype=object),
            "value": (values * repeats)[:n],
            "revision": np.arange(n) % 3 - 1,
            "is_late": np.arange(n) % 2 == 0,
            "received": pd.to_datetime(
                ["2019-02-05", None, "2019-02-06 10:30"] * (n // 3), format="ISO8601"
            ),
            "count": pd.array([1, None, -3] * (n // 3), dtype="Int64"),
            "flag": pd.Series(["", "missing", "late"] * (n // 3), dtype=object),
        }
    )


@pytest.mark.parametrize("chunk_rows", [1, 7, 50_000])
def test_csv_matches_neutralising_every_cell_on_its_own(chunk_rows: int) -> None:
    """It writes, byte for byte, what neutralising each text cell and pandas' to_csv write."""
    df = awkward_view()
    assert b"".join(iter_csv_chunks(df, chunk_rows=chunk_rows)) == cell_by_cell_csv(df)


@pytest.mark.parametrize("chunk_rows", [7, 50_000])
def test_csv_of_categorical_text_with_many_repeats_is_the_same_bytes(chunk_rows: int) -> None:
    """It writes a view's categorical text over thousands of rows (where neighbouring columns
    are written together, once per combination) exactly as the plain-text frame is written."""
    plain = awkward_view(repeats=240)
    text = ["provider_code", "period", "item_label", "flag"]
    coded = plain.assign(**{c: plain[c].astype("category") for c in text})
    want = cell_by_cell_csv(plain)
    assert b"".join(iter_csv_chunks(coded, chunk_rows=chunk_rows)) == want
    assert b"".join(iter_csv_chunks(plain, chunk_rows=chunk_rows)) == want


def test_parquet_of_categorical_text_reads_back_as_plain_text(tmp_path) -> None:
    """It writes categorical text to Parquet as plain strings, so readers get text back."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = pd.DataFrame({"item": pd.Categorical(["A1", "A2", "A1"]), "value": [1.0, -2.0, np.nan]})
    write_export(df, "parquet", tmp_path / "view.parquet")
    table = pq.read_table(tmp_path / "view.parquet")
    kind = table.schema.field("item").type
    assert pa.types.is_string(kind) or pa.types.is_large_string(kind)
    assert table.column("item").to_pylist() == ["A1", "A2", "A1"]
    assert not isinstance(
        pd.read_parquet(tmp_path / "view.parquet")["item"].dtype, pd.CategoricalDtype
    )


def test_csv_neutralises_every_repeat_of_a_formula() -> None:
    """It neutralises a formula on every row it appears on, across chunk boundaries."""
    df = pd.DataFrame({"item_label": ["=1+2", "ok", "@SUM(A1)"] * 40, "value": 1.0})
    text = b"".join(iter_csv_chunks(df, chunk_rows=7)).decode("utf-8")
    labels = [r[0] for r in csv.reader(io.StringIO(text, newline=""))][1:]
    assert labels == ["'=1+2", "ok", "'@SUM(A1)"] * 40


def test_csv_checks_each_distinct_text_once(monkeypatch) -> None:
    """It checks a label repeated on 30,000 rows once, not once per row."""
    calls: list[str] = []

    def counting(text: str) -> str:
        calls.append(text)
        return neutralise(text)

    monkeypatch.setattr(exports, "neutralise", counting)
    df = pd.DataFrame(
        {
            "provider_code": ["RF4", "R1H", "RQM"] * 10_000,
            "item_label": ["=HYPERLINK(1)", "Attendances"] * 15_000,
            "value": np.arange(30_000, dtype=float),
        }
    )
    text = b"".join(iter_csv_chunks(df)).decode("utf-8")
    assert len(calls) <= 3 + 3 + 2  # column names + distinct values
    assert text.count("'=HYPERLINK(1)") == 15_000


def test_csv_neutralises_text_in_a_categorical_column() -> None:
    """It neutralises formula text even when the column is categorical."""
    df = pd.DataFrame(
        {
            "item_label": pd.Categorical(["=cmd|' /C calc'!A0", "Attendances", None]),
            "value": [-1.0, 2.0, 3.0],
        }
    )
    records = list(csv.reader(io.StringIO(b"".join(iter_csv_chunks(df)).decode(), newline="")))
    assert [r[0] for r in records[1:]] == ["'=cmd|' /C calc'!A0", "Attendances", ""]
    assert [r[1] for r in records[1:]] == ["-1", "2", "3"]


def test_csv_neutralises_column_names() -> None:
    """It neutralises a column name that a spreadsheet would run, as the workbook does."""
    df = pd.DataFrame({"=SUM(A1:A2)": ["x"], "value": [-2.0]})
    text = b"".join(iter_csv_chunks(df)).decode("utf-8")
    assert text.splitlines()[0] == "'=SUM(A1:A2),value"


def test_csv_keeps_values_that_only_look_equal_apart() -> None:
    """It writes 1, 1.0 and True in a mixed column as they are, not merged into one value."""
    df = pd.DataFrame({"note": pd.Series([1, 1.0, True, "1", "-1", None], dtype=object)})
    text = b"".join(iter_csv_chunks(df)).decode("utf-8")
    assert text == 'note\r\n1\r\n1.0\r\nTrue\r\n1\r\n\'-1\r\n""\r\n'


def test_csv_single_column_keeps_its_empty_rows() -> None:
    """It writes an empty only-field as "" so that reading it back keeps every row."""
    df = pd.DataFrame({"flag": ["", "late", None]})
    text = b"".join(iter_csv_chunks(df)).decode("utf-8")
    assert text == 'flag\r\n""\r\nlate\r\n""\r\n'
    assert len(pd.read_csv(io.StringIO(text), keep_default_na=False)) == 3


def test_csv_of_an_empty_view_is_its_header() -> None:
    """It writes just the header line when the view has no rows."""
    df = pd.DataFrame({"provider_code": pd.Series(dtype=object), "value": pd.Series(dtype=float)})
    assert list(iter_csv_chunks(df)) == [b"provider_code,value\r\n"]


def test_csv_refuses_a_chunk_size_below_one() -> None:
    """It refuses to stream in chunks of no rows."""
    with pytest.raises(BadParameter, match="at least 1"):
        next(iter_csv_chunks(hostile_frame(), chunk_rows=0))


def test_safe_frame_neutralises_a_copy_and_keeps_gaps() -> None:
    """It returns a new frame with formula text neutralised, gaps and numbers as they were."""
    df = pd.DataFrame(
        {
            "item_label": pd.Series(["=1", None, "ok", "=1", np.nan], dtype=object),
            "value": [-1.0, np.nan, 2.0, 3.0, 4.0],
        }
    )
    before = df.copy()
    out = safe_frame(df)
    assert out["item_label"].tolist()[:4] == ["'=1", None, "ok", "'=1"]
    assert pd.isna(out["item_label"].iloc[4])
    assert out["value"].tolist()[0] == -1.0
    pd.testing.assert_frame_equal(df, before)


def test_to_records_handles_every_column_type() -> None:
    """It gives null for NaN, NA and infinity, ISO text for dates, and keeps -0.0 and text."""
    df = pd.DataFrame(
        {
            "value": [-0.0, np.inf, np.nan],
            "count": pd.array([1, None, -3], dtype="Int64"),
            "received": pd.to_datetime(["2019-02-05", None, "2019-02-06 10:30"], format="ISO8601"),
            "label": pd.Series(["=1", None, "ok"], dtype="str"),
            "kind": pd.Categorical(["a", None, "b"]),
            "mixed": pd.Series([dt.date(2019, 1, 1), np.int64(2), "x"], dtype=object),
        }
    )
    records = to_records(df)
    assert records[0] == {
        "value": -0.0,
        "count": 1,
        "received": "2019-02-05T00:00:00",
        "label": "=1",
        "kind": "a",
        "mixed": "2019-01-01",
    }
    assert records[1] == dict.fromkeys(df.columns) | {"mixed": 2}
    assert type(records[1]["mixed"]) is int
    assert records[2]["received"] == "2019-02-06T10:30:00" and records[2]["value"] is None
    json.dumps(records, allow_nan=False)


def test_json_streams_every_row_across_chunks() -> None:
    """It writes one valid document with every row when the rows span several chunks."""
    df = awkward_view(repeats=2)
    doc = json.loads(b"".join(iter_json_chunks(df, {"request": "r"}, chunk_rows=5)))
    assert doc["request"] == "r" and len(doc["rows"]) == len(df)
    assert [r["item_label"] for r in doc["rows"][:2]] == HOSTILE[:2]  # JSON is not neutralised
    assert doc["rows"][4]["value"] is None and doc["rows"][8]["value"] == -5.0
