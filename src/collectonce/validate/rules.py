"""Checks that Great Expectations cannot express well, kept small and vectorised.

Every function takes plain numpy arrays (one entry per canonical row) and returns new arrays; none
changes its inputs.

- ``provider_scope``: a provider submitting as itself may send only its own rows (error).
- ``duplicate_key`` / ``conflicting_key``: two rows of one file for the same provider, period and
  metric. The same value twice is one fact (the later row is a warning and is not stored again);
  two different values are an error on every such row, because we cannot tell which is right.
- ``type_integer``: a count (value_type integer) must be a whole number (error).
- ``metric_active`` / ``metric_effective_period``: a period after the metric was retired is an
  error; a period before its current definition took effect is a warning.
- ``suppressed_value``: ``*`` is stored as suppressed, not zero (warning, so it is visible).
- ``outlier_history``: a value far from the provider's own history: more than
  ``outlier_mad_threshold`` × 1.4826 × MAD from the median of the last 24 periods held before
  its own period (warning). Periods after it do not count, so the answer does not depend on
  whether later months happened to arrive first.
- ``conflicting_key`` across submissions: a value that differs from the one already held, when the
  two arrived through different templates (two returns disagreeing about one fact). The later
  value wins as a revision, with a warning naming the earlier submission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

#: Scale factor turning a median absolute deviation into a standard-deviation estimate.
MAD_SCALE = 1.4826
#: Periods of the provider's own history an outlier check looks back over.
HISTORY_PERIODS = 24
#: The fewest past values needed before a value is judged against them.
MIN_HISTORY = 6


def same_values(
    a_value: np.ndarray, a_status: np.ndarray, b_value: np.ndarray, b_status: np.ndarray
) -> np.ndarray:
    """Element-wise: the same status and the same value (two blanks are the same)."""
    both_nan = np.isnan(a_value) & np.isnan(b_value)
    with np.errstate(invalid="ignore"):
        equal = (a_value == b_value) | both_nan
    return (a_status == b_status) & equal


@dataclass(frozen=True)
class KeyClashes:
    """Rows of one file that share a cell (file × provider × period × metric)."""

    #: Rows after the first of a cell that repeat its value exactly (not stored again).
    duplicate: np.ndarray
    #: Every row of a cell given two or more different values.
    conflict: np.ndarray
    #: Positions of rows whose cell repeats (sorted), and the first row of each one's cell.
    repeated: np.ndarray
    first: np.ndarray

    def first_of(self, position: int) -> int:
        """The first row of this row's cell (the row itself when its cell does not repeat)."""
        at = int(np.searchsorted(self.repeated, position))
        if at < len(self.repeated) and self.repeated[at] == position:
            return int(self.first[at])
        return position


def no_clashes(n: int) -> KeyClashes:
    """The clashes of `n` rows whose cells are all different: none."""
    none = np.zeros(0, dtype=np.int64)
    return KeyClashes(np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), none, none)


def key_clashes(
    cell: np.ndarray, value: np.ndarray, status: np.ndarray, cells: int | None = None
) -> KeyClashes:
    """Find repeated cells. `cell` < 0 means the row has no cell (an unknown metric); `cells`,
    when given, bounds the cell numbers (a counting pass then replaces hashing)."""
    n = len(cell)
    duplicate = np.zeros(n, dtype=bool)
    conflict = np.zeros(n, dtype=bool)
    none = np.zeros(0, dtype=np.int64)
    valid = cell >= 0
    if not valid.any():
        return KeyClashes(duplicate, conflict, none, none)
    if cells is not None and cells <= 4 * n + 1024:
        if valid.all():
            counts = np.bincount(cell, minlength=cells)
            if int(counts.max(initial=0)) <= 1:  # no cell repeats (the usual bulk load)
                return KeyClashes(duplicate, conflict, none, none)
            repeated = counts[cell] > 1
        else:
            safe = np.where(valid, cell, cells)  # rows without a cell count in a spare slot
            counts = np.bincount(safe, minlength=cells + 1)
            if int(counts[:cells].max(initial=0)) <= 1:
                return KeyClashes(duplicate, conflict, none, none)
            repeated = (counts[safe] > 1) & valid
        del counts
    else:
        repeated = pd.Series(cell).duplicated(keep=False).to_numpy() & valid
    if not repeated.any():
        return KeyClashes(duplicate, conflict, none, none)
    pos = np.flatnonzero(repeated)
    order = pos[np.argsort(cell[pos], kind="stable")]
    sorted_cells = cell[order]
    starts = np.r_[True, sorted_cells[1:] != sorted_cells[:-1]]
    group = np.cumsum(starts) - 1
    head = order[np.flatnonzero(starts)][group]
    same = same_values(value[order], status[order], value[head], status[head])
    bad_group = np.bincount(group, weights=(~same).astype(np.float64)) > 0
    in_conflict = bad_group[group]
    conflict[order[in_conflict]] = True
    later = ~starts & ~in_conflict
    duplicate[order[later]] = True
    back = np.argsort(order, kind="stable")
    return KeyClashes(duplicate, conflict, order[back], head[back].astype(np.int64))


def out_of_scope(row_provider: np.ndarray, scope: np.ndarray) -> np.ndarray:
    """Rows whose provider differs from the provider the file was submitted as ("" = any)."""
    return (scope != "") & (row_provider != scope)


def not_whole(value: np.ndarray, is_integer: np.ndarray) -> np.ndarray:
    """Counts given with a fraction (12.5 attendances)."""
    with np.errstate(invalid="ignore"):
        return is_integer & np.isfinite(value) & (np.floor(value) != value)


