"""SQL over the published dataset with DuckDB, reading the Delta table with DuckDB's own reader.

DuckDB's `delta` extension comes from the `duckdb-ext-delta` package, installed with
collectonce, so nothing is downloaded at run time. Where no build of it exists for the platform,
the same view is made from the Parquet files that the Delta log lists for the version asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from collectonce.publish.unified import open_table, resolve_version, unified_path
from collectonce.settings import Settings

if TYPE_CHECKING:
    import duckdb

#: The name the unified table has in SQL.
TABLE = "unified"


def delta_extension_dir() -> Path | None:
    """The folder of DuckDB extensions that `duckdb-ext-delta` installs, if it is installed."""
    try:
        import duckdb_ext  # namespace package of duckdb-ext-delta
    except ImportError:
        return None
    for base in getattr(duckdb_ext, "__path__", []):
        folder = Path(base) / "extensions"
        if any(folder.glob("*/*/delta.duckdb_extension")):
            return folder
    return None


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connect(settings: Settings, as_of: int | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in which `unified` is publication `as_of` (latest when None).

    Raises `UnknownPublication` when nothing is published or the version does not exist.
    """
    import duckdb

    version = resolve_version(settings, as_of)
    extensions = delta_extension_dir()
    config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    if extensions is not None:
        config["extension_directory"] = str(extensions)
    con = duckdb.connect(config=config)
    try:
        if extensions is not None:
            con.execute("LOAD delta")
            con.execute(
                f"ATTACH {_sql_text(str(unified_path(settings)))} AS {TABLE} "
                f"(TYPE delta, VERSION {int(version)})"
            )
        else:
            files = open_table(settings, version).file_uris()
            con.execute(f"CREATE VIEW {TABLE} AS SELECT * FROM read_parquet(?)", [files])
    except Exception:
        con.close()
        raise
    return con


def uses_delta_reader(con: duckdb.DuckDBPyConnection) -> bool:
    """True when `unified` is read by DuckDB's Delta reader (not the Parquet fallback)."""
    loaded = con.execute(
        "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'delta'"
    ).fetchone()
    return bool(loaded and loaded[0])
