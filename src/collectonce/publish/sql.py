"""SQL over the published dataset with DuckDB, reading the Delta table with DuckDB's own reader.

DuckDB's `delta` extension comes from the `duckdb-ext-delta` package, installed with
collectonce, so nothing is downloaded at run time. Where no build of it exists for the platform,
the same view is made from the Parquet files that the Delta log lists for the version asked for.

`run_query` runs a user's SQL in a sandbox: only the published table can be read, and only
queries (``SELECT``, ``WITH``, ``EXPLAIN``...) run. Once the table is attached, DuckDB's access to
every other file is turned off (``enable_external_access = false``, with the table's folder the
only one allowed) and the configuration is locked, so ``read_csv('/etc/passwd')``,
``COPY ... TO``, ``ATTACH`` and ``INSTALL`` are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectonce import duck
from collectonce.publish.errors import PublishError
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


class QueryRefused(PublishError):
    """A user's SQL asks for something a query may not do (write, attach, read other files)."""


def connect(
    settings: Settings, as_of: int | None = None, *, sandboxed: bool = False
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in which `unified` is publication `as_of` (latest when None).

    With `sandboxed`, nothing but the published table can be read or written afterwards, and
    the settings cannot be changed back. Raises `UnknownPublication` when nothing is published
    or the version does not exist.
    """
    version = resolve_version(settings, as_of)
    extensions = delta_extension_dir()
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
    }
    if extensions is not None:
        config["extension_directory"] = str(extensions)
    con = duck.connect(config)
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
        if sandboxed:
            table = Path(unified_path(settings))
            folders = sorted({str(table.absolute()) + "/", str(table.resolve()) + "/"})
            con.execute("SET allowed_directories = ?", [folders])
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
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


#: Statement types a user's SQL may hold: queries that read and do nothing else.
_READ_ONLY = ("SELECT", "EXPLAIN")


def run_query(settings: Settings, sql: str, as_of: int | None = None) -> Any:
    """A user's SQL over publication `as_of`, in the sandbox; the result as an Arrow table.

    Raises `QueryRefused` (a statement that is not a query, or that reads or writes files) and
    `duckdb.Error` for a query DuckDB cannot run, besides `UnknownPublication`.
    """
    import duckdb

    con = connect(settings, as_of, sandboxed=True)
    try:
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error:
            statements = []  # a syntax error: executing it below gives DuckDB's own message
        for statement in statements:
            kind = str(statement.type).rsplit(".", 1)[-1].upper()
            if kind not in _READ_ONLY:
                raise QueryRefused(
                    f"only queries may run here (SELECT ... FROM {TABLE}): {kind} statements are "
                    "refused; the published data is read-only, and no other file or "
                    "database may be opened"
                )
        try:
            return con.execute(sql).fetch_arrow_table()
        except duckdb.PermissionException as exc:
            detail = str(exc).splitlines()[0]
            raise QueryRefused(
                f"a query may read only the published table `{TABLE}`: reading or writing other "
                f"files is turned off ({detail})"
            ) from None
    finally:
        con.close()
