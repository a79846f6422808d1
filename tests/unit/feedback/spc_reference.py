"""The SPC rules as a plain per-series, per-point loop: the reference the vectorised engine
(`collectonce.feedback.spc`) is checked against, in the tests and in `benchmarks/spc.py`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from collectonce.feedback.spc.inputs import (
    LIMIT,
    LIMIT_CLOSE,
    POINT_TYPES,
    SCREEN_FACTOR,
    SHORT_GROUP_THRESHOLD,
    SPECIAL_CAUSE_TYPES,
    DirectionSpec,
    RebaseSpec,
    TargetSpec,
    _as_list,
    _check_options,
    _date_values,
    _numeric_values,
    _rebase_dates,
    _series_key,
    direction_code,
)
from collectonce.feedback.spc.xmr import _assemble, _Result

# --------------------------------------------------------------------------------------------
# Reference implementation: a plain per-series, per-point loop over the same rules
# --------------------------------------------------------------------------------------------


def _sign(x: float) -> int:
    if x > 0:
        return 1
    if x < 0:
        return -1
    return 0  # zero or NaN


def _seven_point_one_side_mean(rtm: Sequence[int]) -> list[int]:
    """1 at the 7th and later points of a run on one side of the mean (R's helper)."""
    vp = [0] * 6 + list(rtm)
    return [
        int(vp[i] != 0 and all(vp[i] == vp[i - k] for k in range(1, 7))) for i in range(6, len(vp))
    ]


def _part_of_seven(v: Sequence[int]) -> list[int]:
    """1 for a flagged point and the 6 before it (R's ptd_part_of_seven_trend)."""
    vp = list(v) + [0] * 6
    return [int(any(abs(vp[i + k]) == 1 for k in range(7))) for i in range(len(v))]


def _seven_point_trend(y: Sequence[float]) -> list[int]:
    """+1/-1 at the 7th and later points of a strictly rising/falling run (R's helper)."""
    n = len(y)
    out = [0] * n
    for i in range(6, n):
        d = [_sign(y[j] - y[j - 1]) for j in range(i - 5, i + 1)]
        if all(x == 1 for x in d):
            out[i] = 1
        elif all(x == -1 for x in d):
            out[i] = -1
    return out


def _two_in_three(close: Sequence[int], rtm: Sequence[int]) -> list[int]:
    """1 for points in a 3-window with >= 2 close points all on one side (R's helper)."""
    vp = [0, 0, *(int(c) for c in close), 0, 0]
    rp = [0, 0, *rtm, 0, 0]
    return [
        int(
            any(
                sum(vp[i + k : i + k + 3]) >= 2 and abs(sum(rp[i + k : i + k + 3])) == 3
                for k in range(3)
            )
        )
        for i in range(len(close))
    ]


def _part_of_two_in_three(v: Sequence[int], close: Sequence[int]) -> list[int]:
    return [int(a == 1 and abs(int(c)) == 1) for a, c in zip(v, close, strict=True)]


def _special_cause_labels(
    y: Sequence[float],
    rtm: Sequence[int],
    outside: Sequence[int],
    part_trend: Sequence[int],
    part_two3: Sequence[int],
    part_run: Sequence[int],
) -> list[str]:
    """R's ptd_special_cause_type, point by point."""
    n = len(y)
    sdy = [_sign(y[i + 1] - y[i]) for i in range(n - 1)]
    labels = []
    for i in range(n):
        if part_trend[i] and i + 1 < n and part_trend[i + 1]:
            slope = sdy[i]
        else:
            slope = sdy[i - 1] if i > 0 else 0
        side = "Above" if rtm[i] > 0 else "Below"
        if outside[i]:
            labels.append("Above UCL" if rtm[i] == 1 else "Below LCL")
        elif part_trend[i]:
            labels.append(f"7 Point Trend ({'In' if slope == 1 else 'De'}creasing)")
        elif part_two3[i]:
            labels.append(f"2 in 3 {side} CL")
        elif part_run[i]:
            labels.append(f"7 Points {side} CL")
        else:
            labels.append("Common Cause")
    return labels


def _point_type_of_label(label: str, direction: int) -> str:
    """R's ptd_point_type for one label."""
    if "Above" in label or "Increasing" in label:
        side = 1
    elif "Below" in label or "Decreasing" in label:
        side = -1
    else:
        side = 0
    if direction == 0:
        return {1: "special_cause_neutral_high", -1: "special_cause_neutral_low"}.get(
            side, "common_cause"
        )
    oriented = side * direction
    if oriented > 0:
        return "special_cause_improvement"
    if oriented < 0:
        return "special_cause_concern"
    return "common_cause"


def _r_mean(values: list[float]) -> float:
    """R's ``mean()`` of plain numbers: an extended-precision sum in order, then a correction."""
    if not values:
        return math.nan
    with np.errstate(over="ignore", invalid="ignore"):
        n = np.longdouble(len(values))
        total = np.longdouble(0.0)
        for v in values:
            total += np.longdouble(v)
        mean = total / n
        residual = np.longdouble(0.0)
        for v in values:
            residual += np.longdouble(v) - mean
        return float(mean + residual / n)


def _loop_group(
    ys: list[float], fix_after_n_points: int | None, screen_outliers: bool
) -> dict[str, list[Any]]:
    """Limits and labels for one group (one series between rebases)."""
    n = len(ys)
    fixed = [
        y if fix_after_n_points is None or i < fix_after_n_points else math.nan
        for i, y in enumerate(ys)
    ]
    mean = _r_mean([v for v in fixed if not math.isnan(v)])
    ranges = []
    for i in range(1, n):
        r = abs(fixed[i] - fixed[i - 1])
        if not math.isnan(r):
            ranges.append(r)
    amr = _r_mean(ranges)
    if screen_outliers:
        amr = _r_mean([r for r in ranges if r < SCREEN_FACTOR * amr])
    lpl, upl = mean - LIMIT * amr, mean + LIMIT * amr
    nlpl, nupl = mean - LIMIT_CLOSE * amr, mean + LIMIT_CLOSE * amr
    outside, close, rtm = [], [], []
    for y in ys:
        out = y > upl or y < lpl
        outside.append(int(out))
        close.append(int(not out and (y < nlpl or y > nupl)))
        rtm.append(1 if y > mean else -1 if y < mean else 0)
    part_run = _part_of_seven(_seven_point_one_side_mean(rtm))
    part_trend = _part_of_seven(_seven_point_trend(ys))
    part_two3 = _part_of_two_in_three(_two_in_three(close, rtm), close)
    labels = _special_cause_labels(ys, rtm, outside, part_trend, part_two3, part_run)
    return {
        "mean": [mean] * n,
        "lpl": [lpl] * n,
        "upl": [upl] * n,
        "nlpl": [nlpl] * n,
        "nupl": [nupl] * n,
        "outside": outside,
        "close": close,
        "rtm": rtm,
        "label": labels,
        "limits_missing": [math.isnan(amr) or math.isnan(mean)] * n,
        "short": [n < SHORT_GROUP_THRESHOLD] * n,
    }


def compute_spc_loop(
    df: pd.DataFrame,
    *,
    series_cols: str | Sequence[str] = (),
    date_col: str = "date",
    value_col: str = "value",
    direction: DirectionSpec = "increase",
    direction_col: str | None = None,
    target: TargetSpec = None,
    target_col: str | None = None,
    rebase: RebaseSpec = None,
    fix_after_n_points: int | None = None,
    screen_outliers: bool = True,
) -> pd.DataFrame:
    """Same contract as `compute_spc`, computed series by series and point by point.

    A slow, direct transcription of the rules, kept as a cross-check for the vectorised
    engine and as the baseline of the benchmark. Series appear in sorted key order when the
    keys can be sorted.
    """
    cols = _as_list(series_cols)
    _check_options(df, [*cols, date_col, value_col, direction_col, target_col], fix_after_n_points)
    dates = _date_values(df[date_col])
    values = _numeric_values(df[value_col])
    key_values = [df[c].tolist() for c in cols]
    dir_values = df[direction_col].tolist() if direction_col is not None else None
    tgt_values = _numeric_values(df[target_col]).tolist() if target_col is not None else None
    if not isinstance(direction, str) and not cols:
        raise ValueError("a per-series direction needs series_cols")
    if isinstance(target, Mapping | pd.Series) and not cols:
        raise ValueError("a per-series target needs series_cols")
    if isinstance(rebase, Mapping) and not cols:
        raise ValueError("a per-series rebase needs series_cols")

    groups: dict[Hashable, list[int]] = {}
    for i in range(len(df)):
        groups.setdefault(_series_key([kv[i] for kv in key_values]), []).append(i)
    if isinstance(rebase, Mapping):
        for key in rebase:
            if key not in groups:
                raise ValueError(f"rebase lists a series that is not in the data: {key!r}")
    try:
        series_keys = sorted(groups)
    except TypeError:
        series_keys = list(groups)

    out: dict[str, list[Any]] = {
        k: []
        for k in (
            "row",
            "rebase_group",
            "direction",
            "target",
            "mean",
            "lpl",
            "upl",
            "nlpl",
            "nupl",
            "outside",
            "close",
            "rtm",
            "sct",
            "pt",
            "limits_missing",
            "short",
        )
    }
    for key in series_keys:
        rows = sorted(groups[key], key=lambda i: dates[i])
        for a, b in itertools.pairwise(rows):
            if dates[a] == dates[b]:
                raise ValueError(f"duplicate date within a series (row {b})")
        if rebase is None:
            rebase_dates: set[np.datetime64] = set()
        elif isinstance(rebase, Mapping):
            rebase_dates = set(_rebase_dates(rebase.get(key, ()), dates.dtype).tolist())
        else:
            rebase_dates = set(_rebase_dates(rebase, dates.dtype).tolist())
        if isinstance(direction, str):
            series_direction: str = direction
        else:
            series_direction = direction.get(key, "neutral")
        if target is None:
            series_target = math.nan
        elif isinstance(target, Mapping | pd.Series):
            series_target = float(target.get(key, math.nan))
        else:
            series_target = float(target)

        group_rows: list[list[int]] = []
        group_numbers: list[int] = []
        number = 0
        for j, i in enumerate(rows):
            is_rebase = dates[i].tolist() in rebase_dates
            number += int(is_rebase)
            if j == 0 or is_rebase:
                group_rows.append([])
                group_numbers.append(number)
            group_rows[-1].append(i)
        for members, number in zip(group_rows, group_numbers, strict=True):
            result = _loop_group(
                [float(values[i]) for i in members], fix_after_n_points, screen_outliers
            )
            labels = result.pop("label")
            for k, v in result.items():
                out[k].extend(v)
            for i, label in zip(members, labels, strict=True):
                out["row"].append(i)
                out["rebase_group"].append(number)
                d = direction_code(dir_values[i] if dir_values is not None else series_direction)
                out["direction"].append(d)
                out["target"].append(tgt_values[i] if tgt_values is not None else series_target)
                out["sct"].append(SPECIAL_CAUSE_TYPES.index(label))
                out["pt"].append(POINT_TYPES.index(_point_type_of_label(label, d)))

    order = np.array(out["row"], dtype=np.int64)
    keys = df[cols].take(order).reset_index(drop=True)
    result = _Result(
        rebase_group=np.array(out["rebase_group"], dtype=np.int32),
        short=np.array(out["short"], dtype=bool),
        mean=np.array(out["mean"], dtype=np.float64),
        lpl=np.array(out["lpl"], dtype=np.float64),
        upl=np.array(out["upl"], dtype=np.float64),
        nlpl=np.array(out["nlpl"], dtype=np.float64),
        nupl=np.array(out["nupl"], dtype=np.float64),
        outside=np.array(out["outside"], dtype=bool),
        close=np.array(out["close"], dtype=bool),
        rtm=np.array(out["rtm"], dtype=np.int8),
        sct=np.array(out["sct"], dtype=np.int8),
        pt=np.array(out["pt"], dtype=np.int8),
        limits_missing=np.array(out["limits_missing"], dtype=bool),
    )
    return _assemble(
        keys,
        date_col,
        dates[order],
        value_col,
        values[order] if len(order) else np.zeros(0),
        np.array(out["direction"], dtype=np.int8),
        np.array(out["target"], dtype=np.float64),
        result,
    )
