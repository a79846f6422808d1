"""Making Data Count XmR charts ("plot the dots"), vectorised across many series.

The rules are those of the R package NHSRplotthedots v0.2.2:

* Limits per group (series x rebase group): ``mean`` of the values, moving ranges
  ``|diff(y)|``, their mean ``amr``; with ``screen_outliers`` the moving ranges that are not
  strictly below ``3.267 * amr`` are dropped once and ``amr`` is recomputed. Process limits are
  ``mean +/- 2.66 * amr`` and the 2-sigma zone edges ``mean +/- (2 * 2.66 / 3) * amr``.
  ``fix_after_n_points`` computes the mean and limits from the first *n* rows of each group.
* Special cause: a point strictly outside the limits; 7 or more consecutive points on the same
  side of the mean (a point on the mean breaks the run); 7 or more points strictly rising or
  strictly falling; 2 of 3 consecutive points in the outer zone (close to, but not beyond, a
  limit) with all 3 on the same side of the mean. Precedence of the label: outside > trend >
  2-in-3 > run. Runs, trends and windows never cross a series or a rebase.
* ``point_type`` orients the label by the improvement direction; ``summarise_spc`` turns the
  last point into the variation icon and compares the target with the latest limits for the
  assurance icon.

Missing values (NaN) are not covered by the R package, which expects series without gaps.
This module keeps every input row and treats a missing value as follows:

* The row stays in the output with the limits of its group; its ``relative_to_mean``,
  ``outside_limits``, ``close_to_limits``, ``special_cause_flag``, ``special_cause_type`` and
  ``point_type`` are null.
* The mean ignores it. A moving range needs both neighbours, so the two moving ranges that
  touch a gap are missing (as R's ``diff`` gives), and no moving range bridges a gap.
* It breaks runs, trends and 2-in-3 windows, as a point on the mean breaks a run.
* ``fix_after_n_points`` and the trial-limits warning count rows, missing or not, as R does.

Groups whose limits cannot be computed get null limits, as in R: fewer than 2 usable
values, or (with screening) every moving range zero, since no range is then strictly below
``3.267 * 0`` and the screened mean of no ranges is NaN. Their points are common cause unless
a run or trend rule applies. Without screening, equal values give zero-width limits.

Means (of the values and of the moving ranges) are computed as R's ``mean()`` does: an
extended-precision sum in row order, divided by the count, plus the mean of the residuals.
A plain double-precision sum can differ in the last bit, and that bit decides whether a value
sits exactly on the mean (which breaks a run) or exactly on a limit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
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


# --------------------------------------------------------------------------------------------
# Vectorised engine
# --------------------------------------------------------------------------------------------


@dataclass
class _Sorted:
    """Input columns sorted by (series, date), plus what is needed to write the output."""

    keys: pd.DataFrame  # the series columns, in output order
    dates: np.ndarray  # datetime64, sorted within series
    y: np.ndarray  # float64
    series_start: np.ndarray  # bool, True on the first row of each series
    rebase: np.ndarray  # bool, True on rows whose date is a rebase date of their series
    direction: np.ndarray  # int8, +1/0/-1
    target: np.ndarray  # float64, NaN when none


@dataclass
class _SeriesCodes:
    """Integer code per row whose order is the lexicographic order of the series keys."""

    code: np.ndarray  # int64, input order
    space: int  # codes are in range(space)
    # how the code was built, to encode keys the same way: per column ("col", values, offset,
    # width), and ("dense", sorted codes) whenever the codes were renumbered to stay small
    steps: list[tuple[Any, ...]]

    def encode(self, keys: Sequence[Hashable], n_cols: int) -> np.ndarray:
        """Codes of the given series keys; -1 for a key that no row can have."""
        rows = [k if n_cols > 1 else (k,) for k in keys]
        ok = np.array([isinstance(r, tuple) and len(r) == n_cols for r in rows], dtype=bool)
        rows = [r if good else (None,) * n_cols for r, good in zip(rows, ok, strict=True)]
        code = np.zeros(len(rows), dtype=np.int64)
        j = 0
        for step in self.steps:
            if step[0] == "dense":
                uniq = step[1]
                at = np.minimum(np.searchsorted(uniq, code), max(len(uniq) - 1, 0))
                ok &= uniq[at] == code if len(uniq) else False
                code = at.astype(np.int64)
                continue
            _, values, offset, width = step
            probe = pd.Index([r[j] for r in rows], dtype=object)
            pos = values.get_indexer(probe)
            if offset:  # categorical: missing keys have code 0
                pos = np.where(pd.isna(probe), -1, pos) + offset
                pos = np.where(~pd.isna(probe) & (pos == 0), -1, pos)
            ok &= pos >= 0
            code = code * width + np.maximum(pos, 0)
            j += 1
        return np.where(ok, code, -1)


def _series_codes(df: pd.DataFrame, series_cols: Sequence[str]) -> _SeriesCodes:
    code: np.ndarray | None = None
    space = 1
    steps: list[tuple[Any, ...]] = []
    for col in series_cols:
        s = df[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            c = s.cat.codes.to_numpy()  # small integers; -1 for a missing key
            values = pd.Index(s.cat.categories)
            offset, width = 1, len(values) + 1  # missing keys sort first
        else:
            c, uniques = pd.factorize(s, sort=True, use_na_sentinel=False)
            values = pd.Index(uniques)
            offset, width = 0, max(len(values), 1)
        if code is not None and space * width >= 2**40:
            code, uniq = pd.factorize(code, sort=True)
            code = code.astype(np.int64, copy=False)
            steps.append(("dense", np.asarray(uniq, dtype=np.int64)))
            space = max(len(uniq), 1)
        if code is None:
            code = c.astype(np.int64)  # a copy: it is changed in place below and later
        else:
            code *= width
            code += c
        if offset:
            code += offset
        steps.append(("col", values, offset, width))
        space *= width
    if code is None:
        code = np.zeros(len(df), dtype=np.int64)
    return _SeriesCodes(code, space, steps)


def _all_divisible(a: np.ndarray, by: int) -> bool:
    block = 1 << 20
    return not any((a[i : i + block] % by).any() for i in range(0, len(a), block))


def _sort_order(
    scode: np.ndarray, space: int, dates: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray, int]:
    """Sort rows by (series, date).

    Returns the row order (None when the rows are already sorted), the sorted key
    ``series code * span + date rank`` and ``span``. `scode` is overwritten. Raises ValueError
    when a series has the same date twice.
    """
    n = len(dates)
    dint = dates.view(np.int64)
    if n == 0:
        return None, np.zeros(0, dtype=np.int64), 1
    unit_ns = np.timedelta64(1, np.datetime_data(dates.dtype)[0]).astype("timedelta64[ns]")
    per_day = _DAY_NS // max(int(unit_ns.astype(np.int64)), 1)
    key = dint - dint.min()
    if per_day > 1 and _all_divisible(key, per_day):
        np.floor_divide(key, per_day, out=key)
    span = int(key.max()) + 1
    if space * span >= _KEY_LIMIT:
        key, uniq = pd.factorize(dint, sort=True)
        key = key.astype(np.int64, copy=False)
        span = len(uniq)
    if space * span >= _KEY_LIMIT:  # pragma: no cover - needs astronomically many series
        raise ValueError("too many series and dates to sort")
    if space > 1:
        np.multiply(scode, span, out=scode)
        key += scode
    if n < 2 or bool((key[1:] > key[:-1]).all()):
        return None, key, span
    order = np.argsort(key, kind="stable")
    ks = np.take(key, order)
    del key
    dup = ks[1:] == ks[:-1]
    if dup.any():
        row = int(order[int(np.argmax(dup)) + 1])
        raise ValueError(f"duplicate date within a series (row {row})")
    return order, ks, span


def _series_starts(sorted_key: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """First row of each series (bool per row) and the series codes, from the sorted key."""
    series = np.floor_divide(sorted_key, span, out=sorted_key)  # the key is not needed after
    starts = np.ones(len(series), dtype=bool)
    if len(series) > 1:
        np.not_equal(series[1:], series[:-1], out=starts[1:])
    return starts, series[starts]


def _take_column(col: pd.Series, order: np.ndarray | None) -> pd.Series:
    """`col` in the given row order, with a fresh RangeIndex."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()
        taken = codes if order is None else np.take(codes, order)
        values = pd.Categorical.from_codes(taken, dtype=col.dtype, validate=False)
        return pd.Series(values, name=col.name, copy=False)
    taken_col = col if order is None else col.take(order)
    return taken_col.reset_index(drop=True)


