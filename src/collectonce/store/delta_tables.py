"""Delta tables held open by the process and brought up to date on each use.

Opening a Delta table reads its log (7–20 ms) and listing its files as a pyarrow dataset takes
about as long again; a 50-value submission asks for the submissions table three times. `latest`
keeps one ``DeltaTable`` per folder and, on each call, reads only the commits made since
(``update_incremental``, well under a millisecond when there are none), and `dataset` keeps the
pyarrow dataset of the version it was built for.

Whatever is returned is the table as it is now, as a fresh open would give it:
- commits by other processes are read on every call;
- a table removed, or removed and made again (its first commit is another file), is opened
  afresh;
- a table that cannot be brought up to date is opened afresh.

A lock per folder keeps threads from updating one table at once; a caller gets the version it
asked for or a later one, never an earlier.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Tables kept open per process (the least recently used is dropped beyond this).
MOST_TABLES = 16

_FIRST_COMMIT = "00000000000000000000.json"


@dataclass
class _Held:
    lock: threading.Lock = field(default_factory=threading.Lock)
    table: Any = None
    #: (inode, modification time) of the table's first commit when it was opened.
    birth: tuple[int, int] | None = None
    dataset: Any = None
    dataset_version: int | None = None


_HELD: OrderedDict[str, _Held] = OrderedDict()
_LOCK = threading.Lock()


def _birth(path: Path) -> tuple[int, int] | None:
    try:
        found = (path / "_delta_log" / _FIRST_COMMIT).stat()
    except OSError:
        return None
    return (found.st_ino, found.st_mtime_ns)


def _held(path: Path) -> _Held:
    key = str(path.resolve())
    with _LOCK:
        found = _HELD.get(key)
        if found is None:
            found = _HELD[key] = _Held()
            while len(_HELD) > MOST_TABLES:
                _HELD.popitem(last=False)
        else:
            _HELD.move_to_end(key)
        return found


def _open(path: Path) -> Any | None:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    if not (path / "_delta_log").is_dir():
        return None
    try:
        return DeltaTable(str(path))
    except TableNotFoundError:
        return None


def _bring_up_to_date(path: Path, held: _Held) -> Any | None:
    birth = _birth(path)
    if held.table is not None and birth is not None and birth == held.birth:
        try:
            held.table.update_incremental()
            return held.table
        except Exception:  # a log it cannot follow (rewritten, cleaned up): open it again
            pass
    held.table, held.birth = _open(path), birth
    held.dataset = held.dataset_version = None
    return held.table


def latest(path: Path) -> Any | None:
    """The ``DeltaTable`` at `path` at its latest version (None when there is no table).
    Share it only with code that reads; call this again for a later version."""
    held = _held(path)
    with held.lock:
        return _bring_up_to_date(path, held)


def dataset(path: Path) -> tuple[int, Any] | None:
    """(version, pyarrow dataset) of the table at `path` at its latest version."""
    held = _held(path)
    with held.lock:
        table = _bring_up_to_date(path, held)
        if table is None:
            return None
        version = int(table.version())
        if held.dataset is None or held.dataset_version != version:
            held.dataset, held.dataset_version = table.to_pyarrow_dataset(), version
        return version, held.dataset
