"""A view's numbers: the request's metric rows scattered into dense respondent × month × item
arrays (`scatter`), then aggregated to the request's periods with their flags (`aggregate`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from collectonce import nhs_periods
from collectonce.catalog.models import Item, Request
from collectonce.publish.periods import MONTHS_IN
from collectonce.publish.snapshot import MISSING, REPORTED, SUPPRESSED, Snapshot


def _deadlines(request: Request, lo: int, hi: int, start: dt.date) -> np.ndarray:
    """For each month number in [lo, hi), the request's deadline for the period holding it,
    as microseconds since 1970 (UTC); none (never late) for a deadline before `start`, when
    collecting began."""
    months = np.arange(lo, hi, dtype=np.int64)
    starts = pd.Series(
        pd.to_datetime({"year": months // 12, "month": months % 12 + 1, "day": 1}).to_numpy()
    )
    ends = nhs_periods.next_period_start(starts, request.frequency, request.year_start)
    due = ends + pd.Timedelta(days=request.due_days_after_period)
    out = due.to_numpy().astype("datetime64[us]").astype(np.int64)
    before = (due < pd.Timestamp(start)).to_numpy()
    return np.where(before, np.iinfo(np.int64).max, out)


@dataclass(frozen=True)
class Cells:
    """Metric-grain values per respondent × month × item, as dense arrays."""

    first_month: int
    value: np.ndarray  # float (P, T, I): the item's value (sum of its metrics)
    status: np.ndarray  # int8 (P, T, I): reported / suppressed / missing (absent = missing)
    present: np.ndarray  # bool (P, T, I): any of the item's metrics has a row
    late: np.ndarray  # bool (P, T, I)
    revised: np.ndarray  # bool (P, T, I)


def scatter(
    snap: Snapshot,
    items: list[Item],
    lo: int | None,
    hi: int | None,
    respondents: list[str],
    request: Request,
    start: dt.date,
) -> Cells | None:
    """Scatter the request's metric rows into dense arrays (no per-row Python)."""
    spans = {code: snap.span(code, lo, hi) for it in items for code in it.metric_codes}
    spans = {code: span for code, span in spans.items() if span[1] > span[0]}
    if not spans:
        return None
    # The arrays span only the request periods that hold data: a wide range (1900-01 to
    # 9999-12) must cost no more than the data it covers. Rows within a metric are sorted by
    # month, so each span's first and last rows are its extremes.
    size = MONTHS_IN[request.frequency]
    offset = nhs_periods.first_month_offset(request.frequency, request.year_start)
    first = min(int(snap.months[a]) for a, _ in spans.values())
    last = max(int(snap.months[b - 1]) for _, b in spans.values()) + 1
    first -= (first - offset) % size
    last += -(last - offset) % size
    lo = max(lo, first) if lo is not None else first
    hi = min(hi, last) if hi is not None else last
    shape = (len(respondents), hi - lo, len(items))
    value = np.zeros(shape)
    status = np.zeros(shape, dtype=np.int8)
    count = np.zeros(shape, dtype=np.int16)
    late = np.zeros(shape, dtype=bool)
    revised = np.zeros(shape, dtype=bool)
    where = snap.provider_positions(respondents)
    deadline = _deadlines(request, lo, hi, start)
    n_t, n_i = shape[1], shape[2]
    # flat views of the new (contiguous) arrays: one index per row instead of three
    flat_value, flat_status, flat_count = value.reshape(-1), status.reshape(-1), count.reshape(-1)
    flat_late, flat_revised = late.reshape(-1), revised.reshape(-1)
    for i, item in enumerate(items):
        for code in item.metric_codes:
            if code not in spans:
                continue
            a, b = spans[code]
            p = where[snap.provider_idx[a:b]]
            rows: slice | np.ndarray = slice(a, b)
            if (p < 0).any():  # rows of providers that do not answer this request
                kept = np.flatnonzero(p >= 0)
                p, rows = p[kept], kept + a
            # within one metric each provider × month is one row, so no index repeats
            flat = (p * n_t + (snap.months[rows] - lo)) * n_i + i
            flat_value[flat] += snap.value[rows]
            flat_status[flat] = np.maximum(flat_status[flat], snap.status[rows])
            flat_count[flat] += 1
            flat_late[flat] |= snap.received[rows] >= deadline[snap.months[rows] - lo]
            flat_revised[flat] |= snap.revision[rows] > 1
    needed = _components_needed(snap, items, where, len(respondents))
    status = np.where(count < needed[:, None, :], np.int8(MISSING), status)
    return Cells(lo, value, status, count > 0, late, revised)


