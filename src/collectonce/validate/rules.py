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
  ``outlier_mad_threshold`` × 1.4826 × MAD from the median of its last 24 periods (warning).
- ``conflicting_key`` across submissions: a value that differs from the one already held, when the
  two arrived through different templates (two returns disagreeing about one fact). The later
  value wins as a revision, with a warning naming the earlier submission.
"""

from __future__ import annotations

from dataclasses import dataclass

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
            repeated = counts[cell] > 1
        else:
            safe = np.where(valid, cell, cells)  # rows without a cell count in a spare slot
            counts = np.bincount(safe, minlength=cells + 1)
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
    """Median and MAD of each provider × metric series, from the last 24 periods held."""

    median: pd.Series  # indexed by (provider_code, metric_id)
    mad: pd.Series
    low: pd.Series  # the typical range shown to people: 10th and 90th percentiles
    high: pd.Series
    count: pd.Series


def history_stats(current: pd.DataFrame) -> HistoryStats:
    """Per provider and metric, over its last `HISTORY_PERIODS` reported values."""
    cols = ["provider_code", "metric_id", "period", "value"]
    if current.empty:
        empty = pd.Series(dtype="float64")
        return HistoryStats(empty, empty, empty, empty, empty)
    frame = current.loc[current["value_status"] == "reported", cols].dropna(subset=["value"])
    frame = frame.sort_values(["provider_code", "metric_id", "period"])
    frame = frame.groupby(["provider_code", "metric_id"], sort=False).tail(HISTORY_PERIODS)
    grouped = frame.groupby(["provider_code", "metric_id"])["value"]
    median = grouped.median()
    deviation = (frame["value"] - grouped.transform("median")).abs()
    mad = deviation.groupby([frame["provider_code"], frame["metric_id"]]).median()
    return HistoryStats(
        median=median,
        mad=mad.reindex(median.index),
        low=grouped.quantile(0.1),
        high=grouped.quantile(0.9),
        count=grouped.size(),
    )


def outliers(
    value: np.ndarray,
    provider: np.ndarray,
    metric: np.ndarray,
    reported: np.ndarray,
    stats: HistoryStats,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows far from their own history, and for each row the median, low and high of it."""
    n = len(value)
    nan = np.full(n, np.nan)
    if not len(stats.median) or n == 0:
        return np.zeros(n, dtype=bool), nan, nan, nan
    index = pd.MultiIndex.from_arrays([provider, metric])
    median = stats.median.reindex(index).to_numpy(dtype=np.float64)
    mad = stats.mad.reindex(index).to_numpy(dtype=np.float64)
    count = stats.count.reindex(index).fillna(0).to_numpy(dtype=np.float64)
    low = stats.low.reindex(index).to_numpy(dtype=np.float64)
    high = stats.high.reindex(index).to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        far = np.abs(value - median) > threshold * MAD_SCALE * mad
    flagged = reported & (count >= MIN_HISTORY) & (mad > 0) & np.isfinite(value) & far
    return flagged, median, low, high
