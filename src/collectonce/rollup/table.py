"""Read the level table: the roll-ups that belong to a given publication.

Each level commit is written right after a unified publication and records in its commit
metadata ``collectonce.unified_version``, the publication it was computed from. A reader asking for
publication N takes the latest level commit made for N. When there is none (the publish was
killed between the two commits, or N predates roll-ups) the roll-ups are computed from
publication N on the spot, so a reader never sees level figures that disagree with the
unified table it is served beside.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from collectonce.catalog import Catalog
from collectonce.publish.unified import read_unified, resolve_version
from collectonce.rollup.aggregate import LEVEL_COLUMNS, compute_levels, empty_levels
from collectonce.rollup.writer import UNIFIED_VERSION, levels_path
from collectonce.settings import Settings


def level_commits(settings: Settings) -> dict[int, int]:
    """For each unified version, the latest level-table version made for it."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(levels_path(settings))
    except TableNotFoundError:
        return {}
    found: dict[int, int] = {}
    for entry in table.history():
        raw = entry.get(UNIFIED_VERSION)
        if raw is None:
            continue
        unified, version = int(raw), int(entry["version"])
        found[unified] = max(version, found.get(unified, -1))
    return found


def read_levels(
    catalog: Catalog, settings: Settings, as_of: int | None = None
) -> tuple[pd.DataFrame, int]:
    """The roll-ups of publication `as_of` (latest when None) and that publication's version.

    Raises `UnknownPublication` when nothing is published or the version does not exist."""
    from deltalake import DeltaTable

    version = resolve_version(settings, as_of)
    commit = level_commits(settings).get(version)
    if commit is None:
        frame = compute_levels(catalog, read_unified(settings, version))
    else:
        table = DeltaTable(levels_path(settings), version=commit)
        frame = table.to_pyarrow_dataset().to_table().to_pandas()
        if frame.empty:
            frame = empty_levels()
    frame = frame.loc[:, LEVEL_COLUMNS]
    frame["period"] = pd.to_datetime(frame["period"])
    frame.attrs["publication"] = version
    return frame, version


def describe(settings: Settings) -> list[dict[str, Any]]:
    """Each level commit: its version and the unified version it belongs to (oldest first)."""
    return [
        {"levels_version": v, "unified_version": u}
        for u, v in sorted(level_commits(settings).items(), key=lambda kv: kv[1])
    ]
