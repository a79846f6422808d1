"""Many series in one layout: the input's rows sorted by (series, date), each series coded by
one integer, with its first row, rebase rows, direction and target beside every value. The
XmR engine (`xmr`) and the icons (`assurance`) both work on this layout.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from collectonce.feedback.spc.inputs import (
    _DAY_NS,
    _KEY_LIMIT,
    DirectionSpec,
    RebaseSpec,
    TargetSpec,
    _date_list,
    _date_values,
    _numeric_values,
    _rebase_dates,
    direction_code,
)


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


def _key_row(key: Hashable, n_cols: int) -> tuple[Any, ...] | None:
    """A series key as a row of `n_cols` values; None when it has another shape."""
    row = key if n_cols > 1 else (key,)
    return row if isinstance(row, tuple) and len(row) == n_cols else None


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
        shaped = [_key_row(k, n_cols) for k in keys]
        ok = np.array([r is not None for r in shaped], dtype=bool)
        rows = [(None,) * n_cols if r is None else r for r in shaped]
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
