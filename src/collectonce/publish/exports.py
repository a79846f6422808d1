"""Exports of views and provider data: CSV, JSON, Parquet and XLSX.

Spreadsheet formula injection: in CSV and XLSX every *text* cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return gets a leading apostrophe, so a spreadsheet shows it
as text instead of running it. Numbers, negative ones included, stay numbers. JSON and Parquet
carry values unchanged (they are not opened as spreadsheets).

JSON is ``{"rows": [...]}`` (plus any `meta` keys, e.g. ``request`` and ``publication``), each
row an object with NaN written as null.

Whole numbers are written as integers in CSV and JSON (``2818``, not ``2818.0``): a count is
served as a count, while a fraction keeps its decimals (``84.6``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Iterator, Mapping
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
#: Floats up to this size hold every whole number exactly, so they can be written as integers.
EXACT_INTEGER = 2.0**53


def _whole(values: np.ndarray) -> np.ndarray:
    """Where a float array holds a whole number that is written as an integer (not -0.0)."""
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (np.abs(values) <= EXACT_INTEGER)
        whole &= np.floor(values) == values
    return whole & ~((values == 0) & np.signbit(values))


def neutralise(text: str) -> str:
    """`text` with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _is_text_column(series: pd.Series) -> bool:
    """Object, string and categorical columns: the ones whose cells may be text."""
    dtype = series.dtype
    return (
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def _distinct_text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes (-1 where missing) and distinct values of an object array holding only text.

    None when the array also holds values that are not text: `pd.factorize` compares with
    ``==``, so it would merge ``1``, ``1.0`` and ``True``, which are written differently; such
    (rare) columns are handled cell by cell instead.
    """
    try:
        codes, uniques = pd.factorize(values)
    except TypeError:  # unhashable cells, such as lists
        return None
    distinct = np.asarray(uniques, dtype=object)
    if not all(isinstance(v, str) for v in distinct.tolist()):
        return None
    return codes, distinct


def _neutralised_text(series: pd.Series) -> pd.Series:
    """The text column with each formula-like string neutralised; other cells unchanged."""
    values = series.to_numpy(dtype=object)
    distinct = _distinct_text(values)
    if distinct is None:
        cells = [neutralise(v) if isinstance(v, str) else v for v in values]
        return pd.Series(cells, index=series.index, name=series.name, dtype=object)
    codes, uniques = distinct
    safe = np.array([neutralise(v) for v in uniques.tolist()] + [None], dtype=object)
    out = np.array(values, dtype=object, copy=True)
    present = codes >= 0
    out[present] = safe[codes[present]]
    return pd.Series(out, index=series.index, name=series.name, dtype=object)


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A new frame whose text cells are neutralised; numeric columns are left as they are.

    Each distinct text value is checked once, however many rows repeat it.
    """
    out = df.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if _is_text_column(column):
            # pandas takes a Series here; its stubs say only a scalar or array
            out.isetitem(position, _neutralised_text(column))  # pyright: ignore[reportArgumentType]
    return out


def _plain(value: Any) -> Any:
    """A JSON-ready Python value: NaN/NA → None, numpy scalars → Python, dates → ISO text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        if math.isnan(value) or math.isinf(value):
            return None
        number = float(value)
        return int(number) if bool(_whole(np.array([number]))[0]) else number
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _plain_column(series: pd.Series) -> list[Any]:
    """The column as JSON-ready Python values (what `_plain` gives for each cell)."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        values = series.to_numpy()
        out = values.astype(object)
        whole = _whole(values.astype(np.float64))
        if whole.any():
            out[whole] = values[whole].astype(np.int64).astype(object)
        out[~np.isfinite(values)] = None
        return out.tolist()
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return series.to_numpy().tolist()
    return [v if isinstance(v, str) else _plain(v) for v in series.to_numpy(dtype=object)]


def to_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as JSON-ready dicts (NaN → None), in column order."""
    columns = [str(c) for c in df.columns]
    if not columns:
        return [{} for _ in range(len(df))]
    cells = [_plain_column(df.iloc[:, position]) for position in range(len(columns))]
    return [dict(zip(columns, row, strict=True)) for row in zip(*cells, strict=True)]


# --------------------------------------------------------------------------- CSV

CRLF = "\r\n"
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _csv_field(text: str) -> str:
    """`text` as one CSV field: quoted (quotes doubled) when it holds a comma, quote, CR or LF."""
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_column(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """The column as codes into a list of distinct CSV fields (-1 where the cell is empty).

    Fields are written as `DataFrame.to_csv` would write them; text is neutralised first.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        by_category, fields = _csv_column(pd.Series(dtype.categories, dtype=dtype.categories.dtype))
        codes = series.cat.codes.to_numpy(dtype=np.intp)
        return np.where(codes >= 0, by_category[codes], -1), fields
    if isinstance(dtype, pd.StringDtype):
        codes, uniques = pd.factorize(series)
        return codes, [_csv_field(neutralise(v)) for v in uniques.tolist()]
    if _is_text_column(series):
        values = series.to_numpy(dtype=object)
        distinct = _distinct_text(values)
        if distinct is None:  # mixed objects: each cell on its own, as to_csv writes it
            codes = np.where(pd.isna(values), -1, np.arange(len(values)))
            uniques = values
        else:
            codes, uniques = distinct
        fields = [
            _csv_field(neutralise(v) if isinstance(v, str) else str(v)) for v in uniques.tolist()
        ]
        return codes, fields
    if isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize in (2, 4, 8):
        # factorise the bit patterns, so -0.0 and 0.0 stay distinct, as to_csv writes them
        values = series.to_numpy()
        codes, bits = pd.factorize(values.view(f"i{dtype.itemsize}"))
        uniques = np.asarray(bits).view(dtype)
        texts = uniques.astype(str).astype(object)
        whole = _whole(uniques.astype(np.float64))
        if whole.any():
            texts[whole] = uniques[whole].astype(np.int64).astype(str)
        texts[np.isnan(uniques)] = ""
        return codes, texts.tolist()
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        codes, uniques = pd.factorize(series.to_numpy())
        return codes, [str(v) for v in uniques.tolist()]
    # dates, nullable numbers and other types: as pandas writes them, one cell at a time
    text = series.to_frame().to_csv(index=False, header=False, lineterminator="\n")
    fields = [_csv_field(record[0]) for record in csv.reader(io.StringIO(text, newline=""))]
    return np.arange(len(fields)), fields


#: Adjacent columns are joined into one when they have at most this many combinations.
_MERGE_LIMIT = 1 << 18


def _csv_dictionaries(df: pd.DataFrame) -> list[tuple[np.ndarray, Any]]:
    """For each group of adjacent columns: row codes and the Arrow array of its distinct fields.

    An empty cell points at a trailing ``""`` field; the last column's fields end the line.
    A row whose only field is empty is written ``""`` (as the csv module does), so that it
    is not read back as a blank line. Adjacent columns with few combinations (a provider and a
    period, an item's code and label) are joined once per combination rather than once per row.
    """
    import pyarrow as pa

    last = df.shape[1] - 1
    columns: list[tuple[np.ndarray, list[str]]] = []
    for position in range(df.shape[1]):
        codes, fields = _csv_column(df.iloc[:, position])
        fields = [*fields, ""]
        if last == 0:
            fields = [f or '""' for f in fields]
        if position == last:
            fields = [f + CRLF for f in fields]
        codes = np.where(codes < 0, len(fields) - 1, codes).astype(np.int64)
        columns.append((codes, fields))
    limit = min(_MERGE_LIMIT, len(df))
    groups = columns[:1]
    for codes, fields in columns[1:]:
        group_codes, group_fields = groups[-1]
        if len(group_fields) * len(fields) <= limit:
            joined = [f"{a},{b}" for a in group_fields for b in fields]
            groups[-1] = (group_codes * len(fields) + codes, joined)
        else:
            groups.append((codes, fields))
    out = []
    for codes, fields in groups:
        index_type = np.int32 if len(fields) < 2**31 else np.int64
        out.append((codes.astype(index_type), pa.array(fields, type=pa.large_string())))
    return out


def _csv_rows(columns: list[tuple[np.ndarray, Any]], first: int, stop: int) -> bytes:
    """Rows `first` to `stop` (exclusive) as CSV bytes, each line ending CRLF."""
    import pyarrow as pa
    import pyarrow.compute as compute

    pc: Any = compute  # its kernels are made at load, unseen by a checker

    parts = [fields.take(codes[first:stop]) for codes, fields in columns]
    lines = pc.binary_join_element_wise(*parts, pa.scalar(",", type=pa.large_string()))
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)
    lo, hi = int(bounds[lines.offset]), int(bounds[lines.offset + len(lines)])
    return memoryview(data)[lo:hi].tobytes() if data is not None else b""


