"""Read the level table: the roll-ups that belong to a given publication.

Each level commit is written right after a unified publication and records in its commit
metadata ``collectonce.unified_version``, the publication it was computed from, and the
catalogue's fingerprint. A reader asking for publication N takes the latest level commit made
for N with the same catalogue. When there is none (the publish was killed between the two
commits, N predates roll-ups, or regions, aggregations or the coverage threshold changed since)
the roll-ups are computed from publication N on the spot, so a reader never sees level figures
that disagree with the unified table it is served beside.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import pandas as pd

from collectonce.catalog import Catalog
from collectonce.publish.unified import read_unified, resolve_version
from collectonce.rollup.aggregate import LEVEL_COLUMNS, compute_levels, empty_levels
from collectonce.rollup.writer import FINGERPRINT, UNIFIED_VERSION, levels_path
from collectonce.settings import Settings


def level_commits(settings: Settings) -> dict[int, tuple[int, str]]:
    """For each unified version, the latest level-table version made for it and the catalogue
    fingerprint it was computed with."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(levels_path(settings))
    except TableNotFoundError:
        return {}
    found: dict[int, tuple[int, str]] = {}
    for entry in table.history():
        raw = entry.get(UNIFIED_VERSION)
        if raw is None:
            continue
        unified, version = int(raw), int(entry["version"])
        if version > found.get(unified, (-1, ""))[0]:
            found[unified] = (version, str(entry.get(FINGERPRINT) or ""))
    return found


_CACHE: OrderedDict[tuple[str, int, str, int | None], pd.DataFrame] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def read_levels(
    catalog: Catalog, settings: Settings, as_of: int | None = None
) -> tuple[pd.DataFrame, int]:
    """The roll-ups of publication `as_of` (latest when None) and that publication's version.

    The stored commit is used when it was computed with this catalogue; otherwise (no commit
    for that publication, or the catalogue's regions, aggregations or threshold changed since)
    the roll-ups are computed from the publication with the catalogue as it is now. Raises
    `UnknownPublication` when nothing is published or the version does not exist."""
    from deltalake import DeltaTable

    version = resolve_version(settings, as_of)
    commit, fingerprint = level_commits(settings).get(version, (None, ""))
    use_commit = commit if fingerprint == catalog.fingerprint else None
    key = (str(levels_path(settings)), version, catalog.fingerprint, use_commit)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is None:
        if use_commit is None:
            cached = compute_levels(catalog, read_unified(settings, version))
        else:
            table = DeltaTable(levels_path(settings), version=use_commit)
            cached = table.to_pyarrow_dataset().to_table().to_pandas()
            if cached.empty:
                cached = empty_levels()
        cached = cached.loc[:, LEVEL_COLUMNS]
        cached["period"] = pd.to_datetime(cached["period"])
        with _CACHE_LOCK:
            _CACHE[key] = cached
            while len(_CACHE) > 4:
                _CACHE.popitem(last=False)
    frame = cached.copy()
    frame.attrs["publication"] = version
    return frame, version


def describe(settings: Settings) -> list[dict[str, Any]]:
    """Each level commit: its version and the unified version it belongs to (oldest first)."""
    return [
        {"levels_version": v, "unified_version": u}
        for u, (v, _fingerprint) in sorted(level_commits(settings).items(), key=lambda kv: kv[1])
    ]
