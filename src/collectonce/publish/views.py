"""Views: each request rendered from the unified table, in its own codes and frequency.

A view holds only what the request asks for (data minimisation): its mapped items, from the
metrics those items map to, for the providers that are its respondents. Unmapped items are
left out.

Periods and ranges
    ``period_from`` and ``period_to`` are months (``YYYY-MM``), both inclusive. For a quarterly
    or yearly request the range is widened to whole request periods, so ``2018-05`` to
    ``2018-07`` gives 2018/19 Q1 and 2018/19 Q2, each aggregated over all its months. Quarters
    and years are NHS financial ones (``2018/19 Q1`` = April to June 2018, ``2018/19`` = April
    2018 to March 2019) unless the request says ``year_start: january``, when they are calendar
    ones (``2018-Q1``, ``2018``). A view covers the request periods in the range for which the
    unified table holds any value of the request's metrics.

Aggregation (month → quarter or year), by the item's transform
    ``sum``, ``mean``, ``last``, ``max`` or ``min`` (``sum`` when the item names none), then
    multiplied by ``scale``. An item mapped to several metrics (``metrics: [a, b]``) is their
    sum for each month first. A metric the provider has never submitted in the publication
    counts as not applicable (a trust with no type 2 A&E unit); a month lacking a metric the
    provider does submit counts as missing.

Flags (one per row, the first that applies)
    ``missing``: a month of the period has no value, or a value reported blank. A sum is then
    null; ``mean``, ``max`` and ``min`` use the months reported; ``last`` is the final
    month's value if it was reported, else null. A respondent with nothing for the period
    gets a row with a null value.
    ``suppressed``: a month was suppressed (``*``); the same value rules as ``missing``.
    ``revised``: a value was changed after it was first received (revision > 1), including
    a late change to a locked period admitted by an exception.
    ``late``: a value arrived after *this request's* deadline: the end of the request period
    that holds it plus the request's ``due_days_after_period``, at 00:00 UTC (a deadline before
    collecting began, as for a back-filled history, makes nothing late).

The returned frame carries ``attrs["publication"]`` (the version it was read from). Its text
columns are categoricals (a view repeats a few codes and labels over many rows).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from collectonce import nhs_periods
from collectonce.catalog import Catalog
from collectonce.catalog.models import CODE_RE, ODS_PATTERN, Item, Request
from collectonce.publish.errors import (
    BadParameter,
    ServedFromRollups,
    UnknownProvider,
    UnknownRequest,
)
from collectonce.publish.periods import (
    MONTHS_IN,
    parse_range,
    period_end_month,
    period_start,
)
from collectonce.publish.unified import (
    STATUS_NAMES,
    collection_start,
    open_table,
    resolve_version,
    unified_path,
)
from collectonce.settings import Settings

__all__ = [
    "PROVIDER_COLUMNS",
    "VIEW_COLUMNS",
    "BadParameter",
    "UnknownProvider",
    "UnknownRequest",
    "clear_cache",
    "provider_data",
    "render_view",
    "warm_cache",
]

VIEW_COLUMNS = ["provider_code", "period", "item", "item_label", "metric", "value", "flag"]
PROVIDER_COLUMNS = [
    "provider_code",
    "period",
    "metric",
    "label",
    "unit",
    "value",
    "value_status",
    "is_derived",
    "revision",
    "is_late",
]
#: The values of a view's ``flag`` column (its categories, in this order).
FLAG_NAMES = ["", "missing", "suppressed", "revised", "late"]
ODS_RE = re.compile(ODS_PATTERN)
_REPORTED, _SUPPRESSED, _MISSING = 0, 1, 2


# --------------------------------------------------------------------------- snapshot cache


@dataclass(frozen=True)
class Snapshot:
    """One publication in memory, sorted by metric, period and provider, as numpy columns.

    ``months`` is each row's period as months since year 0 (``year * 12 + month - 1``); every
    period starts on the first of a month, so this identifies it exactly.
    """

    version: int
    ranges: dict[str, tuple[int, int]]
    months: np.ndarray
    provider_idx: np.ndarray
    providers: np.ndarray
    value: np.ndarray
    status: np.ndarray
    is_derived: np.ndarray
    is_late: np.ndarray
    revision: np.ndarray
    received: np.ndarray  # int64 microseconds since 1970 (UTC)
    _by_provider: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def span(self, code: str, lo: int | None, hi: int | None) -> tuple[int, int]:
        """Row positions [first, last) of metric `code` with lo <= month < hi (binary search)."""
        if code not in self.ranges:
            return 0, 0
        first, last = self.ranges[code]
        months = self.months[first:last]
        start = first + (0 if lo is None else int(np.searchsorted(months, lo, "left")))
        stop = first + (len(months) if hi is None else int(np.searchsorted(months, hi, "left")))
        return start, max(start, stop)

    def provider_positions(self, wanted: list[str]) -> np.ndarray:
        """For each snapshot provider, its position in `wanted`, or -1."""
        lookup = {code: i for i, code in enumerate(wanted)}
        return np.fromiter(
            (lookup.get(code, -1) for code in self.providers),
            dtype=np.int64,
            count=len(self.providers),
        )

    def provider_rows(self, position: int) -> np.ndarray:
        """Row positions of one provider, in metric and period order (index built on first use)."""
        index = self._by_provider.get("index")
        if index is None:
            order = np.argsort(self.provider_idx, kind="stable")
            bounds = np.searchsorted(
                self.provider_idx[order], np.arange(len(self.providers) + 1), side="left"
            )
            index = self._by_provider.setdefault("index", (order, bounds))
        order, bounds = index
        return order[bounds[position] : bounds[position + 1]]

    def submitted(self, code: str) -> np.ndarray:
        """For each snapshot provider, whether it has any row of metric `code`."""
        key = f"submitted:{code}"
        found = self._by_provider.get(key)
        if found is None:
            found = np.zeros(len(self.providers), dtype=bool)
            first, last = self.ranges.get(code, (0, 0))
            found[self.provider_idx[first:last]] = True
            found = self._by_provider.setdefault(key, found)
        return found

    def metric_names(self, rows: np.ndarray) -> np.ndarray:
        """The metric code of each row position (rows are grouped by metric)."""
        if not len(rows):
            return np.zeros(0, dtype=object)
        codes = np.array(list(self.ranges), dtype=object)
        starts = np.array([first for first, _ in self.ranges.values()])
        return codes[np.searchsorted(starts, rows, side="right") - 1]


_CACHE: OrderedDict[tuple[str, int], Snapshot] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 2


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


_TEXT_COLUMNS = ["provider_code", "metric_id", "value_status"]
_SNAPSHOT_COLUMNS = [
    "provider_code",
    "period",
    "metric_id",
    "value",
    "value_status",
    "is_derived",
    "is_late",
    "revision",
    "received_at",
]


def _read_for_snapshot(settings: Settings, version: int) -> Any:
    """The columns views need, text columns dictionary-encoded, one chunk per column.

    Tables written by `publish` use Delta reader version 1 (no deletion vectors, no column
    mapping), so the version's content is exactly its listed Parquet files; reading them with
    dictionary-encoded text is several times faster than materialising the strings.
    """
    import pyarrow as pa
    import pyarrow.compute as compute
    import pyarrow.dataset as ds

    pc: Any = compute  # its kernels are made at load, unseen by a checker

    from collectonce.contracts import UNIFIED

    table = open_table(settings, version)
    schema = pa.schema([UNIFIED.field(name) for name in _SNAPSHOT_COLUMNS])
    files = table.file_uris()
    if not files:
        data = schema.empty_table()
    elif table.protocol().min_reader_version == 1:
        options = ds.ParquetReadOptions(dictionary_columns=_TEXT_COLUMNS)
        dataset = ds.dataset(files, format=ds.ParquetFileFormat(read_options=options))
        data = dataset.to_table(columns=_SNAPSHOT_COLUMNS)
    else:
        data = table.to_pyarrow_dataset().to_table(columns=_SNAPSHOT_COLUMNS)
    for name in _TEXT_COLUMNS:
        column = data[name]
        if not pa.types.is_dictionary(column.type):
            data = data.set_column(
                data.schema.get_field_index(name), name, pc.dictionary_encode(column)
            )
    data = data.unify_dictionaries()
    return {name: data[name].combine_chunks() for name in _SNAPSHOT_COLUMNS}


def _build_snapshot(settings: Settings, version: int) -> Snapshot:
    import pyarrow as pa
    import pyarrow.compute as compute

    pc: Any = compute  # its kernels are made at load, unseen by a checker

    cols = _read_for_snapshot(settings, version)
    metric_names = cols["metric_id"].dictionary.to_pylist()
    # rank metrics by code, so groups come in code order whatever the dictionary's order
    rank = np.empty(len(metric_names), dtype=np.int64)
    rank[np.argsort(np.array(metric_names, dtype=object))] = np.arange(len(metric_names))
    metric_idx = rank[cols["metric_id"].indices.to_numpy(zero_copy_only=False)]
    provider_idx = cols["provider_code"].indices.to_numpy(zero_copy_only=False).astype(np.int64)
    days = cols["period"].cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)
    n = len(days)
    order: np.ndarray | None = None
    if n:
        # publish writes rows sorted by metric, period, provider; sort only if they are not
        key = (metric_idx << 42) | ((days - days.min()) << 21) | provider_idx
        if not bool(np.all(key[1:] >= key[:-1])):
            order = np.argsort(key, kind="stable")

    def reorder(values: np.ndarray) -> np.ndarray:
        return values if order is None else values[order]

    def column(name: str) -> np.ndarray:
        return reorder(cols[name].to_numpy(zero_copy_only=False))

    metric_idx, provider_idx, days = reorder(metric_idx), reorder(provider_idx), reorder(days)
    ranges: dict[str, tuple[int, int]] = {}
    if n:
        bounds = np.flatnonzero(np.diff(metric_idx)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [n]])
        names = sorted(metric_names)
        for first, last in zip(starts.tolist(), ends.tolist(), strict=True):
            ranges[names[metric_idx[first]]] = (first, last)
    months = np.zeros(0, dtype=np.int32)
    if n:
        # month number of each day via a lookup over the (short) span of days in the table
        first_day = int(days.min())
        span = np.arange(first_day, int(days.max()) + 1).astype("datetime64[D]")
        lookup = span.astype("datetime64[M]").astype(np.int64) + 1970 * 12
        months = lookup[days - first_day].astype(np.int32)
    codes = {"reported": _REPORTED, "suppressed": _SUPPRESSED}
    status_map = np.array(
        [codes.get(name, _MISSING) for name in cols["value_status"].dictionary.to_pylist()],
        dtype=np.int8,
    )
    status_idx = cols["value_status"].indices.to_numpy(zero_copy_only=False)
    return Snapshot(
        version=version,
        ranges=ranges,
        months=months,
        provider_idx=provider_idx.astype(np.int32),
        providers=np.array(cols["provider_code"].dictionary.to_pylist(), dtype=object),
        value=column("value").astype(float),
        status=reorder(status_map[status_idx]) if n else np.zeros(0, dtype=np.int8),
        is_derived=column("is_derived").astype(bool),
        is_late=column("is_late").astype(bool),
        revision=column("revision").astype(np.int32),
        received=reorder(
            # no receipt time (never for a published value) counts as on time
            pc.fill_null(cols["received_at"].cast(pa.int64()), 0)
            .to_numpy(zero_copy_only=False)
            .astype(np.int64)
        ),
    )


def snapshot(settings: Settings, as_of: int | None = None) -> Snapshot:
    """The publication `as_of` (latest when None), cached in memory by table path and version."""
    version = resolve_version(settings, as_of)
    key = (str(Path(unified_path(settings)).resolve()), version)
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
        built = _build_snapshot(settings, version)
        _CACHE[key] = built
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return built


def warm_cache(settings: Settings) -> int | None:
    """Load the latest publication into memory (e.g. when a server starts); its version."""
    from collectonce.publish.errors import UnknownPublication

    try:
        return snapshot(settings).version
    except UnknownPublication:
        return None


# --------------------------------------------------------------------------- views


def _request(catalog: Catalog, request_code: str) -> Request:
    if not isinstance(request_code, str) or not CODE_RE.match(request_code):
        raise BadParameter(
            f"request code {str(request_code)[:80]!r} is not a code: use lower-case letters, "
            "digits and underscores"
        )
    request = catalog.requests.get(request_code)
    if request is None:
        raise UnknownRequest(f"there is no request {request_code!r} in the catalogue")
    return request


def _text(values: np.ndarray) -> pd.Series:
    """A text column kept as Python strings (no per-call conversion to another string type)."""
    return pd.Series(values, dtype=object, copy=False)


def _respondents(catalog: Catalog, request: Request) -> list[str]:
    """ODS codes of the providers that answer `request` (as `Catalog.requests_for` decides)."""
    if request.respondents == "all":
        return sorted(catalog.providers)
    groups = set(request.respondents)
    return sorted(p.ods_code for p in catalog.providers.values() if p.peer_group in groups)


def _category(labels: list[str], codes: np.ndarray) -> pd.Categorical:
    """The text column ``labels[codes]`` as a categorical: one string per distinct label, not
    per row (exports then write each label once)."""
    small, distinct = pd.factorize(np.array(labels, dtype=object))
    categories = pd.Index(np.asarray(distinct, dtype=object), dtype=object)
    return pd.Categorical.from_codes(small[codes], categories=categories)


def _empty_view(version: int | None = None, request: str = "") -> pd.DataFrame:
    empty = np.zeros(0, dtype=np.int64)
    out = pd.DataFrame({c: _category([], empty) for c in VIEW_COLUMNS})
    out["value"] = pd.Series(dtype=float)
    out.attrs.update(publication=version, request=request)
    return out


def _month_number(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _labels(months: np.ndarray, frequency: str, year_start: str = "april") -> np.ndarray:
    """Period labels for absolute month numbers (NHS quarters and years unless calendar)."""
    return nhs_periods.labels_for_months(months, frequency, year_start)


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
class _Cells:
    """Metric-grain values per respondent × month × item, as dense arrays."""

    first_month: int
    value: np.ndarray  # float (P, T, I): the item's value (sum of its metrics)
    status: np.ndarray  # int8 (P, T, I): reported / suppressed / missing (absent = missing)
    present: np.ndarray  # bool (P, T, I): any of the item's metrics has a row
    late: np.ndarray  # bool (P, T, I)
    revised: np.ndarray  # bool (P, T, I)


def _cells(
    snap: Snapshot,
    items: list[Item],
    lo: int | None,
    hi: int | None,
    respondents: list[str],
    request: Request,
    start: dt.date,
) -> _Cells | None:
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
    status = np.where(count < needed[:, None, :], np.int8(_MISSING), status)
    return _Cells(lo, value, status, count > 0, late, revised)


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


def _aggregate_cells(
    cells: _Cells, items: list[Item], grains: dict[str, str], size: int
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
    reported = (status == _REPORTED) & expected
    missing = ((status == _MISSING) & expected).any(axis=2)
    suppressed = ((status == _SUPPRESSED) & expected).any(axis=2)
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


def render_view(
    catalog: Catalog,
    settings: Settings,
    request_code: str,
    period_from: str | None,
    period_to: str | None,
    as_of: int | None = None,
) -> pd.DataFrame:
    """The request `request_code` as its requester sees it (see the module docstring).

    Columns: provider_code, period (``YYYY-MM``; ``2018/19 Q1`` / ``2018/19``, or ``2018-Q1`` /
    ``2018`` for a calendar request), item (their code),
    item_label, metric (catalogue codes joined by "+"), value, flag; sorted by provider, period
    and the request's item order. Raises `BadParameter` (malformed code or period),
    `UnknownRequest`, or `UnknownPublication`.
    """
    request = _request(catalog, request_code)
    if request.level != "provider":  # served from the roll-ups, one layer up
        raise ServedFromRollups(
            f"request {request.code} is made at {request.level} level: its view is served from "
            "the roll-ups (collectonce.rollup.publishing.render_request_view)"
        )
    start, end = parse_range(period_from, period_to)
    freq, year_start = request.frequency, request.year_start
    size = MONTHS_IN[freq]
    lo = _month_number(period_start(start, freq, year_start)) if start else None
    hi = _month_number(period_end_month(end, freq, year_start)) + 1 if end else None
    snap = snapshot(settings, as_of)
    items = [it for it in request.items if it.is_mapped]
    respondents = _respondents(catalog, request)
    if not items or not respondents:
        return _empty_view(snap.version, request.code)
    cells = _cells(snap, items, lo, hi, respondents, request, collection_start(catalog))
    if cells is None:
        return _empty_view(snap.version, request.code)
    grains = {code: m.grain.period for code, m in catalog.metrics.items()}
    agg = _aggregate_cells(cells, items, grains, size)
    keep = np.flatnonzero(agg["has_data"])
    if not len(keep):
        return _empty_view(snap.version, request.code)
    value = agg["value"][:, keep, :]
    flag = agg["flag"][:, keep, :]
    n_p, n_b, n_i = value.shape
    labels = _labels(cells.first_month + keep * size, freq, year_start)
    rows = np.arange(n_p * n_b * n_i)
    item_of = rows % n_i
    out = pd.DataFrame(
        {
            "provider_code": _category(respondents, rows // (n_b * n_i)),
            "period": _category(labels.tolist(), rows // n_i % n_b),
            "item": _category([it.their_code for it in items], item_of),
            "item_label": _category([it.their_label for it in items], item_of),
            "metric": _category(["+".join(it.metric_codes) for it in items], item_of),
            "value": value.reshape(-1),
            "flag": _category(FLAG_NAMES, flag.reshape(-1)),
        }
    )
    out.attrs.update(publication=snap.version, request=request.code)
    return out


def provider_data(
    catalog: Catalog,
    settings: Settings,
    ods: str,
    period_from: str | None,
    period_to: str | None,
    as_of: int | None = None,
) -> pd.DataFrame:
    """One provider's own published data (every metric, derived included), by month.

    Columns: provider_code, period (``YYYY-MM``, the first month of a quarterly value), metric,
    label, unit, value, value_status, is_derived, revision, is_late; sorted by metric and
    period. Raises `BadParameter`, `UnknownProvider` or `UnknownPublication`.
    """
    if not isinstance(ods, str) or not ODS_RE.match(ods):
        raise BadParameter(f"{str(ods)[:80]!r} is not an ODS code (3 to 5 capitals or digits)")
    if ods not in catalog.providers:
        raise UnknownProvider(f"there is no provider {ods} in the catalogue")
    start, end = parse_range(period_from, period_to)
    snap = snapshot(settings, as_of)
    hits = np.flatnonzero(snap.providers == ods)
    rows = snap.provider_rows(int(hits[0])) if len(hits) else np.zeros(0, dtype=np.int64)
    if len(rows) and (start is not None or end is not None):
        months = snap.months[rows]
        keep = np.ones(len(rows), dtype=bool)
        if start is not None:
            keep &= months >= _month_number(start)
        if end is not None:
            keep &= months <= _month_number(end)
        rows = rows[keep]
    metric = snap.metric_names(rows)
    labels = {code: m.label for code, m in catalog.metrics.items()}
    units = {code: m.unit for code, m in catalog.metrics.items()}
    months = snap.months[rows].astype(np.int64)
    out = pd.DataFrame(
        {
            "provider_code": _text(np.full(len(rows), ods, dtype=object)),
            "period": _text(_labels(months, "month")),
            "metric": _text(metric),
            "label": _text(np.array([labels.get(m, "") for m in metric], dtype=object)),
            "unit": _text(np.array([units.get(m, "") for m in metric], dtype=object)),
            "value": snap.value[rows],
            "value_status": _text(STATUS_NAMES[snap.status[rows]]),
            "is_derived": snap.is_derived[rows],
            "revision": snap.revision[rows].astype(np.int64),
            "is_late": snap.is_late[rows],
        }
    )
    out.attrs.update(publication=snap.version, provider=ods)
    return out
