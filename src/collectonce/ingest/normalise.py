"""Normalise what providers type into canonical codes, periods and values.

Every function is pure: it returns new arrays, Series or frames and never changes its input.
The work is vectorised. Periods are parsed once per *distinct* text and mapped back onto the rows,
values are parsed with Arrow compute kernels, so ten million cells cost a few passes over memory
and no Python loop per row.

Periods understood (case-insensitive, surrounding spaces ignored):

- months: ``2019-01``, ``2019/01``, ``201901``, ``2019M01``, ``01/2019``, ``Jan-19``,
  ``Jan 2019``, ``January 2019``, ``2019-Jan``, and a collection's code before the month as
  NHS England's published files write it (``MSitAE-JANUARY-2019``);
- days (normalised to their month): ``2019-01-01``, ``2019-01-01 00:00:00``,
  ``2019-01-01T00:00:00Z``, ``01/01/2019`` (UK order, day first), ``1/1/19``, ``1-Jan-2019``;
- Excel serial day numbers such as ``43466`` (2019-01-01) and Excel date cells;
- quarters: ``2019-Q1``, ``2019 Q1``, ``Q1 2019`` (calendar: Q1 is January to March) and NHS
  financial-year quarters ``2018/19 Q4`` or ``Q4 2018-19`` (Q4 of 2018/19 is January to March 2019);
- years: NHS financial years ``2018/19``, ``2018-19``, ``FY2018/19``, ``2018/2019`` and
  ``2018-2019`` (all April 2018 to March 2019), and calendar years ``2019``.

A period is then normalised to the first day of the metric's grain (month, quarter or year) that
contains it, through `collectonce.nhs_periods`: a year is an NHS financial year (``Y-MAR``,
first day 1 April) unless every request asking for the metric says ``year_start: january``,
when it is a calendar year (grain code `CALENDAR_YEAR`). A quarter or year given for a monthly
metric is a *grain mismatch*: a quarterly total cannot be split into months. A calendar year
given for a financial-year metric (or the other way round) is a *year mismatch*: the two
overlap by nine months, so neither can be taken for the other.

Values understood: plain numbers, ``1,234`` and ``1 234`` (thousands separators in groups of
three), ``92.5%``, ``£1,200``, an accountant's negative ``(1,234)``, a typographic minus ``−5``,
surrounding spaces; ``*`` is the NHS small-number suppression marker (kept as *suppressed*, no
value); blank, ``-``, ``..``, ``n/a``, ``null`` are *missing*. A true ``0`` stays a reported zero.
``NaN``, ``inf`` and numbers too large for a float are not finite numbers; a finite number beyond
``MAX_ABS_VALUE`` (``1e308``) is too large to be a real figure; anything else
(``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)``, ``92,5``) is not a number.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collectonce import nhs_periods

Grain = Literal["month", "quarter", "year"]
GRAINS: tuple[Grain, ...] = ("month", "quarter", "year")
GRAIN_CODE: dict[str, int] = {g: i for i, g in enumerate(GRAINS)}
#: Grain codes past `GRAINS` (whose "year" is the NHS financial year): keep the grain the
#: period was written in; a calendar year (a metric whose requests say ``year_start: january``).
AS_WRITTEN, CALENDAR_YEAR = 3, 4

#: Problem codes for periods (per row).
PERIOD_OK, PERIOD_BLANK, PERIOD_UNREADABLE, PERIOD_TOO_COARSE = 0, 1, 2, 3
#: A calendar year given for a financial-year metric, or a financial year for a calendar one.
PERIOD_YEAR_KIND = 4
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
#: Characters trimmed from both ends of every cell: ASCII whitespace and the Unicode spaces
#: that spreadsheets paste (no-break, thin and narrow no-break spaces), plus a stray BOM.
TRIM_CHARS = " \t\r\n\x0b\x0c\xa0\u2007\u2009\u202f\ufeff"

_NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_THOUSANDS_RE = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"
_SPACES = "[ \u00a0\u2007\u2009\u202f]"
_SPACED_THOUSANDS_RE = rf"^[+-]?\d{{1,3}}({_SPACES}\d{{3}})+(\.\d+)?$"
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EPOCH = dt.date(1970, 1, 1)

_MONTH_NAMES: dict[str, int] = {}
for _i, _name in enumerate(
    (
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ),
    start=1,
):
    _MONTH_NAMES[_name] = _i
    _MONTH_NAMES[_name[:3]] = _i
_MONTH_NAMES["sept"] = 9

_SEP = r"[\s\-_/.,']*"
_TIME = r"(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_RE_ISO_DAY = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: ?z| ?[+-]\d{2}:?\d{2})?)?$"
)
_RE_YEAR_M = re.compile(r"^(\d{4}) ?m(\d{1,2})$")
_RE_YEAR_MONTH = re.compile(r"^(\d{4})([-/.])(\d{1,2})$")
_RE_YYYYMM = re.compile(r"^(\d{4})(\d{2})$")
_RE_UK_DAY = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?: \d{1,2}:\d{2}(?::\d{2})?)?$"
)
_RE_MONTH_YEAR_NUM = re.compile(r"^(\d{1,2})[/.\-](\d{4})$")
_RE_NAME_YEAR = re.compile(rf"^([a-z]{{3,9}}){_SEP}(\d{{4}}|\d{{2}})$")
_RE_YEAR_NAME = re.compile(rf"^(\d{{4}}){_SEP}([a-z]{{3,9}})$")
_RE_DAY_NAME_YEAR = re.compile(
    rf"^(\d{{1,2}})(?:st|nd|rd|th)?{_SEP}([a-z]{{3,9}}){_SEP}(\d{{4}}|\d{{2}})$"
)
#: A collection code, then the month's name and the year: ``MSitAE-JANUARY-2019``.
_RE_CODE_NAME_YEAR = re.compile(r"^([a-z][a-z0-9]{1,15})[\s\-_]+([a-z]{3,9})[\s\-_]+(\d{4})$")
_RE_Q_CAL = re.compile(r"^(\d{4})[\s\-_/]*q([1-4])$")
_RE_Q_CAL_FIRST = re.compile(r"^q([1-4])[\s\-_/]*(\d{4})$")
_RE_Q_FY = re.compile(r"^(?:fy\s*)?(\d{4})[/\-](\d{2}|\d{4})[\s\-_/,]*q([1-4])$")
_RE_Q_FY_FIRST = re.compile(r"^q([1-4])[\s\-_/,]*(?:fy\s*)?(\d{4})[/\-](\d{2}|\d{4})$")
_RE_YEAR = re.compile(r"^(\d{4})$")
_RE_FY = re.compile(r"^(?:fy\s*)?(\d{4}) ?[/-] ?(\d{2}|\d{4})$")
_RE_SERIAL = re.compile(r"^(\d{5})(?:\.\d+)?$")


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------


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
        values = values.combine_chunks()
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


def _map_distinct(arr: pa.Array, func: object) -> pa.Array:
    """Apply a per-dictionary-value arrow function to a (possibly dictionary) array."""
    if pa.types.is_dictionary(arr.type):
        return pc.take(func(arr.dictionary), arr.indices)  # type: ignore[operator]
    return func(arr)  # type: ignore[operator]


def normalise_provider_codes_arrow(arr: pa.Array) -> pa.Array:
    """ODS codes trimmed and upper-cased (blank → null)."""
    return _map_distinct(arr, lambda a: pc.utf8_upper(trim_text(a)))


def normalise_metric_ids_arrow(arr: pa.Array) -> pa.Array:
    """Metric codes trimmed and lower-cased (blank → null)."""
    return _map_distinct(arr, lambda a: pc.utf8_lower(trim_text(a)))


def normalise_provider_codes(codes: pd.Series) -> pd.Series:
    """ODS codes as stored: trimmed and upper-cased; blanks become missing."""
    out = normalise_provider_codes_arrow(to_text_array(codes))
    return pd.Series(out.to_pandas(), index=codes.index, name=codes.name)


def normalise_metric_ids(codes: pd.Series) -> pd.Series:
    """Metric codes as stored: trimmed and lower-cased; blanks become missing."""
    out = normalise_metric_ids_arrow(to_text_array(codes))
    return pd.Series(out.to_pandas(), index=codes.index, name=codes.name)


# --------------------------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodText:
    """What one period text means: its first day and the grain it was written in."""

    start: dt.date | None
    grain: Grain | None
    problem: str | None = None
    #: For a year: ``april`` (a financial year such as 2018/19) or ``january`` (2019).
    year_start: str = nhs_periods.NHS_YEAR_START


def _year2(text: str) -> int:
    return 2000 + int(text) if len(text) == 2 else int(text)


def _month_start(year: int, month: int) -> dt.date | None:
    if not (1900 <= year <= 9999 and 1 <= month <= 12):
        return None
    return dt.date(year, month, 1)


def _day(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day) if year >= 1900 else None
    except ValueError:
        return None


def _fy_quarter(first_year: int, second: str, quarter: int) -> dt.date | None:
    second_year = int(second)
    if len(second) == 2:
        second_year = (first_year // 100) * 100 + int(second)
        if second_year < first_year:
            second_year += 100
    if second_year != first_year + 1:
        return None
    months = first_year * 12 + 3 + 3 * (quarter - 1)  # Q1 of a financial year starts in April
    return _month_start(months // 12, months % 12 + 1)


@lru_cache(maxsize=65536)
def parse_period_text(raw: str) -> PeriodText:
    """One period as a person wrote it → its first day and grain (or a problem)."""
    text = re.sub(r"\s+", " ", raw.strip(TRIM_CHARS).lower())
    if not text:
        return PeriodText(None, None, "blank")
    m = _RE_ISO_DAY.match(text)
    if m:
        day = _day(int(m[1]), int(m[2]), int(m[3]))
        return _as_month(day)
    m = _RE_YEAR_MONTH.match(text)
    if m:
        year, sep, second = int(m[1]), m[2], m[3]
        if (
            sep in "/-"
            and len(second) == 2
            and int(second) == (year + 1) % 100
            and int(second) > 12
        ):
            return PeriodText(dt.date(year, 4, 1), "year")
        return _as_month(_month_start(year, int(second)))
    m = _RE_FY.match(text)
    if m:
        start = _fy_quarter(int(m[1]), m[2], 1)
        return PeriodText(start, "year") if start else PeriodText(None, None, "unreadable")
    m = _RE_YYYYMM.match(text)
    if m:
        return _as_month(_month_start(int(m[1]), int(m[2])))
    m = _RE_UK_DAY.match(text)
    if m:
        return _as_month(_day(_year2(m[3]), int(m[2]), int(m[1])))
    m = _RE_YEAR_M.match(text)
    if m:
        return _as_month(_month_start(int(m[1]), int(m[2])))
    m = _RE_MONTH_YEAR_NUM.match(text)
    if m:
        return _as_month(_month_start(int(m[2]), int(m[1])))
    m = _RE_NAME_YEAR.match(text)
    if m and m[1] in _MONTH_NAMES:
        return _as_month(_month_start(_year2(m[2]), _MONTH_NAMES[m[1]]))
    m = _RE_YEAR_NAME.match(text)
    if m and m[2] in _MONTH_NAMES:
        return _as_month(_month_start(int(m[1]), _MONTH_NAMES[m[2]]))
    m = _RE_DAY_NAME_YEAR.match(text)
    if m and m[2] in _MONTH_NAMES:
        return _as_month(_day(_year2(m[3]), _MONTH_NAMES[m[2]], int(m[1])))
    m = _RE_CODE_NAME_YEAR.match(text)
    if m and m[2] in _MONTH_NAMES and m[1] not in _MONTH_NAMES:
        return _as_month(_month_start(int(m[3]), _MONTH_NAMES[m[2]]))
    m = _RE_Q_CAL.match(text)
    if m:
        return _as_quarter(_month_start(int(m[1]), 3 * int(m[2]) - 2))
    m = _RE_Q_CAL_FIRST.match(text)
    if m:
        return _as_quarter(_month_start(int(m[2]), 3 * int(m[1]) - 2))
    m = _RE_Q_FY.match(text)
    if m:
        return _as_quarter(_fy_quarter(int(m[1]), m[2], int(m[3])))
    m = _RE_Q_FY_FIRST.match(text)
    if m:
        return _as_quarter(_fy_quarter(int(m[2]), m[3], int(m[1])))
    m = _RE_YEAR.match(text)
    if m:
        start = _month_start(int(m[1]), 1)
        if start is None:
            return PeriodText(None, None, "unreadable")
        return PeriodText(start, "year", year_start="january")
    m = _RE_SERIAL.match(text)
    if m:
        return _as_month(excel_serial_to_date(float(text)))
    return PeriodText(None, None, "unreadable")


def _as_month(day: dt.date | None) -> PeriodText:
    if day is None:
        return PeriodText(None, None, "unreadable")
    return PeriodText(dt.date(day.year, day.month, 1), "month")


def _as_quarter(day: dt.date | None) -> PeriodText:
    if day is None:
        return PeriodText(None, None, "unreadable")
    return PeriodText(day, "quarter")


def excel_serial_to_date(serial: float) -> dt.date | None:
    """An Excel (1900 date system) serial day number → the date; implausible numbers → None.

    Only 1927-05-18 (10,000) to 2118-12-31 are taken as dates, so a count typed into the period
    column is not silently read as one.
    """
    if not (10_000 <= serial <= 80_000):
        return None
    return _EXCEL_EPOCH + dt.timedelta(days=int(serial))


def period_start(day: dt.date, grain: str, year_start: str = nhs_periods.NHS_YEAR_START) -> dt.date:
    """First day of the month, quarter or year containing `day` (an NHS financial year from
    April unless `year_start` is ``january``)."""
    if grain == "month":
        return dt.date(day.year, day.month, 1)
    return nhs_periods.start_of(day, grain, year_start)


@dataclass(frozen=True)
class PeriodParse:
    """Per-row results of period normalisation, as Arrow/numpy arrays of the rows' length."""

    period: pa.Array  # date32, null where there is a problem
    problem: np.ndarray  # int8: PERIOD_OK / BLANK / UNREADABLE / TOO_COARSE
    given_by_unique: np.ndarray  # int8 per distinct text (+1 for blank): grain as written
    index: np.ndarray  # int64 per row: which distinct text (the last one means blank)
    any_problem: bool

    @property
    def given_grain(self) -> np.ndarray:
        """Per row, the grain the period was written in (0 month, 1 quarter, 2 year, -1)."""
        return self.given_by_unique[self.index]


