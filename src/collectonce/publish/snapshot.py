"""The publication in memory: one version of the unified table as sorted numpy columns
(`Snapshot`), read once and kept in a small cache by table path and version."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from collectonce.publish.unified import open_table, resolve_version, unified_path
from collectonce.settings import Settings

#: A snapshot row's ``status``: reported, suppressed (``*``) or missing (blank or absent).
REPORTED, SUPPRESSED, MISSING = 0, 1, 2


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
    codes = {"reported": REPORTED, "suppressed": SUPPRESSED}
    status_map = np.array(
        [codes.get(name, MISSING) for name in cols["value_status"].dictionary.to_pylist()],
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
