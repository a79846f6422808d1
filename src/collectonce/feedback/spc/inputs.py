"""SPC constants and input handling, shared by the engine and the summary: the limits' factors,
the categories, and turning a frame's columns into arrays."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

LIMIT = 2.66
LIMIT_CLOSE = 2 * (LIMIT / 3)
SCREEN_FACTOR = 3.267
RUN_POINTS = 7
SHORT_GROUP_THRESHOLD = 13
MIN_FIX_AFTER_N_POINTS = 12

DIRECTIONS: dict[str, int] = {"increase": 1, "neutral": 0, "decrease": -1}
DIRECTION_CATEGORIES: tuple[str, ...] = ("decrease", "neutral", "increase")

SPECIAL_CAUSE_TYPES: tuple[str, ...] = (
    "Common Cause",
    "Above UCL",
    "Below LCL",
    "7 Point Trend (Increasing)",
    "7 Point Trend (Decreasing)",
    "2 in 3 Above CL",
    "2 in 3 Below CL",
    "7 Points Above CL",
    "7 Points Below CL",
)
POINT_TYPES: tuple[str, ...] = (
    "common_cause",
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral_high",
    "special_cause_neutral_low",
)
VARIATION_ICONS: tuple[str, ...] = (
    "common_cause",
    "improvement_high",
    "improvement_low",
    "concern_high",
    "concern_low",
    "neutral_high",
    "neutral_low",
)
ASSURANCE_TYPES: tuple[str, ...] = ("consistent_pass", "consistent_fail", "inconsistent")

_SCT_DTYPE = pd.CategoricalDtype(list(SPECIAL_CAUSE_TYPES))
_PT_DTYPE = pd.CategoricalDtype(list(POINT_TYPES))
_DIR_DTYPE = pd.CategoricalDtype(list(DIRECTION_CATEGORIES))
_ICON_DTYPE = pd.CategoricalDtype(list(VARIATION_ICONS))
_ASSURANCE_DTYPE = pd.CategoricalDtype(list(ASSURANCE_TYPES))

# special_cause_type codes, in SPECIAL_CAUSE_TYPES order
_ABOVE_UCL, _BELOW_LCL, _TREND_UP, _TREND_DOWN = 1, 2, 3, 4
_TWO3_ABOVE, _TWO3_BELOW, _RUN_ABOVE, _RUN_BELOW = 5, 6, 7, 8
# +1 for "Above"/"Increasing" labels, -1 for "Below"/"Decreasing", 0 for common cause
_SCT_SIDE = np.array([0, 1, -1, 1, -1, 1, -1, 1, -1], dtype=np.int8)
# variation icon code by [point_type code, direction + 1]; -1 is no icon
_ICON_TABLE = np.array(
    [
        [0, 0, 0],  # common_cause
        [2, -1, 1],  # improvement: low when decrease is better, high when increase is
        [3, -1, 4],  # concern: high when decrease is better, low when increase is
        [5, 5, 5],  # neutral_high
        [6, 6, 6],  # neutral_low
    ],
    dtype=np.int8,
)

DateLike: TypeAlias = Any
RebaseSpec: TypeAlias = Iterable[DateLike] | Mapping[Hashable, Iterable[DateLike]] | None
DirectionSpec: TypeAlias = str | Mapping[Hashable, str] | pd.Series
TargetSpec: TypeAlias = float | Mapping[Hashable, float] | pd.Series | None

_DAY_NS = 86_400_000_000_000
_KEY_LIMIT = 2**62


# --------------------------------------------------------------------------------------------
# Input handling shared by the vectorised engine and the loop reference
# --------------------------------------------------------------------------------------------


def _as_list(series_cols: str | Sequence[str] | None) -> list[str]:
    if series_cols is None:
        return []
    if isinstance(series_cols, str):
        return [series_cols]
    return list(series_cols)


def _check_options(
    df: pd.DataFrame,
    columns: Sequence[str | None],
    fix_after_n_points: int | None,
) -> None:
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        raise ValueError(f"missing column(s): {', '.join(map(str, missing))}")
    if fix_after_n_points is not None and (
        isinstance(fix_after_n_points, bool)
        or not isinstance(fix_after_n_points, int | np.integer)
        or fix_after_n_points < 1
    ):
        raise ValueError("fix_after_n_points must be a positive whole number")


def direction_code(direction: str) -> int:
    """Return +1, 0 or -1 for ``"increase"``, ``"neutral"`` or ``"decrease"``."""
    key = str(direction).strip().lower()
    if key not in DIRECTIONS:
        raise ValueError(
            f"direction must be one of increase, decrease, neutral (got {direction!r})"
        )
    return DIRECTIONS[key]


def _date_values(col: pd.Series) -> np.ndarray:
    """Dates as a naive datetime64 array; raises ValueError on unparseable or missing dates."""
    if isinstance(col.dtype, np.dtype) and col.dtype.kind == "M":  # naive datetime64: no copy
        values = col.to_numpy()
        if np.isnat(values).any():
            raise ValueError(f"column {col.name!r} has missing dates")
        return values
    try:
        dates = pd.to_datetime(col)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"column {col.name!r} has values that are not dates") from exc
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    values = dates.to_numpy()
    if np.isnat(values).any():
        raise ValueError(f"column {col.name!r} has missing dates")
    return values


def _numeric_values(col: pd.Series) -> np.ndarray:
    try:
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"column {col.name!r} has values that are not numbers") from exc
    if np.isinf(values).any():
        raise ValueError(f"column {col.name!r} has infinite values")
    return values


def _date_list(dates: Iterable[DateLike] | DateLike) -> list[DateLike]:
    if isinstance(dates, str | pd.Timestamp | np.datetime64) or not isinstance(dates, Iterable):
        return [dates]
    return list(dates)


def _rebase_dates(dates: Iterable[DateLike], dtype: np.dtype) -> np.ndarray:
    try:
        parsed = pd.to_datetime(pd.Index(_date_list(dates)))
    except (ValueError, TypeError) as exc:
        raise ValueError("rebase dates must be dates") from exc
    if parsed.tz is not None:
        parsed = parsed.tz_convert("UTC").tz_localize(None)
    return parsed.to_numpy().astype(dtype)


def _series_key(values: Sequence[Any]) -> Hashable:
    return values[0] if len(values) == 1 else tuple(values)
