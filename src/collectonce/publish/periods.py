"""Period arithmetic shared by publication, locks and views.

Periods are identified by their first day (a `datetime.date`). Outside the library they are
written as text:

- month: ``YYYY-MM`` (``2018-11``);
- quarter: ``YYYY-Qn`` for *calendar* quarters (Q1 = January to March), not NHS financial
  quarters, because the catalogue's frequencies are calendar ones;
- year: ``YYYY`` (calendar year).
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from collectonce.publish.errors import BadParameter

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
MONTHS_IN: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}


def parse_month(text: str, what: str = "period") -> dt.date:
    """`YYYY-MM` → the first day of that month; anything else raises BadParameter."""
    match = MONTH_RE.match(str(text).strip()) if text is not None else None
    if not match:
        raise BadParameter(f"{what} {text!r} is not a month: write it as YYYY-MM, e.g. 2018-11")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise BadParameter(f"{what} {text!r} has month {month:02d}: use 01 to 12")
    if year < 1900:
        raise BadParameter(f"{what} {text!r} is before 1900: check the year")
    return dt.date(year, month, 1)


def parse_range(
    period_from: str | None, period_to: str | None
) -> tuple[dt.date | None, dt.date | None]:
    """Validate an inclusive month range given as `YYYY-MM` text (either end may be open)."""
    start = parse_month(period_from, "from") if period_from else None
    end = parse_month(period_to, "to") if period_to else None
    if start and end and start > end:
        raise BadParameter(f"from {period_from} is after to {period_to}: swap them")
    return start, end


def month_label(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def period_start(day: dt.date, frequency: str) -> dt.date:
    """First day of the month, calendar quarter or year that contains `day`."""
    if frequency == "year":
        return dt.date(day.year, 1, 1)
    if frequency == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return dt.date(day.year, day.month, 1)


def period_end_month(day: dt.date, frequency: str) -> dt.date:
    """First day of the last month of the period that contains `day`."""
    start = period_start(day, frequency)
    months = start.year * 12 + start.month - 1 + MONTHS_IN[frequency] - 1
    return dt.date(months // 12, months % 12 + 1, 1)


def month_index(days: pd.Series) -> np.ndarray:
    """Months since year 0 for a datetime64 series (vectorised period arithmetic)."""
    values = pd.DatetimeIndex(days)
    return np.asarray(values.year * 12 + values.month - 1, dtype=np.int64)


def next_period_start(days: pd.Series, frequency: str) -> pd.Series:
    """For each date, the first day after the month/quarter/year containing it (vectorised)."""
    months = month_index(days)
    size = MONTHS_IN[frequency]
    after = (months // size) * size + size
    years, month = after // 12, after % 12 + 1
    out = pd.to_datetime({"year": years, "month": month, "day": np.ones_like(years)})
    return pd.Series(out.to_numpy(), index=days.index)
