"""Month parameters shared by publication, locks and views.

Periods are identified by their first day (a `datetime.date`). Months are written ``YYYY-MM``
(``2018-11``). Quarters and years are NHS ones unless a request says otherwise: see
`collectonce.nhs_periods`, which the functions below call.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from collectonce import nhs_periods
from collectonce.nhs_periods import MONTHS_IN, NHS_YEAR_START
from collectonce.publish.errors import BadParameter

__all__ = ["MONTHS_IN", "month_index", "next_period_start", "parse_month", "parse_range"]

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


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


def period_start(day: dt.date, frequency: str, year_start: str = NHS_YEAR_START) -> dt.date:
    """First day of the month, quarter or year that contains `day`."""
    return nhs_periods.start_of(day, frequency, year_start)


def period_end_month(day: dt.date, frequency: str, year_start: str = NHS_YEAR_START) -> dt.date:
    """First day of the last month of the period that contains `day`."""
    return nhs_periods.last_month_of(day, frequency, year_start)


def month_index(days: pd.Series) -> np.ndarray:
    """Months since year 0 for a datetime64 series (vectorised period arithmetic)."""
    return nhs_periods.month_numbers(days)


def next_period_start(
    days: pd.Series, frequency: str, year_start: str = NHS_YEAR_START
) -> pd.Series:
    """For each date, the first day after the month/quarter/year containing it (vectorised)."""
    return nhs_periods.next_period_start(days, frequency, year_start)