@dataclass(frozen=True)
class HistoryStats:
    """The reported values held, series by series (provider × metric) in period order, so that
    a value can be judged against the periods before its own."""

    series: pd.Index  # (provider_code, metric_id) of each series, a MultiIndex
    key: np.ndarray  # series number × PERIOD_SPAN + period (day number), ascending
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.value)


#: Room for every period (a day number) under one series number in `HistoryStats.key`.
PERIOD_SPAN = 1 << 24
#: Windows judged at once (bounds the memory of a large re-submission).
_WINDOW_CHUNK = 200_000


def _day_numbers(periods: pd.Series) -> np.ndarray:
    return pd.to_datetime(periods).to_numpy().astype("datetime64[D]").astype(np.int64)


def history_stats(current: pd.DataFrame) -> HistoryStats:
    """The reported values of `current` (the latest value per provider × period × metric)."""
    if current.empty:
        return HistoryStats(
            pd.MultiIndex.from_arrays([[], []], names=["provider_code", "metric_id"]),
            np.zeros(0, dtype=np.int64),
            np.zeros(0),
        )
    frame = current.loc[current["value_status"] == "reported"].dropna(subset=["value"])
    codes, series = pd.MultiIndex.from_frame(frame[["provider_code", "metric_id"]]).factorize()
    key = codes.astype(np.int64) * PERIOD_SPAN + (_day_numbers(frame["period"]) + PERIOD_SPAN // 2)
    order = np.argsort(key, kind="stable")
    # a MultiIndex factorises to the MultiIndex of its distinct keys
    return HistoryStats(
        cast(pd.Index, series), key[order], frame["value"].to_numpy(dtype=np.float64)[order]
    )


def outliers(
    value: np.ndarray,
    provider: np.ndarray,
    metric: np.ndarray,
    day: np.ndarray,
    reported: np.ndarray,
    stats: HistoryStats,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows far from their own history: the last `HISTORY_PERIODS` reported values held for
    periods *before* the row's period (`day`, a day number), whatever order they arrived in.
    For each row also the median, the low and high (10th and 90th percentiles) of that
    history, and how many periods it has."""
    n = len(value)
    nan = np.full(n, np.nan)
    flagged = np.zeros(n, dtype=bool)
    counts = np.zeros(n, dtype=np.int64)
    if not len(stats) or n == 0:
        return flagged, nan, nan.copy(), nan.copy(), counts
    series = stats.series.get_indexer(pd.MultiIndex.from_arrays([provider, metric]))
    rows = np.flatnonzero((series >= 0) & reported & np.isfinite(value))
    if not len(rows):
        return flagged, nan, nan.copy(), nan.copy(), counts
    number = series[rows].astype(np.int64)
    # The held values of a row's series before its period: positions [first, end) of `stats`.
    end = np.searchsorted(
        stats.key, number * PERIOD_SPAN + (day[rows].astype(np.int64) + PERIOD_SPAN // 2)
    )
    begin = np.searchsorted(stats.key, number * PERIOD_SPAN)
    first = np.maximum(begin, end - HISTORY_PERIODS)
    enough = end - first >= MIN_HISTORY
    rows, end, first = rows[enough], end[enough], first[enough]
    counts[rows] = end - first
    # Rows of one series and period share their window: judge each window once.
    # (One end means one series: the value before it belongs to that series alone.)
    windows, at, back = np.unique(end, return_index=True, return_inverse=True)
    starts = first[at]
    median, mad, low, high = (np.full(len(windows), np.nan) for _ in range(4))
    for lo in range(0, len(windows), _WINDOW_CHUNK):
        part = slice(lo, lo + _WINDOW_CHUNK)
        median[part], mad[part], low[part], high[part] = _window_stats(
            stats.value, starts[part], windows[part]
        )
    out = [np.full(n, np.nan) for _ in range(3)]
    for target, per_window in zip(out, (median, low, high), strict=True):
        target[rows] = per_window[back]
    spread = np.full(n, np.nan)
    spread[rows] = mad[back]
    with np.errstate(invalid="ignore"):
        far = np.abs(value - out[0]) > threshold * MAD_SCALE * spread
    flagged = reported & (counts >= MIN_HISTORY) & (spread > 0) & np.isfinite(value) & far
    return flagged, out[0], out[1], out[2], counts


def _window_stats(
    values: np.ndarray, first: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Median, MAD, 10th and 90th percentiles of ``values[first:end]`` for each window (at most
    `HISTORY_PERIODS` long), as pandas computes them (linear interpolation)."""
    offsets = np.arange(HISTORY_PERIODS)
    at = first[:, None] + offsets
    inside = at < end[:, None]
    window = np.where(inside, values[np.minimum(at, len(values) - 1)], np.nan)
    window.sort(axis=1)  # missing places (NaN) sort last
    count = end - first
    median = _median_sorted(window, count)
    deviation = np.abs(window - median[:, None])
    deviation.sort(axis=1)
    return (
        median,
        _median_sorted(deviation, count),
        _quantile_sorted(window, count, 0.1),
        _quantile_sorted(window, count, 0.9),
    )


def _median_sorted(window: np.ndarray, count: np.ndarray) -> np.ndarray:
    rows = np.arange(len(window))
    return (window[rows, (count - 1) // 2] + window[rows, count // 2]) / 2


def _quantile_sorted(window: np.ndarray, count: np.ndarray, q: float) -> np.ndarray:
    rows = np.arange(len(window))
    h = (count - 1) * q
    below = np.floor(h).astype(np.int64)
    above = np.minimum(below + 1, count - 1)
    a, b = window[rows, below], window[rows, above]
    return a + (b - a) * (h - below)
