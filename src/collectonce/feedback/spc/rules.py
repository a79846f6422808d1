"""The special-cause rules on arrays: runs on one side of the mean, trends, 2 of 3 near a limit,
and the label and point type each point gets (precedence: outside > trend > 2-in-3 > run)."""

from __future__ import annotations

import numpy as np

from collectonce.feedback.spc.inputs import (
    _ABOVE_UCL,
    _RUN_ABOVE,
    _SCT_SIDE,
    _TREND_UP,
    _TWO3_ABOVE,
    RUN_POINTS,
)


def _in_long_run(key: np.ndarray, starts: np.ndarray, min_len: int) -> np.ndarray:
    """True where the element sits in a run of >= min_len equal keys that no start breaks.

    `starts` must be True on the first element.
    """
    brk = starts.copy()
    if len(key) > 1:
        brk[1:] |= key[1:] != key[:-1]
    first = np.flatnonzero(brk)
    lengths = np.diff(first, append=len(key))
    return np.repeat(lengths >= min_len, lengths)


def _diff_signs(y: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sign of each point's difference from the previous one; 0 at group starts and gaps."""
    n = len(y)
    d = np.zeros(n, dtype=np.int8)
    if n > 1:
        d[1:] = (y[1:] > y[:-1]).view(np.int8) - (y[1:] < y[:-1]).view(np.int8)
    d[starts] = 0
    return d


def _trend_flags(y: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points in a 7-point trend, and whether each such point is labelled increasing."""
    d = _diff_signs(y, starts)
    in_diff_run = (d != 0) & _in_long_run(d, starts, RUN_POINTS - 1)
    trend = in_diff_run.copy()
    trend[:-1] |= in_diff_run[1:]  # a run of 6 diffs also covers the point before it
    return trend, _trend_up(d, trend, starts)


def _trend_up(d: np.ndarray, trend: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Trend direction as R labels it.

    The sign of the difference to the right when the next point of the group is in a trend
    too, otherwise of the difference to the left; anything but +1 reads as "Decreasing".
    """
    n = len(d)
    use_right = np.zeros(n, dtype=bool)
    if n > 1:
        use_right[:-1] = trend[:-1] & trend[1:] & ~starts[1:]
    slope = d.copy()
    slope[:-1] = np.where(use_right[:-1], d[1:], d[:-1])
    return slope == 1


def _two_in_three_flags(close: np.ndarray, rtm: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Close points that sit in a 3-window with >= 2 close points all on one side of the mean."""
    n = len(close)
    window = np.zeros(n, dtype=bool)  # window of rows i, i+1, i+2
    if n >= 3:
        c = close.view(np.int8)
        hits = (c[:-2] + c[1:-1] + c[2:]) >= 2
        same_side = (rtm[:-2] == rtm[1:-1]) & (rtm[1:-1] == rtm[2:]) & (rtm[:-2] != 0)
        window[:-2] = hits & same_side & ~starts[1:-1] & ~starts[2:]
    member = window.copy()
    member[1:] |= window[:-1]
    member[2:] |= window[:-2]
    return member & close


def _label_codes(
    outside: np.ndarray,
    rtm: np.ndarray,
    trend: np.ndarray,
    trend_up: np.ndarray,
    two3: np.ndarray,
    run: np.ndarray,
) -> np.ndarray:
    """special_cause_type codes by precedence outside > trend > 2-in-3 > run."""
    not_above = (rtm <= 0).view(np.int8)  # "Below" label unless above the mean
    code = np.where(run, _RUN_ABOVE + not_above, 0)
    code = np.where(two3, _TWO3_ABOVE + not_above, code)
    code = np.where(trend, _TREND_UP + (~trend_up).view(np.int8), code)
    code = np.where(outside, _ABOVE_UCL + (rtm != 1).view(np.int8), code)
    return code.astype(np.int8, copy=False)


def _point_type_code(side: int, direction: int) -> int:
    if side == 0:
        return 0
    if direction == 0:
        return 3 if side > 0 else 4
    return 1 if side * direction > 0 else 2


# point_type code by [special_cause_type code, direction + 1]
_PT_TABLE = np.array(
    [[_point_type_code(int(side), d) for d in (-1, 0, 1)] for side in _SCT_SIDE], dtype=np.int8
).ravel()


def _point_type_codes(sct: np.ndarray, direction: np.ndarray) -> np.ndarray:
    return np.take(_PT_TABLE, sct.astype(np.intp) * 3 + direction + 1)
