"""Cells as text: header keys, trimmed cells, text arrays, provider codes and metric codes."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as _compute

#: pyarrow.compute makes its kernels when pyarrow loads, so a type checker knows none by name.
pc: Any = _compute

#: Characters trimmed from both ends of every cell: ASCII whitespace and the Unicode spaces
#: that spreadsheets paste (no-break, thin and narrow no-break spaces), plus a stray BOM.
TRIM_CHARS = " \t\r\n\x0b\x0c\xa0\u2007\u2009\u202f\ufeff"


def header_key(name: object) -> str:
    """A header or code as compared: trimmed, lower-case, runs of spaces, `_` and `-` as `_`.

    ``" Org Code"``, ``"org_code"`` and ``"ORG-CODE"`` all give ``"org_code"``.
    """
    text = "" if name is None else str(name)
    text = text.strip(TRIM_CHARS).strip("\"'").strip(TRIM_CHARS).lower()
    return re.sub(r"[\s_\-]+", "_", text)


def cell_text(value: object) -> str | None:
    """One cell from a workbook, Parquet or JSON file as the text a person would have typed.

    Integral floats lose their ``.0``; dates become ISO dates; blanks become None.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime | pd.Timestamp):
        if pd.isna(value):
            return None
        if value.hour == value.minute == value.second == 0 and not value.microsecond:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    return str(value)


def to_text_array(values: Iterable[object] | pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Any column (strings, numbers, dates, mixed Python objects) as an Arrow string array."""
    if isinstance(values, pa.ChunkedArray):
        # pyarrow has no type stubs: its classes narrow nothing for a checker, so say which.
        values = cast(pa.ChunkedArray, values).combine_chunks()
    if isinstance(values, pa.Array):
        return _arrow_to_text(values)
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.CategoricalDtype):
            cats = to_text_array(pd.Series(values.cat.categories))
            codes = pa.array(values.cat.codes.to_numpy(), mask=values.cat.codes.to_numpy() < 0)
            return pc.take(cats, codes)
        if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
            return pa.array(values, type=pa.string(), from_pandas=True)
        if values.dtype != object:
            return _arrow_to_text(pa.array(values, from_pandas=True))
        values = values.tolist()
    return pa.array([cell_text(v) for v in values], type=pa.string())


def _arrow_to_text(arr: pa.Array) -> pa.Array:
    typ = arr.type
    if pa.types.is_dictionary(typ):
        return pc.take(_arrow_to_text(arr.dictionary), arr.indices)
    if pa.types.is_string(typ):
        return arr
    if pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        return arr.cast(pa.string())
    if pa.types.is_null(typ):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        return arr.cast(pa.date32()).cast(pa.string())
    if pa.types.is_integer(typ) or pa.types.is_boolean(typ):
        return arr.cast(pa.string())
    if pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        numbers = arr.cast(pa.float64())
        text = numbers.cast(pa.string())  # shortest round-trip form: 16428, 55.2, 1e+308
        return pc.if_else(pc.is_nan(numbers), pa.scalar(None, pa.string()), text)
    return pa.array([cell_text(v) for v in arr.to_pylist()], type=pa.string())


def trim_text(arr: pa.Array) -> pa.Array:
    """Trim spaces (Unicode spaces included) from both ends; empty cells become null."""
    trimmed = pc.utf8_trim(arr, characters=TRIM_CHARS)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _map_distinct(
    arr: pa.Array, func: Callable[[pa.Array], pa.Array], *, dictionary: bool = False
) -> pa.Array:
    """Apply a per-dictionary-value arrow function to a (possibly dictionary) array. With
    `dictionary`, a dictionary array stays one (over the mapped texts; a text mapped to null
    makes its rows null), so each distinct text is worked on once and never spread per row."""
    if not pa.types.is_dictionary(arr.type):
        return func(arr)
    mapped = func(arr.dictionary)
    if not dictionary:
        return pc.take(mapped, arr.indices)
    indices = arr.indices
    if mapped.null_count:
        indices = pc.if_else(
            pc.take(mapped.is_valid(), indices), indices, pa.scalar(None, indices.type)
        )
        mapped = pc.fill_null(mapped, "")
    return pa.DictionaryArray.from_arrays(indices, mapped)


def normalise_provider_codes_arrow(arr: pa.Array, *, dictionary: bool = False) -> pa.Array:
    """ODS codes trimmed and upper-cased (blank → null); see `_map_distinct` for
    `dictionary`."""
    return _map_distinct(arr, lambda a: pc.utf8_upper(trim_text(a)), dictionary=dictionary)


def normalise_metric_ids_arrow(arr: pa.Array) -> pa.Array:
    """Metric codes trimmed and lower-cased (blank → null)."""
    return _map_distinct(arr, lambda a: pc.utf8_lower(trim_text(a)))


def repeat_dictionary(text: str | None, n: int) -> pa.DictionaryArray:
    """A dictionary array of `n` copies of one text (or `n` nulls)."""
    if text is None:
        return pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int32()), pa.array([], pa.string()))
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([text], pa.string())
    )


def coded_text(arr: pa.Array) -> pa.DictionaryArray:
    """Text as a dictionary array with int32 indices (as `CODED_ROWS` holds it)."""
    if pa.types.is_dictionary(arr.type):
        if arr.type.index_type == pa.int32() and arr.type.value_type == pa.string():
            return arr
        return pa.DictionaryArray.from_arrays(
            arr.indices.cast(pa.int32()), arr.dictionary.cast(pa.string())
        )
    return pc.dictionary_encode(arr.cast(pa.string()))


def normalise_provider_codes(codes: pd.Series) -> pd.Series:
    """ODS codes as stored: trimmed and upper-cased; blanks become missing."""
    out = normalise_provider_codes_arrow(to_text_array(codes))
    return pd.Series(out.to_pandas(), index=codes.index, name=codes.name)


def normalise_metric_ids(codes: pd.Series) -> pd.Series:
    """Metric codes as stored: trimmed and lower-cased; blanks become missing."""
    out = normalise_metric_ids_arrow(to_text_array(codes))
    return pd.Series(out.to_pandas(), index=codes.index, name=codes.name)


def repeat_text(text: str | None, n: int) -> pa.Array:
    """A string array of `n` copies of one text, built straight from its buffers."""
    if text is None:
        return pa.nulls(n, pa.string())
    data = text.encode("utf-8")
    if len(data) * (n + 1) >= 2**31 - 1:
        return pc.take(pa.array([text], pa.string()), pa.array(np.zeros(n, dtype=np.int32)))
    offsets = np.arange(0, len(data) * (n + 1), len(data) or 1, dtype=np.int32)[: n + 1]
    if not data:
        offsets = np.zeros(n + 1, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)]
    )
