"""Values as providers write them, read into numbers with a status: reported, suppressed
(``*``) or missing (blank), a true zero kept apart from a blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as _compute

from collectonce.ingest.normalise.text import TRIM_CHARS, to_text_array

#: pyarrow.compute makes its kernels when pyarrow loads, so a type checker knows none by name.
pc: Any = _compute

#: Problem codes for values (per row).
VALUE_OK, VALUE_NOT_NUMBER, VALUE_NOT_FINITE, VALUE_TOO_LARGE = 0, 1, 2, 3
#: The largest magnitude taken as a real figure: beyond it a float no longer holds every whole
#: number exactly, and no NHS count, rate or amount comes near it (1e308 is a typing error).
MAX_ABS_VALUE = 1e15
#: Status codes for values (per row), in the order of VALUE_STATUSES.
STATUS_REPORTED, STATUS_SUPPRESSED, STATUS_MISSING = 0, 1, 2
STATUS_NAMES = ("reported", "suppressed", "missing")

SUPPRESSION_MARKER = "*"
MISSING_TOKENS = ("", "-", "–", "—", "..", "n/a", "na", "null", "none", "#n/a")
NON_FINITE_TOKENS = (
    "nan",
    "+nan",
    "-nan",
    "inf",
    "+inf",
    "-inf",
    "infinity",
    "+infinity",
    "-infinity",
    "#num!",
    "#div/0!",
)

_NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_THOUSANDS_RE = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"
_SPACES = "[ \u00a0\u2007\u2009\u202f]"
_SPACED_THOUSANDS_RE = rf"^[+-]?\d{{1,3}}({_SPACES}\d{{3}})+(\.\d+)?$"


@dataclass(frozen=True)
class ValueParse:
    """Per-row results of value parsing, as Arrow/numpy arrays of the rows' length."""

    value: pa.Array  # float64, null unless reported and finite
    status: np.ndarray  # int8: STATUS_REPORTED / SUPPRESSED / MISSING
    problem: np.ndarray  # int8: VALUE_OK / NOT_NUMBER / NOT_FINITE
    percent: np.ndarray  # bool: written with a % sign
    any_problem: bool = True