def _components_needed(
    snap: Snapshot, items: list[Item], where: np.ndarray, n_p: int
) -> np.ndarray:
    """For each respondent × item, how many of the item's metrics a month must have.

    One for a single-metric item. For an item summing several metrics, the metrics the provider
    has ever submitted in this publication: a trust without a type 2 A&E unit never submits
    type 2 attendances, and its "all types" total is the sum of the types it has.
    """
    respondent_of = np.flatnonzero(where >= 0)
    to_snapshot = np.zeros(n_p, dtype=np.int64)
    to_snapshot[where[respondent_of]] = respondent_of
    known = np.zeros(n_p, dtype=bool)
    known[where[respondent_of]] = True
    needed = np.ones((n_p, len(items)), dtype=np.int16)
    for i, item in enumerate(items):
        codes = item.metric_codes
        if len(codes) < 2:
            continue
        applicable = np.zeros(n_p, dtype=np.int16)
        for code in codes:
            applicable += snap.submitted(code)[to_snapshot] & known
        needed[:, i] = np.where(applicable == 0, len(codes), applicable)
    return needed


def aggregate(
    cells: Cells, items: list[Item], grains: dict[str, str], size: int
) -> dict[str, np.ndarray]:
    """Request-period value and flag per respondent × period × item (shapes (P, B, I))."""
    n_p, n_t, n_i = cells.value.shape
    n_b = n_t // size

    def per_bucket(a: np.ndarray) -> np.ndarray:
        return a.reshape(n_p, n_b, size, n_i)

    # which months of a period hold a value for each item: every one for monthly metrics, the
    # first of each quarter for quarterly ones, and so on (an item's grain is its first metric's)
    grain = np.array([MONTHS_IN[grains.get(it.metric_codes[0], "month")] for it in items])
    grain = np.minimum(grain, size)
    expected = (np.arange(size)[:, None] % grain[None, :]) == 0  # (size, I)
    status = per_bucket(cells.status)
    value = per_bucket(cells.value)
    reported = (status == REPORTED) & expected
    missing = ((status == MISSING) & expected).any(axis=2)
    suppressed = ((status == SUPPRESSED) & expected).any(axis=2)
    present = per_bucket(cells.present) & expected
    late = (per_bucket(cells.late) & present).any(axis=2)
    revised = (per_bucket(cells.revised) & present).any(axis=2)
    n_rep = reported.sum(axis=2)
    how = [it.transform.aggregate if it.transform else "sum" for it in items]
    scale = np.array([it.transform.scale if it.transform else 1.0 for it in items])
    out = np.empty((n_p, n_b, n_i))
    for name in sorted(set(how)):
        # each aggregate is computed once, over the items that use it
        cols = np.array([i for i, h in enumerate(how) if h == name])
        rep, val, n = reported[..., cols], value[..., cols], n_rep[..., cols]
        if name in ("sum", "mean"):
            total = np.where(rep, val, 0.0).sum(axis=2)
            if name == "sum":
                result = np.where(missing[..., cols] | suppressed[..., cols], np.nan, total)
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    result = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        elif name in ("max", "min"):
            fill = -np.inf if name == "max" else np.inf
            extreme = np.where(rep, val, fill)
            extreme = extreme.max(axis=2) if name == "max" else extreme.min(axis=2)
            result = np.where(n > 0, extreme, np.nan)
        else:  # last: the final expected month's value, if it was reported
            last_pos = (size - grain)[cols]
            at = np.arange(len(cols))
            result = np.where(rep[:, :, last_pos, at], val[:, :, last_pos, at], np.nan)
        out[..., cols] = result * scale[cols]
    flag = np.select([missing, suppressed, revised, late], [1, 2, 3, 4], 0).astype(np.int8)
    has_data = per_bucket(cells.present).any(axis=(0, 2, 3))
    return {"value": out, "flag": flag, "has_data": np.asarray(has_data)}
