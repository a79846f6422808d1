"""The summary of each series: the variation icon from its last point, and the assurance icon
from the target against the latest limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from collectonce.feedback.spc.inputs import (
    _ASSURANCE_DTYPE,
    _ICON_DTYPE,
    _ICON_TABLE,
    _PT_DTYPE,
    ASSURANCE_TYPES,
    _as_list,
    _check_options,
    _date_values,
    direction_code,
)
from collectonce.feedback.spc.order import (
    _direction_from_values,
    _series_codes,
    _series_starts,
    _sort_order,
)

# --------------------------------------------------------------------------------------------
# Summary: variation and assurance icons per series
# --------------------------------------------------------------------------------------------


def classify_assurance(
    target: float | Sequence[float] | np.ndarray,
    lpl: float | Sequence[float] | np.ndarray,
    upl: float | Sequence[float] | np.ndarray,
    direction: str | int | Sequence[str] | Sequence[int] | np.ndarray,
) -> list[str | None]:
    """Assurance of each (target, limits, direction): pass, fail, inconsistent or None.

    A target strictly above the upper limit is consistently failed when increase is better and
    consistently passed when decrease is better; strictly below the lower limit, the reverse.
    Anything else (including a target equal to a limit) is inconsistent. No target, or a
    neutral direction, gives None.
    """
    arrays = np.broadcast_arrays(
        np.atleast_1d(np.asarray(target, dtype=np.float64)),
        np.atleast_1d(np.asarray(lpl, dtype=np.float64)),
        np.atleast_1d(np.asarray(upl, dtype=np.float64)),
        _direction_array(direction),
    )
    codes = _assurance_codes(*arrays)
    return [ASSURANCE_TYPES[c] if c >= 0 else None for c in codes.tolist()]


def _direction_array(direction: Any) -> np.ndarray:
    values = np.atleast_1d(np.asarray(direction, dtype=object))
    return np.array(
        [int(v) if isinstance(v, int | np.integer) else direction_code(v) for v in values],
        dtype=np.int8,
    )


def _assurance_codes(
    target: np.ndarray, lpl: np.ndarray, upl: np.ndarray, direction: np.ndarray
) -> np.ndarray:
    inc = direction > 0
    with np.errstate(invalid="ignore"):
        above = target > upl
        below = target < lpl
    pass_, fail, inconsistent = 0, 1, 2
    code = np.where(
        above, np.where(inc, fail, pass_), np.where(below, np.where(inc, pass_, fail), inconsistent)
    ).astype(np.int8)
    code[np.isnan(target) | (direction == 0)] = -1
    return code


def _codes_of(col: pd.Series, dtype: pd.CategoricalDtype) -> np.ndarray:
    if isinstance(col.dtype, pd.CategoricalDtype) and list(col.cat.categories) == list(
        dtype.categories
    ):
        return col.cat.codes.to_numpy()
    return pd.Categorical(col, dtype=dtype).codes


def _last_rows_if_sorted(
    points: pd.DataFrame, series_cols: Sequence[str], dates: np.ndarray
) -> np.ndarray | None:
    """The last row of each series, when `points` is sorted by categorical series keys and date.

    This is the shape `compute_spc` returns; anything else gives None.
    """
    n = len(points)
    if n < 2 or not all(isinstance(points[c].dtype, pd.CategoricalDtype) for c in series_cols):
        return None
    sorted_ok = dates[1:] > dates[:-1]
    last_row = np.zeros(n, dtype=bool)
    last_row[-1] = True
    for col in reversed(series_cols):
        codes = points[col].cat.codes.to_numpy()
        later, earlier = codes[1:], codes[:-1]
        same = later == earlier
        sorted_ok = (later > earlier) | (same & sorted_ok)
        last_row[:-1] |= ~same
    if not sorted_ok.all():
        return None
    return last_row


def summarise_spc(
    points: pd.DataFrame,
    *,
    series_cols: str | Sequence[str] = (),
    date_col: str = "date",
    value_col: str = "value",
) -> pd.DataFrame:
    """One row per series from `compute_spc` output: its latest point, icons and assurance.

    The variation icon comes from the point type of the series' last point that has a value
    (``improvement_high``/``improvement_low`` and ``concern_high``/``concern_low`` by the
    improvement direction; ``neutral_high``/``neutral_low``; else ``common_cause``).
    Assurance compares that row's target with its limits, i.e. the latest rebase group's
    limits (see `classify_assurance`); it is None without a target or for neutral series.
    A series with no value at all has neither.
    """
    cols = _as_list(series_cols)
    _check_options(
        points,
        [*cols, date_col, value_col, "direction", "target", "lpl", "upl", "point_type"],
        None,
    )
    n = len(points)
    dates = _date_values(points[date_col])
    last_row = _last_rows_if_sorted(points, cols, dates)
    order: np.ndarray | None = None
    if last_row is None:
        codes = _series_codes(points, cols)
        order, sorted_key, span = _sort_order(codes.code, codes.space, dates)
        series_start, _ = _series_starts(sorted_key, span)
        last_row = np.ones(n, dtype=bool)
        last_row[:-1] = series_start[1:]
    has_value = points[value_col].notna().to_numpy()
    if order is not None:
        has_value = np.take(has_value, order)

    # positions (in sorted order) of the first and last row of each series
    last = np.flatnonzero(last_row)
    first = np.append(0, last[:-1] + 1) if n else last
    pick = last.copy()
    no_value = ~has_value[pick]
    if no_value.any():  # latest row missing: use the series' last row with a value
        with_value = np.where(has_value, np.arange(n), -1)
        last_valid = np.maximum.reduceat(with_value, first)
        pick = np.where(no_value & (last_valid >= 0), last_valid, pick)
    rows = pick if order is None else np.take(order, pick)

    picked = points.iloc[rows].reset_index(drop=True)
    direction = _direction_from_values(picked["direction"])
    pt = _codes_of(picked["point_type"], _PT_DTYPE).astype(np.int64)
    icon = np.where(pt >= 0, _ICON_TABLE[np.maximum(pt, 0), direction + 1], -1).astype(np.int8)
    assurance = _assurance_codes(
        picked["target"].to_numpy(dtype=np.float64, na_value=np.nan),
        picked["lpl"].to_numpy(dtype=np.float64, na_value=np.nan),
        picked["upl"].to_numpy(dtype=np.float64, na_value=np.nan),
        direction,
    )
    assurance[~has_value[pick]] = -1

    out: dict[str, Any] = {c: picked[c] for c in cols}
    out["last_date"] = picked[date_col]
    out["n_points"] = last - first + 1
    for c in ("rebase_group", "short_group_warning", "direction", "target", "mean", "lpl", "upl"):
        if c in picked.columns:
            out[c] = picked[c]
    out[value_col] = picked[value_col]
    if "special_cause_type" in picked.columns:
        out["special_cause_type"] = picked["special_cause_type"]
    out["point_type"] = picked["point_type"]
    out["variation_icon"] = pd.Categorical.from_codes(icon, dtype=_ICON_DTYPE, validate=False)
    out["assurance"] = pd.Categorical.from_codes(assurance, dtype=_ASSURANCE_DTYPE, validate=False)
    return pd.DataFrame(out)
