"""Write the level table: the roll-ups of one publication, committed right after it.

The table lives at ``tables/levels`` (Delta Lake), rows as `collectonce.contracts.LEVELS`.
Each commit records in its commit metadata ``collectonce.unified_version``, the publication it
was computed from (see `collectonce.rollup.table` for how readers pick it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from collectonce.catalog import Catalog
from collectonce.contracts import LEVELS
from collectonce.rollup.aggregate import compute_levels
from collectonce.settings import Settings

META = "collectonce."
UNIFIED_VERSION = f"{META}unified_version"
FINGERPRINT = f"{META}catalog_fingerprint"


def levels_path(settings: Settings) -> Path:
    return settings.tables_dir / "levels"


def publish_levels(
    catalog: Catalog, settings: Settings, unified_version: int | None, unified: pd.DataFrame
) -> int | None:
    """Compute the roll-ups of publication `unified_version` from its rows and commit them.

    Returns the level table's new version (None when there is nothing to write)."""
    import pyarrow as pa
    from deltalake import CommitProperties, WriterProperties, write_deltalake

    if unified_version is None:
        return None
    frame = compute_levels(catalog, unified)
    table = pa.Table.from_pandas(frame, schema=LEVELS, preserve_index=False)
    table = table.replace_schema_metadata(LEVELS.metadata)
    path = levels_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        UNIFIED_VERSION: str(unified_version),
        f"{META}catalog_version": catalog.version,
        FINGERPRINT: catalog.fingerprint,
        f"{META}counts": json.dumps({"rows": len(frame)}),
    }
    write_deltalake(
        path,
        table,
        mode="overwrite",
        schema_mode="overwrite",
        writer_properties=WriterProperties(compression="ZSTD"),
        commit_properties=CommitProperties(custom_metadata=metadata),
    )
    from deltalake import DeltaTable

    return int(DeltaTable(path).version())
