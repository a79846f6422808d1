"""A DuckDB connection that never draws on the terminal.

DuckDB draws a progress bar on standard output for any query that runs longer than two
seconds, which would break the one JSON object a `--json` command prints (and garble its
text). Every connection collectonce opens comes from `connect`, with the bar off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb


def connect(config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with `config`, and no progress bar."""
    import duckdb

    con = duckdb.connect(config=config or {})
    con.execute("SET enable_progress_bar = false")
    return con