def _mapping_items(mapping: Mapping[Hashable, Any] | pd.Series, what: str) -> tuple[list, list]:
    if isinstance(mapping, pd.Series):
        if mapping.index.has_duplicates:
            raise ValueError(f"the {what} mapping lists a series twice")
        return mapping.index.tolist(), mapping.tolist()
    return list(mapping.keys()), list(mapping.values())


def _direction_from_values(col: pd.Series) -> np.ndarray:
    """int8 direction code per row from a column of direction names."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()
        names = list(col.cat.categories)
    else:
        codes, uniques = pd.factorize(col)
        names = list(uniques)
    if (codes < 0).any():
        raise ValueError(f"column {col.name!r} has missing directions")
    table = np.array([direction_code(v) for v in names] or [0], dtype=np.int8)
    return np.take(table, codes)


def _prepare(
    df: pd.DataFrame,
    series_cols: list[str],
    date_col: str,
    value_col: str,
    direction: DirectionSpec,
    direction_col: str | None,
    target: TargetSpec,
    target_col: str | None,
    rebase: RebaseSpec,
) -> _Sorted:
    dates_all = _date_values(df[date_col])
    y_all = _numeric_values(df[value_col])
    codes = _series_codes(df, series_cols)
    order, sorted_key, span = _sort_order(codes.code, codes.space, dates_all)
    codes.code = np.empty(0, dtype=np.int64)  # overwritten by the sort; free it

    def take(a: np.ndarray) -> np.ndarray:
        return a if order is None else np.take(a, order)

    n = len(df)
    y = take(y_all)
    dates = take(dates_all)
    series_start, series_code = _series_starts(sorted_key, span)
    del sorted_key
    first = np.flatnonzero(series_start)
    sizes = np.diff(first, append=n)
    keys = pd.DataFrame({c: _take_column(df[c], order) for c in series_cols}, copy=False)

    def series_of(
        mapping: Mapping[Hashable, Any] | pd.Series, what: str
    ) -> tuple[np.ndarray, list]:
        """Series position of each key of the mapping (-1 when absent), and its values."""
        if not series_cols:
            raise ValueError(f"a per-series {what} needs series_cols")
        keys_, values = _mapping_items(mapping, what)
        wanted = codes.encode(keys_, len(series_cols))
        at = np.minimum(np.searchsorted(series_code, wanted), max(len(series_code) - 1, 0))
        found = (wanted >= 0) & (series_code[at] == wanted) if len(series_code) else wanted < -1
        return np.where(found, at, -1), values

    # direction per row
    if direction_col is not None:
        dir_row = take(_direction_from_values(df[direction_col]))
    elif isinstance(direction, str):
        dir_row = np.full(n, direction_code(direction), dtype=np.int8)
    else:
        at, names = series_of(direction, "direction")
        per_series = np.zeros(len(first), dtype=np.int8)  # series not listed: neutral
        for s, name in zip(at.tolist(), names, strict=True):
            code = direction_code(name)
            if s >= 0:
                per_series[s] = code
        dir_row = np.repeat(per_series, sizes)

    # target per row
    if target_col is not None:
        tgt_row = take(_numeric_values(df[target_col]))
    elif target is None:
        tgt_row = np.full(n, np.nan)
    elif isinstance(target, Mapping | pd.Series):
        at, values = series_of(target, "target")
        per_target = np.full(len(first), np.nan)
        listed = at >= 0
        per_target[at[listed]] = np.asarray(values, dtype=np.float64)[listed]
        tgt_row = np.repeat(per_target, sizes)
    else:
        tgt_row = np.full(n, float(target))

    # rebase flags
    rebase_row = np.zeros(n, dtype=bool)
    if isinstance(rebase, Mapping):
        at, when = series_of(rebase, "rebase")
        if (at < 0).any():
            missing = list(rebase.keys())[int(np.argmax(at < 0))]
            raise ValueError(f"rebase lists a series that is not in the data: {missing!r}")
        when = [_date_list(v) for v in when]
        wanted = _rebase_dates([d for ds in when for d in ds], dates.dtype)
        ends = first + sizes
        for s, d in zip(np.repeat(at, [len(ds) for ds in when]).tolist(), wanted, strict=True):
            lo, hi = first[s], ends[s]
            pos = lo + int(np.searchsorted(dates[lo:hi], d))
            if pos < hi and dates[pos] == d:
                rebase_row[pos] = True
    elif rebase is not None:
        rebase_row = np.isin(dates, _rebase_dates(rebase, dates.dtype))

    return _Sorted(keys, dates, y, series_start, rebase_row, dir_row, tgt_row)


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


@dataclass
class _Result:
    """Per-row results in sorted order."""

    rebase_group: np.ndarray  # int32
    short: np.ndarray  # bool
    mean: np.ndarray  # float64
    lpl: np.ndarray
    upl: np.ndarray
    nlpl: np.ndarray
    nupl: np.ndarray
    outside: np.ndarray  # bool
    close: np.ndarray  # bool
    rtm: np.ndarray  # int8
    sct: np.ndarray  # int8 special_cause_type code
    pt: np.ndarray  # int8 point_type code
    limits_missing: np.ndarray  # bool

    @classmethod
    def empty(cls, n: int) -> _Result:
        def f() -> np.ndarray:
            return np.empty(n, dtype=np.float64)

        def b() -> np.ndarray:
            return np.empty(n, dtype=bool)

        def i8() -> np.ndarray:
            return np.empty(n, dtype=np.int8)

        return cls(
            np.empty(n, dtype=np.int32),
            b(),
            f(),
            f(),
            f(),
            f(),
            f(),
            b(),
            b(),
            i8(),
            i8(),
            i8(),
            b(),
        )


# Rows per block: series are processed in blocks of whole series so that the temporaries stay
# in cache and are not re-allocated (and page-faulted) at full length for every step.
_BLOCK_ROWS = 1 << 18


def _compute(s: _Sorted, fix_after_n_points: int | None, screen_outliers: bool) -> _Result:
    n = len(s.y)
    result = _Result.empty(n)
    if n == 0:
        return result
    series_first = np.flatnonzero(s.series_start)
    at = np.searchsorted(series_first, np.arange(0, n, _BLOCK_ROWS))
    cuts = series_first[np.minimum(at, len(series_first) - 1)]
    bounds = np.unique(np.append(cuts, n)).tolist()
    # values near the float limit overflow to inf (and then NaN) as they do in R, silently
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for a, b in itertools.pairwise(bounds):
            _compute_block(s, a, b, fix_after_n_points, screen_outliers, result)
    return result


# Groups longer than this are summed one at a time (np.cumsum); shorter ones position by
# position across all groups at once.
_SEQUENTIAL_MAX = 256


@dataclass
class _SumLayout:
    """Positions for adding up each group's values in order, all groups at once.

    The values are those of all groups, one group after another. Short groups are ranked
    longest first, so that the groups that have a k-th value are a prefix of the ranking:
    ``at`` lists, for k = 0, 1, ..., the position of the k-th value of each of them.
    """

    n_groups: int
    short: np.ndarray  # group ids of the short groups, longest first
    prefix: list[int]  # how many short groups have a k-th value, for each k
    at: np.ndarray  # position of each (k, ranked group) pair, k-major
    long: list[tuple[int, int, int]]  # (group id, first position, end position)

    @classmethod
    def of(cls, first: np.ndarray, sizes: np.ndarray) -> _SumLayout:
        is_long = sizes > _SEQUENTIAL_MAX
        short = np.flatnonzero(~is_long)
        short = short[np.argsort(-sizes[short], kind="stable")]
        short_sizes = sizes[short]
        longest = int(short_sizes[0]) if len(short) else 0
        # groups are ranked longest first, so the count with a k-th value is a search
        prefix = np.searchsorted(-short_sizes, -np.arange(longest), side="left").tolist()
        starts = first[short]
        at = (
            np.concatenate([starts[:c] + k for k, c in enumerate(prefix)])
            if prefix
            else np.zeros(0, dtype=np.intp)
        )
        long = [(int(g), int(first[g]), int(first[g] + sizes[g])) for g in np.flatnonzero(is_long)]
        return cls(len(sizes), short, prefix, at, long)


def _r_means(values: np.ndarray, mask: np.ndarray, gid: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean of each group's masked values exactly as R's ``mean()`` computes it.

    R adds the values in order in extended precision, divides by the count, adds the mean of
    the residuals as a correction, and rounds to double only at the end. A plain double sum
    can differ in the last bit, which decides ties: a value exactly on the mean breaks a run
    only if the mean is computed the same way. A group with no values gets NaN.
    """
    kept = np.flatnonzero(mask)
    x = values[kept]  # each group's values in order, one group after another
    count = np.bincount(gid[kept], minlength=n_groups)
    layout = _SumLayout.of(np.cumsum(count) - count, count)
    out = np.full(n_groups, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        if len(layout.short):
            short = layout.short
            n = count[short].astype(np.longdouble)
            xs = x[layout.at].astype(np.longdouble)
            mean = _prefix_sums(xs, layout.prefix, len(short)) / n
            residual = np.zeros(len(short), dtype=np.longdouble)
            step = np.empty(len(short), dtype=np.longdouble)
            pos = 0
            for c in layout.prefix:
                np.subtract(xs[pos : pos + c], mean[:c], out=step[:c])
                residual[:c] += step[:c]
                pos += c
            out[short] = mean + residual / n
        for group, a, b in layout.long:
            xl = x[a:b].astype(np.longdouble)
            mean_l = np.cumsum(xl)[-1] / len(xl)
            out[group] = mean_l + np.cumsum(xl - mean_l)[-1] / len(xl)
    return out


def _prefix_sums(xs: np.ndarray, prefix: list[int], n: int) -> np.ndarray:
    """Sums of the k-major values `xs` of ranked groups, each added in order."""
    total = np.zeros(n, dtype=xs.dtype)
    pos = 0
    for c in prefix:
        total[:c] += xs[pos : pos + c]
        pos += c
    return total


def _compute_block(
    s: _Sorted,
    a: int,
    b: int,
    fix_after_n_points: int | None,
    screen_outliers: bool,
    out: _Result,
) -> None:
    """Fill rows a:b of `out`; row a starts a series and row b starts the next one (or ends)."""
    y = s.y[a:b]
    series_start = s.series_start[a:b]
    rebase = s.rebase[a:b]
    n = b - a
    starts = series_start | rebase
    first = np.flatnonzero(starts)
    n_groups = len(first)
    sizes = np.diff(first, append=n)
    gid = np.repeat(np.arange(n_groups, dtype=np.intp), sizes)

    # rebase_group = cumsum(rebase) within each series
    if rebase.any():
        cum = np.cumsum(rebase, dtype=np.int32)
        series_first = np.flatnonzero(series_start)
        base = cum[series_first] - rebase[series_first]
        sid = np.cumsum(series_start, dtype=np.int32) - 1
        np.subtract(cum, base[sid], out=out.rebase_group[a:b])
    else:
        out.rebase_group[a:b] = 0

    used = ~np.isnan(y)
    if fix_after_n_points is not None:
        pos = np.arange(n, dtype=np.int32) - first[gid]
        used &= pos < fix_after_n_points

    def means(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return _r_means(values, mask, gid, n_groups)

    with np.errstate(invalid="ignore", divide="ignore"):
        mean = means(y, used)

        mr = np.zeros(n)
        mr_ok = np.zeros(n, dtype=bool)
        if n > 1:
            np.logical_and(used[1:], used[:-1], out=mr_ok[1:])
            mr_ok &= ~starts
            np.abs(y[1:] - y[:-1], out=mr[1:], where=mr_ok[1:])
        amr = means(mr, mr_ok)
        if screen_outliers:
            keep = mr_ok & (mr < (SCREEN_FACTOR * amr)[gid])
            amr = means(mr, keep)  # NaN when no range is kept, as in R

        lpl = np.take(mean - LIMIT * amr, gid, out=out.lpl[a:b], mode="clip")
        upl = np.take(mean + LIMIT * amr, gid, out=out.upl[a:b], mode="clip")
        nlpl = np.take(mean - LIMIT_CLOSE * amr, gid, out=out.nlpl[a:b], mode="clip")
        nupl = np.take(mean + LIMIT_CLOSE * amr, gid, out=out.nupl[a:b], mode="clip")
        mean_r = np.take(mean, gid, out=out.mean[a:b], mode="clip")

    outside = np.greater(y, upl, out=out.outside[a:b])
    outside |= y < lpl
    close = np.logical_or(y < nlpl, y > nupl, out=out.close[a:b])
    close &= ~outside
    rtm = np.subtract((y > mean_r).view(np.int8), (y < mean_r).view(np.int8), out=out.rtm[a:b])

    run = (rtm != 0) & _in_long_run(rtm, starts, RUN_POINTS)
    trend, trend_up = _trend_flags(y, starts)
    two3 = _two_in_three_flags(close, rtm, starts)
    sct = _label_codes(outside, rtm, trend, trend_up, two3, run)
    out.sct[a:b] = sct
    out.pt[a:b] = _point_type_codes(sct, s.direction[a:b])
    np.take(sizes < SHORT_GROUP_THRESHOLD, gid, out=out.short[a:b], mode="clip")
    np.take(np.isnan(amr) | np.isnan(mean), gid, out=out.limits_missing[a:b], mode="clip")


def _assemble(
    keys: pd.DataFrame,
    date_col: str,
    dates: np.ndarray,
    value_col: str,
    y: np.ndarray,
    direction: np.ndarray,
    target: np.ndarray,
    r: _Result,
) -> pd.DataFrame:
    """The output frame; shared by the vectorised engine and the loop reference."""
    missing = np.isnan(y)
    flags_missing = missing | r.limits_missing
    sct, pt = r.sct, r.pt
    if missing.any():
        sct, pt = sct.copy(), pt.copy()
        sct[missing] = -1
        pt[missing] = -1
    cols: dict[str, Any] = {c: keys[c] for c in keys.columns}
    cols[date_col] = dates
    cols[value_col] = y
    cols["rebase_group"] = r.rebase_group
    cols["short_group_warning"] = r.short
    cols["direction"] = pd.Categorical.from_codes(
        (direction + 1).astype(np.int8), dtype=_DIR_DTYPE, validate=False
    )
    cols["target"] = target
    cols["mean"] = r.mean
    cols["lpl"] = r.lpl
    cols["upl"] = r.upl
    cols["nlpl"] = r.nlpl
    cols["nupl"] = r.nupl
    cols["relative_to_mean"] = pd.arrays.IntegerArray(r.rtm, missing | np.isnan(r.mean))
    cols["outside_limits"] = pd.arrays.BooleanArray(r.outside, flags_missing)
    cols["close_to_limits"] = pd.arrays.BooleanArray(r.close, flags_missing)
    cols["special_cause_flag"] = pd.arrays.BooleanArray(sct > 0, missing)
    cols["special_cause_type"] = pd.Categorical.from_codes(sct, dtype=_SCT_DTYPE, validate=False)
    cols["point_type"] = pd.Categorical.from_codes(pt, dtype=_PT_DTYPE, validate=False)
    return pd.DataFrame(cols, copy=False)


def compute_spc(
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
    """Making Data Count XmR limits and special-cause rules for every series of a long frame.

    Args:
        df: one row per point; it is not modified.
        series_cols: columns that identify a series (none: the whole frame is one series).
        date_col, value_col: the date and the value of each point. A series must not repeat a
            date. Values may be missing (see the module docstring).
        direction: ``"increase"`` (the default, as in NHSRplotthedots), ``"decrease"`` or
            ``"neutral"`` for every series, or a mapping (or Series) from series key to
            direction; series it does not list are neutral. A series key is the value of the
            single series column, or a tuple.
        direction_col: a column holding the direction of each row instead.
        target: one number for every series, or a mapping from series key to target.
        target_col: a column holding the target of each row instead.
        rebase: dates that start a new set of limits, for every series; or a mapping from
            series key to its dates. A rebase date that is not in a series is ignored.
        fix_after_n_points: compute the mean and limits from the first *n* rows of each group
            only. Making Data Count asks for at least 12; the library accepts any *n* >= 1.
        screen_outliers: drop large moving ranges once before the limits (NHSRplotthedots'
            default). ``False`` matches the Making Data Count Excel tool.

    Returns:
        A new frame sorted by series then date, one row per input row: the series columns,
        the date and value columns, ``rebase_group``, ``short_group_warning`` (trial limits:
        fewer than 13 rows in the group), ``direction``, ``target``, ``mean``, ``lpl``, ``upl``,
        ``nlpl``, ``nupl`` (the 2-sigma zone edges), ``relative_to_mean``, ``outside_limits``,
        ``close_to_limits``, ``special_cause_flag``, ``special_cause_type`` and ``point_type``.

    Raises:
        ValueError: on missing columns, dates or values of the wrong kind, repeated dates in a
            series, or invalid options.
    """
    cols = _as_list(series_cols)
    _check_options(df, [*cols, date_col, value_col, direction_col, target_col], fix_after_n_points)
    s = _prepare(
        df, cols, date_col, value_col, direction, direction_col, target, target_col, rebase
    )
    result = _compute(s, fix_after_n_points, screen_outliers)
    return _assemble(s.keys, date_col, s.dates, value_col, s.y, s.direction, s.target, result)


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
