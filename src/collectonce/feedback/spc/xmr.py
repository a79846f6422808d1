"""XmR limits, vectorised across many series: sort, group, mean and moving ranges, limits and
zones, then the special-cause rules; `compute_spc` is the entry point."""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from collectonce.feedback.spc.inputs import (
    _DAY_NS,
    _DIR_DTYPE,
    _KEY_LIMIT,
    _PT_DTYPE,
    _SCT_DTYPE,
    LIMIT,
    LIMIT_CLOSE,
    RUN_POINTS,
    SCREEN_FACTOR,
    SHORT_GROUP_THRESHOLD,
    DirectionSpec,
    RebaseSpec,
    TargetSpec,
    _as_list,
    _check_options,
    _date_list,
    _date_values,
    _numeric_values,
    _rebase_dates,
    direction_code,
)
from collectonce.feedback.spc.rules import (
    _in_long_run,
    _label_codes,
    _point_type_codes,
    _trend_flags,
    _two_in_three_flags,
)

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
        rows = [
            r if good and isinstance(r, tuple) else (None,) * n_cols
            for r, good in zip(rows, ok, strict=True)
        ]
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