def iter_csv_chunks(df: pd.DataFrame, chunk_rows: int = 50_000) -> Iterator[bytes]:
    """The frame as UTF-8 CSV in chunks (header first), text cells neutralised.

    Lines end with CRLF (RFC 4180), so a text cell holding a CR or LF is always quoted;
    fields are quoted only when they hold a comma, quote, CR or LF. Numbers are written as
    `DataFrame.to_csv` writes them (``-5.0``, never quoted) and missing values as empty fields.
    Column names are neutralised too.
    """
    if chunk_rows < 1:
        raise BadParameter("chunk_rows must be at least 1")
    if df.shape[1] == 0:
        yield df.to_csv(index=False, lineterminator=CRLF).encode("utf-8")
        return
    names = [_csv_field(neutralise(str(c))) for c in df.columns]
    header = (",".join(names) if len(names) > 1 or names[0] else '""') + CRLF
    if df.empty:
        yield header.encode("utf-8")
        return
    columns = _csv_dictionaries(df)
    for first in range(0, len(df), chunk_rows):
        body = _csv_rows(columns, first, min(first + chunk_rows, len(df)))
        yield header.encode("utf-8") + body if first == 0 else body


def iter_json_chunks(
    df: pd.DataFrame, meta: dict[str, Any] | None = None, chunk_rows: int = 20_000
) -> Iterator[bytes]:
    """``{...meta, "rows": [...]}`` as UTF-8 JSON in chunks, for streaming large pulls."""
    head = json.dumps(meta or {}, default=str, allow_nan=False)[:-1]
    yield (head + (", " if meta else "") + '"rows": [').encode("utf-8")
    for first in range(0, len(df), chunk_rows):
        rows = to_records(df.iloc[first : first + chunk_rows])
        body = json.dumps(rows, allow_nan=False, default=str)[1:-1]  # the items, without [ ]
        yield (", " if first else "").encode() + body.encode("utf-8")
    yield b"]}\n"