def _period_table(uniques: list[object]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days since epoch and problem per (target grain code 0..4, distinct text): month,
    quarter, financial year, as written, calendar year."""
    n_unique = len(uniques)
    days = np.zeros((5, n_unique + 1), dtype=np.int32)
    problem = np.full((5, n_unique + 1), PERIOD_BLANK, dtype=np.int8)
    given = np.full(n_unique + 1, -1, dtype=np.int8)
    for u, text in enumerate(uniques):
        days[:, u], problem[:, u], given[u] = _period_column(None if text is None else str(text))
    return days, problem, given


@lru_cache(maxsize=65_536)
def _period_column(text: str | None) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """One distinct period text: days since epoch and problem per target grain (see
    `_period_table`), and the grain it was written in. Cached: a large file's batches repeat
    the same few hundred periods."""
    days = [0] * 5
    parsed = parse_period_text(text) if text is not None else PeriodText(None, None)
    if parsed.start is None or parsed.grain is None:
        blank = text is None or parsed.problem == "blank"
        return tuple(days), (PERIOD_BLANK if blank else PERIOD_UNREADABLE,) * 5, -1
    problem = [PERIOD_OK] * 5
    wanted = (
        ("month", "april"),
        ("quarter", "april"),
        ("year", "april"),
        (parsed.grain, parsed.year_start),
        ("year", "january"),
    )
    for g, (grain, year_start) in enumerate(wanted):
        if GRAIN_CODE[parsed.grain] > GRAIN_CODE[grain]:
            problem[g] = PERIOD_TOO_COARSE
            continue
        if parsed.grain == "year" and parsed.year_start != year_start:
            problem[g] = PERIOD_YEAR_KIND
            continue
        days[g] = (period_start(parsed.start, grain, year_start) - _EPOCH).days
    return tuple(days), tuple(problem), GRAIN_CODE[parsed.grain]


def normalise_periods_arrow(
    arr: pa.Array, grain_codes: np.ndarray | int | None = None
) -> PeriodParse:
    """Period texts → first day of each row's grain.

    `grain_codes` holds, per row, the metric's grain (0 month, 1 quarter, 2 financial year,
    4 calendar year, -1 unknown: keep the grain the period was written in). Each distinct text
    is parsed once; when every row wants the same grain and every text is fine, the result is
    one Arrow `take`.
    """
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    n = len(arr)
    n_unique = len(arr.dictionary)
    days, problem, given = _period_table(arr.dictionary.to_pylist())
    has_nulls = arr.null_count > 0
    indices = arr.indices
    if has_nulls:
        nulls = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        idx = np.where(nulls, n_unique, pc.fill_null(indices, 0).to_numpy(zero_copy_only=False))
        idx = idx.astype(np.int64, copy=False)
    else:
        idx = indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    if grain_codes is None:
        uniform: int | None = 3
    elif isinstance(grain_codes, int | np.integer):
        uniform = 3 if grain_codes < 0 else int(grain_codes)
    elif n and int(grain_codes.min()) == int(grain_codes.max()):
        uniform = 3 if int(grain_codes[0]) < 0 else int(grain_codes[0])
    elif n == 0:
        uniform = 3
    else:
        uniform = None
    if uniform is not None and not has_nulls and not (problem[uniform, :n_unique] != 0).any():
        table = pa.array(days[uniform, :n_unique], type=pa.int32()).view(pa.date32())
        period = pc.take(table, indices)
        return PeriodParse(period, np.zeros(n, dtype=np.int8), given, idx, False)
    if uniform is not None:
        row_problem = problem[uniform][idx]
        row_days = days[uniform][idx]
    else:
        assert isinstance(grain_codes, np.ndarray)
        target = np.where(grain_codes < 0, 3, grain_codes).astype(np.int64)
        flat = target * (n_unique + 1) + idx
        row_problem = problem.ravel()[flat]
        row_days = days.ravel()[flat]
    bad = row_problem != PERIOD_OK
    period = pa.array(row_days, type=pa.int32(), mask=bad).view(pa.date32())
    return PeriodParse(period, row_problem, given, idx, bool(bad.any()))


def normalise_periods(
    periods: pd.Series,
    grain: str | pd.Series | None = None,
    year_start: str = nhs_periods.NHS_YEAR_START,
) -> pd.DataFrame:
    """Normalise period texts (or date cells) to the first day of the metric's grain (years
    are financial years unless `year_start` is ``january``).

    Returns a frame on the same index with ``period`` (datetime.date or None), ``given_grain``
    (the grain the text was written in) and ``problem`` (None, ``"blank"``, ``"unreadable"``,
    ``"grain_mismatch"`` when a quarter or year was given for a finer-grained metric, or
    ``"year_mismatch"`` when a calendar year was given for a financial one or the other way).
    """
    arr = to_text_array(periods)
    if grain is None:
        codes = None
    elif isinstance(grain, str):
        code = CALENDAR_YEAR if grain == "year" and year_start == "january" else GRAIN_CODE[grain]
        codes = np.full(len(arr), code, dtype=np.int8)
    else:
        codes = grain.map(GRAIN_CODE).fillna(-1).to_numpy(dtype=np.int8)
    parsed = normalise_periods_arrow(arr, codes)
    names = {PERIOD_OK: None, PERIOD_BLANK: "blank", PERIOD_UNREADABLE: "unreadable"}
    names[PERIOD_TOO_COARSE] = "grain_mismatch"
    names[PERIOD_YEAR_KIND] = "year_mismatch"
    grain_names = np.array([*GRAINS, None], dtype=object)
    return pd.DataFrame(
        {
            "period": pd.Series(parsed.period.to_pylist(), dtype=object, index=periods.index),
            "given_grain": pd.Series(
                grain_names[parsed.given_grain], dtype=object, index=periods.index
            ),
            "problem": pd.Series(
                [names[int(p)] for p in parsed.problem], dtype=object, index=periods.index
            ),
        },
        index=periods.index,
    )


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


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


def status_array(codes: np.ndarray) -> pa.Array:
    """Status codes → an Arrow string array of reported | suppressed | missing."""
    if len(codes) and int(codes.min()) == int(codes.max()):
        return repeat_text(STATUS_NAMES[int(codes[0])], len(codes))
    dictionary = pa.array(STATUS_NAMES, type=pa.string())
    return pc.take(dictionary, pa.array(codes.astype(np.int32, copy=False)))


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