def _bool(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    filled = pc.fill_null(arr, False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def parse_values_arrow(arr: pa.Array) -> ValueParse:
    """Value texts → numbers with a status; problems per row instead of exceptions."""
    n = len(arr)
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(pa.string())
    try:  # fast path: every cell is a plain number or blank
        numbers = pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _parse_values_slow(arr)
    zeros = np.zeros(n, dtype=np.int8)
    if (
        arr.null_count == 0
        and (n == 0 or pc.all(pc.is_finite(numbers)).as_py())
        and (n == 0 or (pc.max(pc.abs(numbers)).as_py() or 0) <= MAX_ABS_VALUE)
    ):
        return ValueParse(numbers, zeros, zeros, np.zeros(n, dtype=bool), False)
    blank = _bool(arr.is_null())
    finite = _bool(pc.is_finite(numbers))
    problem = np.where(~blank & ~finite, VALUE_NOT_FINITE, VALUE_OK).astype(np.int8)
    problem = _too_large(numbers, problem)
    status = np.where(blank, STATUS_MISSING, STATUS_REPORTED).astype(np.int8)
    ok = finite & (problem == VALUE_OK)
    value = pc.if_else(pa.array(ok), numbers, pa.scalar(None, pa.float64()))
    return ValueParse(value, status, problem, np.zeros(n, dtype=bool), bool(problem.any()))


def _too_large(numbers: pa.Array, problem: np.ndarray) -> np.ndarray:
    """`problem` with VALUE_TOO_LARGE where a finite number is beyond `MAX_ABS_VALUE`."""
    large = _bool(pc.greater(pc.abs(numbers), MAX_ABS_VALUE)) & (problem == VALUE_OK)
    if not large.any():
        return problem
    out = problem.copy()
    out[large & _bool(pc.is_finite(numbers))] = VALUE_TOO_LARGE
    return out


def _parse_values_slow(arr: pa.Array) -> ValueParse:
    """Plain numbers are found cheaply and cast at once; only the other cells go the long way."""
    n = len(arr)
    blank = _bool(arr.is_null())
    plain = _bool(pc.ascii_is_decimal(arr))  # whole numbers: no regex needed
    check = np.flatnonzero(~plain & ~blank)
    if len(check):
        candidates = arr.take(pa.array(check))
        plain[check] = _bool(pc.match_substring_regex(candidates, _NUMBER_RE))
    other = ~plain & ~blank
    numbers = pc.cast(pc.if_else(pa.array(plain), arr, pa.scalar(None, pa.string())), pa.float64())
    finite = _bool(pc.is_finite(numbers))
    status = np.where(blank, STATUS_MISSING, STATUS_REPORTED).astype(np.int8)
    problem = np.where(plain & ~finite, VALUE_NOT_FINITE, VALUE_OK).astype(np.int8)
    problem = _too_large(numbers, problem)
    percent = np.zeros(n, dtype=bool)
    where = np.flatnonzero(other)
    if len(where):
        rest = _parse_values_text(arr.take(pa.array(where)))
        status[where] = rest.status
        problem[where] = rest.problem
        percent[where] = rest.percent
        numbers = pc.replace_with_mask(numbers, pa.array(other), rest.value)
    ok = (status == STATUS_REPORTED) & (problem == VALUE_OK)
    value = pc.if_else(pa.array(ok), numbers, pa.scalar(None, pa.float64()))
    return ValueParse(value, status, problem, percent, bool(problem.any()))


def _parse_values_text(arr: pa.Array) -> ValueParse:
    """Every rule for cells that are not plain numbers: spaces, *, %, £, 1,234, words."""
    text = pc.utf8_trim(arr, characters=TRIM_CHARS)
    lower = pc.utf8_lower(text)
    missing = _bool(arr.is_null()) | _bool(pc.is_in(lower, pa.array(MISSING_TOKENS)))
    suppressed = _bool(pc.equal(text, SUPPRESSION_MARKER))
    percent = _bool(pc.ends_with(text, "%"))
    body = pc.utf8_rtrim(pc.utf8_rtrim(text, characters="%"), characters=TRIM_CHARS)
    body = pc.replace_substring_regex(body, "^[\u2212\u2013]", "-")  # a typographic minus
    # An accountant's negative, (1,234), is -1,234.
    body = pc.replace_substring_regex(body, r"^\(\s*([£]?\s*[0-9][0-9,.]*)\s*\)$", r"-\1")
    body = pc.replace_substring_regex(body, r"^([+-]?)\s*£\s*", r"\1")
    # Thousands separated by spaces (1 234, or the no-break and thin spaces of a formatted cell).
    spaced = pc.match_substring_regex(body, _SPACED_THOUSANDS_RE)
    body = pc.if_else(spaced, pc.replace_substring_regex(body, _SPACES, ""), body)
    thousands = pc.match_substring_regex(body, _THOUSANDS_RE)
    body = pc.if_else(thousands, pc.replace_substring(body, ",", ""), body)
    numeric = _bool(pc.match_substring_regex(body, _NUMBER_RE))
    words = _bool(pc.is_in(pc.utf8_lower(body), pa.array(NON_FINITE_TOKENS)))
    candidates = pc.if_else(pa.array(numeric), body, pa.scalar(None, pa.string()))
    numbers = pc.cast(candidates, pa.float64())
    finite = _bool(pc.is_finite(numbers))
    blank_or_marker = missing | suppressed
    problem = np.full(len(arr), VALUE_OK, dtype=np.int8)
    problem[~blank_or_marker & ~numeric] = VALUE_NOT_NUMBER
    problem[~blank_or_marker & ((numeric & ~finite) | words)] = VALUE_NOT_FINITE
    problem = _too_large(numbers, problem)
    status = np.full(len(arr), STATUS_REPORTED, dtype=np.int8)
    status[suppressed] = STATUS_SUPPRESSED
    status[missing] = STATUS_MISSING
    ok = (status == STATUS_REPORTED) & (problem == VALUE_OK)
    value = pc.if_else(pa.array(ok), numbers, pa.scalar(None, pa.float64()))
    return ValueParse(value, status, problem, percent & ok, bool(problem.any()))


def parse_values(values: pd.Series) -> pd.DataFrame:
    """Parse value cells. Returns a frame on the same index with ``value`` (float, NaN unless
    reported), ``value_status`` (reported | suppressed | missing), ``percent`` (written with a
    ``%`` sign) and ``problem`` (None, ``"not_a_number"``, ``"not_finite"`` or ``"too_large"``)."""
    parsed = parse_values_arrow(to_text_array(values))
    problems = np.array([None, "not_a_number", "not_finite", "too_large"], dtype=object)
    index = values.index
    return pd.DataFrame(
        {
            "value": pd.Series(parsed.value.to_numpy(zero_copy_only=False), index=index),
            "value_status": pd.Series(
                np.array(STATUS_NAMES, dtype=object)[parsed.status], dtype=object, index=index
            ),
            "percent": pd.Series(parsed.percent, index=index),
            "problem": pd.Series(problems[parsed.problem], dtype=object, index=index),
        },
        index=index,
    )


def status_array(codes: np.ndarray) -> pa.DictionaryArray:
    """Status codes → reported | suppressed | missing, dictionary-encoded (the codes are the
    indices)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes).astype(np.int32, copy=False), pa.int32()),
        pa.array(STATUS_NAMES, type=pa.string()),
    )