#: Column definitions for the README sheet of view and provider workbooks.
COLUMN_DEFINITIONS = {
    "provider_code": "The provider's ODS code.",
    "period": "The period the value is for, in the request's own frequency.",
    "item": "The requester's own code for the figure.",
    "item_label": "The requester's own label for the figure.",
    "metric": "The catalogue metric(s) the value comes from (joined by + when summed).",
    "label": "The catalogue metric's label.",
    "unit": "The metric's unit (count, percent, ...).",
    "value": "The value; blank when missing or suppressed (see flag or value_status).",
    "flag": "Why a value is blank or marked: suppressed (*), missing, late, derived.",
    "value_status": "reported, suppressed (a small number, shown as *) or missing.",
    "is_derived": "True when the value is computed from other metrics, never submitted.",
    "revision": "How many times the value has been revised.",
    "is_late": "True when the value arrived after the request's deadline.",
}


def _write_xlsx(
    df: pd.DataFrame,
    target: str | Path | BinaryIO,
    meta: dict[str, Any] | None = None,
    units: Mapping[str, str] | None = None,
) -> None:
    """A workbook analysts keep (see `workbook`): the rows as one Excel table on a `data` sheet,
    and a README sheet. Beyond `TABLE_ROWS` rows the sheet is written in constant memory with a
    filter instead of a table (xlsxwriter cannot stream a table)."""
    import xlsxwriter

    from collectonce.publish import workbook

    if len(df) > XLSX_MAX_ROWS:
        raise ExportTooLarge(
            f"{len(df):,} rows do not fit in one worksheet ({XLSX_MAX_ROWS:,} at most): "
            "narrow the period range, or use csv or parquet"
        )
    in_memory = isinstance(target, io.IOBase)
    streamed = len(df) > TABLE_ROWS and not in_memory
    options = {
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "constant_memory": streamed,
        "in_memory": in_memory,
    }
    book = xlsxwriter.Workbook(target, options)
    fmts = workbook.formats(book)
    sheet = book.add_worksheet("data")
    names = [neutralise(str(name)) for name in df.columns]
    kinds = {name: _column_kind(df.iloc[:, j]) for j, name in enumerate(names)}
    col_formats = {name: fmts[kind] for name, kind in kinds.items() if kind in fmts}
    widths = {name: _width(name) for name in names}
    used: set[str] = set()
    if streamed:
        for col, name in enumerate(names):
            sheet.write_string(0, col, name, fmts["head"])
            sheet.set_column(col, col, widths[name], col_formats.get(name))
        sheet.autofilter(0, 0, max(len(df), 1), max(len(names) - 1, 0))
        sheet.freeze_panes(1, 0)
    else:
        workbook.add_table(
            sheet,
            names,
            0,
            len(df),
            name=workbook.table_name("data", used),
            head=fmts["head"],
            column_formats=col_formats,
            widths=widths,
        )
    columns = [_plain_column(df.iloc[:, position]) for position in range(df.shape[1])]
    dates = [kinds[name] == "date" for name in names]
    value_col = names.index("value") if "value" in names else -1
    row_formats = _value_formats(df, units, fmts) if value_col >= 0 and units else None
    for row, values in enumerate(zip(*columns, strict=True), start=1):
        for col, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(row, col, value)
            elif col == value_col and row_formats is not None and isinstance(value, int | float):
                sheet.write_number(row, col, value, row_formats[row - 1])
            elif isinstance(value, int | float):
                sheet.write_number(row, col, value)
            elif dates[col]:
                sheet.write_datetime(row, col, pd.Timestamp(value).to_pydatetime(), fmts["date"])
            else:
                sheet.write_string(row, col, neutralise(str(value)))
    meta = dict(meta or {})
    if meta.get("publication_version") is None and meta.get("publication") is not None:
        meta["publication_version"] = meta["publication"]
    about = [
        (key.replace("_", " ").capitalize(), meta[key])
        for key in (
            "request",
            "requester",
            "frequency",
            "provider_code",
            "publication_version",
            "period_from",
            "period_to",
        )
        if meta.get(key) is not None
    ]
    if meta.get("publication_version") is not None:
        about.append(("As of", f"publication {meta['publication_version']}"))
    about.append(("Rows", f"{len(df):,}"))
    about.append(("Written", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")))
    definitions = [(n, COLUMN_DEFINITIONS[n]) for n in names if n in COLUMN_DEFINITIONS]
    title = f"{meta.get('request') or meta.get('provider_code') or 'collectonce'} data"
    workbook.readme_sheet(book, fmts, title, about, definitions, used=used)
    book.close()


#: Workbooks of at most this many rows hold an Excel table; larger ones a filter (streamed).
TABLE_ROWS = 100_000


def _value_formats(
    df: pd.DataFrame, units: Mapping[str, str], fmts: dict[str, Any]
) -> list[Any] | None:
    """Each row's number format for its value: a percentage, a count or a number, from the
    unit of its metric (a sum of metrics keeps the unit they share)."""
    column = "metric" if "metric" in df.columns else None
    if column is None:
        return None
    kind = {"percent": "percent", "count": "count"}
    out = []
    for codes in df[column].astype(str).tolist():
        found = {units.get(code, "") for code in codes.split("+")}
        unit = found.pop() if len(found) == 1 else ""
        out.append(fmts[kind.get(unit, "number")])
    return out


def _column_kind(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind == "M":
            return "date"
        if dtype.kind in "iu":
            return "count"
        if dtype.kind == "f":
            return "number"
    if len(series) and isinstance(series.iloc[0], dt.date):
        return "date"
    return "text"


def _width(name: str) -> float:
    return {"item_label": 48, "label": 40, "metric": 30, "flag": 14, "period": 12}.get(name, 16)


def write_export(
    df: pd.DataFrame,
    fmt: str,
    dest: BinaryIO | Path,
    *,
    meta: dict[str, Any] | None = None,
    units: Mapping[str, str] | None = None,
) -> None:
    """Write `df` as `fmt` (csv, json, parquet or xlsx) to a path or a binary file object.
    `units` (metric code → unit) lets a workbook format each value as a count or a percentage."""
    if fmt not in FORMATS:
        raise BadParameter(f"format {fmt!r} is not one of: {', '.join(FORMATS)}")
    if isinstance(dest, str | Path):
        path = Path(dest)
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "xlsx":
            _write_xlsx(df, str(path), meta, units)
            return
        with path.open("wb") as handle:
            write_export(df, fmt, handle, meta=meta, units=units)
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
        # categorical text is written as plain text, so every reader gets strings back
        plain = pa.schema(
            [
                f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f
                for f in table.schema
            ]
        )
        pq.write_table(table.cast(plain).replace_schema_metadata(None), dest)
    else:
        buffer = io.BytesIO()
        _write_xlsx(df, buffer, meta, units)
        dest.write(buffer.getvalue())
