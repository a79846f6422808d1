"""DuckDB connections that never draw on the terminal.

DuckDB draws a progress bar on standard output for any query that runs longer than two
seconds, which would break the one JSON object a `--json` command prints (and garble its
text). Every connection collectonce opens comes from `connect` or `cursor`, with the bar off.

`connect` opens a new in-memory database (for work with its own settings, such as a memory
limit). `cursor` gives a connection to one in-memory database the process keeps: opening a
database costs 15–25 ms, a cursor on an open one microseconds, which counts for a 50-value
submission that asks one query of the stored values. Each cursor is its own connection (what
it registers is its own) and is used by one thread, as DuckDB asks.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

_LOCK = threading.Lock()
#: (process id, the process's database); a child process opens its own.
_shared: list[tuple[int, duckdb.DuckDBPyConnection]] = []


def connect(config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB database with `config`, and no progress bar."""
    import duckdb

    con = duckdb.connect(config=config or {})
    con.execute("SET enable_progress_bar = false")
    return con


def cursor() -> duckdb.DuckDBPyConnection:
    """A new connection to the process's shared in-memory database (close it when done)."""
    with _LOCK:
        if not _shared or _shared[0][0] != os.getpid():
            _shared[:] = [(os.getpid(), connect())]
        return _shared[0][1].cursor()
