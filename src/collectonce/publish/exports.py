"""Exports of views and provider data: CSV, JSON, Parquet and XLSX.

Spreadsheet formula injection: in CSV and XLSX every *text* cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return gets a leading apostrophe, so a spreadsheet shows it
as text instead of running it. Numbers, negative ones included, stay numbers. JSON and Parquet
carry values unchanged (they are not opened as spreadsheets).

JSON is ``{"rows": [...]}`` (plus any `meta` keys, e.g. ``request`` and ``publication``), each
row an object with NaN written as null.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import pandas as pd

from collectonce.publish.errors import BadParameter, ExportTooLarge

Format = Literal["csv", "json", "parquet", "xlsx"]
FORMATS: tuple[str, ...] = ("csv", "json", "parquet", "xlsx")
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_ROWS = 1_048_575  # one row is the header


def neutralise(text: str) -> str:
    """`text` with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _is_text_column(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series.dtype)


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A new frame whose text cells are neutralised; numeric columns are left as they are."""
    out = df.copy()
    for col in out.columns:
        if _is_text_column(out[col]):
            out[col] = (
                out[col].map(lambda v: neutralise(v) if isinstance(v, str) else v).astype(object)
            )
    return out


def _plain(value: Any) -> Any:
    """A JSON-ready Python value: NaN/NA → None, numpy scalars → Python, dates → ISO text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def to_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as JSON-ready dicts (NaN → None), in column order."""
    columns = [str(c) for c in df.columns]
    arrays = [df[c].to_numpy(dtype=object) for c in df.columns]
    return [
        {name: _plain(arr[i]) for name, arr in zip(columns, arrays, strict=True)}
        for i in range(len(df))
    ]


def iter_csv_chunks(df: pd.DataFrame, chunk_rows: int = 50_000) -> Iterator[bytes]:
    """The frame as UTF-8 CSV in chunks (header first), text cells neutralised.

    Lines end with CRLF (RFC 4180), so a text cell holding a CR or LF is always quoted.
    """
    if chunk_rows < 1:
        raise BadParameter("chunk_rows must be at least 1")
    if df.empty:
        yield df.iloc[:0].to_csv(index=False, lineterminator="\r\n").encode("utf-8")
        return
    for first in range(0, len(df), chunk_rows):
        part = safe_frame(df.iloc[first : first + chunk_rows])
        text = part.to_csv(index=False, header=first == 0, lineterminator="\r\n")
        yield text.encode("utf-8")


def iter_json_chunks(
    df: pd.DataFrame, meta: dict[str, Any] | None = None, chunk_rows: int = 20_000
) -> Iterator[bytes]:
    """``{...meta, "rows": [...]}`` as UTF-8 JSON in chunks, for streaming large pulls."""
    head = json.dumps(meta or {}, default=str, allow_nan=False)[:-1]
    yield (head + (", " if meta else "") + '"rows": [').encode("utf-8")
    for first in range(0, len(df), chunk_rows):
        rows = to_records(df.iloc[first : first + chunk_rows])
        body = ", ".join(json.dumps(r, allow_nan=False, default=str) for r in rows)
        yield (", " if first else "").encode() + body.encode("utf-8")
    yield b"]}\n"


def _write_xlsx(df: pd.DataFrame, target: Any) -> None:
    import xlsxwriter

    if len(df) > XLSX_MAX_ROWS:
        raise ExportTooLarge(
            f"{len(df):,} rows do not fit in one worksheet ({XLSX_MAX_ROWS:,} at most): "
            "narrow the period range, or use csv or parquet"
        )
    options = {
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "constant_memory": not isinstance(target, io.IOBase),
        "in_memory": isinstance(target, io.IOBase),
    }
    workbook = xlsxwriter.Workbook(target, options)
    sheet = workbook.add_worksheet("data")
    bold = workbook.add_format({"bold": True})
    for col, name in enumerate(df.columns):
        sheet.write_string(0, col, neutralise(str(name)), bold)
    arrays = [df[c].to_numpy(dtype=object) for c in df.columns]
    for row in range(len(df)):
        for col, arr in enumerate(arrays):
            value = _plain(arr[row])
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(row + 1, col, value)
            elif isinstance(value, int | float):
                sheet.write_number(row + 1, col, value)
            else:
                sheet.write_string(row + 1, col, neutralise(str(value)))
    sheet.freeze_panes(1, 0)
    workbook.close()


def write_export(
    df: pd.DataFrame,
    fmt: str,
    dest: BinaryIO | Path,
    *,
    meta: dict[str, Any] | None = None,
) -> None:
    """Write `df` as `fmt` (csv, json, parquet or xlsx) to a path or a binary file object."""
    if fmt not in FORMATS:
        raise BadParameter(f"format {fmt!r} is not one of: {', '.join(FORMATS)}")
    if isinstance(dest, str | Path):
        path = Path(dest)
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "xlsx":
            _write_xlsx(df, str(path))
            return
        with path.open("wb") as handle:
            write_export(df, fmt, handle, meta=meta)
        return
    if fmt == "csv":
        for chunk in iter_csv_chunks(df):
            dest.write(chunk)
    elif fmt == "json":
        for chunk in iter_json_chunks(df, meta):
            dest.write(chunk)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=False)
        pq.write_table(table.replace_schema_metadata(None), dest)
    else:
        buffer = io.BytesIO()
        _write_xlsx(df, buffer)
        dest.write(buffer.getvalue())
