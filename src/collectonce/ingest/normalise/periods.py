"""Periods as providers write them, read into the first day of the metric's grain (see
`collectonce.ingest.normalise` for the forms understood).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as _compute

from collectonce import nhs_periods
from collectonce.ingest.normalise.text import TRIM_CHARS, to_text_array

#: pyarrow.compute makes its kernels when pyarrow loads, so a type checker knows none by name.
pc: Any = _compute

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


def month_label(days: int) -> str:
    """A period held as days since 1970-01-01, written as its month (``2019-01``)."""
    day = _EPOCH + dt.timedelta(days=days)
    return f"{day.year}-{day.month:02d}"


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
