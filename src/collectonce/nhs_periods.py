"""NHS time: months, quarters and years as the NHS counts them, in one place.

The NHS year is the financial year, April to March, written ``2018/19``; its quarters are
written ``2018/19 Q1`` (April to June 2018) to ``2018/19 Q4`` (January to March 2019). A
request whose catalogue file says ``year_start: january`` counts calendar years (``2018``) and
calendar quarters (``2018-Q1``, January to March) instead.

Everything here is `pandas.Period` arithmetic with the anchored frequencies ``Q-MAR``/``Y-MAR``
(financial) and ``Q-DEC``/``Y-DEC`` (calendar); other modules call these helpers rather than
working out period boundaries by hand. Periods are identified by their first day; months are
also counted as ``year * 12 + month - 1`` ("month numbers") for vectorised work.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd

Frequency = Literal["month", "quarter", "year"]
YearStart = Literal["april", "january"]
YEAR_STARTS: tuple[str, ...] = ("april", "january")
#: The NHS default: financial years from April.
NHS_YEAR_START: YearStart = "april"
MONTHS_IN: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}

_FREQ: dict[tuple[str, str], str] = {
    ("month", "april"): "M",
    ("month", "january"): "M",
    ("quarter", "april"): "Q-MAR",
    ("quarter", "january"): "Q-DEC",
    ("year", "april"): "Y-MAR",
    ("year", "january"): "Y-DEC",
}


def pandas_freq(frequency: str, year_start: str = NHS_YEAR_START) -> str:
    """The pandas period frequency of a request period (``Q-MAR`` for an NHS quarter)."""
    try:
        return _FREQ[(frequency, year_start)]
    except KeyError:
        raise ValueError(
            f"unknown period {frequency!r} with year start {year_start!r}: use month, quarter "
            "or year, and april or january"
        ) from None


def period_of(
    day: dt.date | pd.Timestamp, frequency: str, year_start: str = NHS_YEAR_START
) -> pd.Period:
    """The `pandas.Period` (month, quarter or year) that holds `day`."""
    return pd.Period(pd.Timestamp(day), freq=pandas_freq(frequency, year_start))


def period_label(period: pd.Period, frequency: str, year_start: str = NHS_YEAR_START) -> str:
    """A period as the NHS writes it: ``2018-04``, ``2018/19 Q1``, ``2018/19``; or, with a
    calendar year, ``2018-Q1`` and ``2018``."""
    if frequency == "month":
        return f"{period.year:04d}-{period.month:02d}"
    if year_start == "january":
        return (
            f"{period.year:04d}-Q{period.quarter}" if frequency == "quarter" else f"{period.year}"
        )
    if frequency == "quarter":
        return f"{financial_year_label(period.qyear)} Q{period.quarter}"
    return financial_year_label(period.year)


def financial_year_label(ending_year: int) -> str:
    """The financial year that ends in March of `ending_year`: 2019 → ``2018/19``."""
    return f"{ending_year - 1:04d}/{ending_year % 100:02d}"


def label_of(day: dt.date | pd.Timestamp, frequency: str, year_start: str = NHS_YEAR_START) -> str:
    """The label of the period that holds `day` (``2018/19 Q1`` for 2018-05-01, quarterly)."""
    return period_label(period_of(day, frequency, year_start), frequency, year_start)


def start_of(day: dt.date, frequency: str, year_start: str = NHS_YEAR_START) -> dt.date:
    """First day of the month, quarter or year that holds `day`."""
    return period_of(day, frequency, year_start).start_time.date()  # type: ignore[no-any-return]


def last_month_of(day: dt.date, frequency: str, year_start: str = NHS_YEAR_START) -> dt.date:
    """First day of the last month of the period that holds `day`."""
    end = period_of(day, frequency, year_start).end_time
    return dt.date(end.year, end.month, 1)


def month_number(day: dt.date | pd.Timestamp) -> int:
    """Months since year 0: ``year * 12 + month - 1``."""
    return day.year * 12 + day.month - 1


def month_numbers(days: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Month numbers of a datetime series (vectorised)."""
    values = pd.DatetimeIndex(days)
    return np.asarray(values.year * 12 + values.month - 1, dtype=np.int64)


def first_month_offset(frequency: str, year_start: str = NHS_YEAR_START) -> int:
    """Where periods start, as a month number modulo the period's length (3 for April years)."""
    size = MONTHS_IN[frequency]
    start = pd.Period("2000-01", freq="M").asfreq(pandas_freq(frequency, year_start), "end")
    return month_number(start.start_time) % size


def labels_for_months(
    months: np.ndarray, frequency: str, year_start: str = NHS_YEAR_START
) -> np.ndarray:
    """Labels of the periods holding each month number (vectorised over distinct months)."""
    unique, inverse = np.unique(np.asarray(months, dtype=np.int64), return_inverse=True)
    if not len(unique):
        return np.zeros(0, dtype=object)
    names = [
        label_of(dt.date(int(m) // 12, int(m) % 12 + 1, 1), frequency, year_start)
        for m in unique.tolist()
    ]
    return np.array(names, dtype=object)[inverse.reshape(-1)]


def next_period_start(
    days: pd.Series, frequency: str, year_start: str = NHS_YEAR_START
) -> pd.Series:
    """For each date, the first day after the month, quarter or year holding it (vectorised)."""
    index = pd.DatetimeIndex(days)
    following = index.to_period(pandas_freq(frequency, year_start)) + 1
    return pd.Series(following.start_time.to_numpy(), index=days.index)
