"""Delta tables held open by the process and brought up to date on each use.

Opening a Delta table reads its log (7–20 ms), and listing its files as a pyarrow dataset costs
about a millisecond per data file (0.9 s at 1,000 files, one per submission); a 50-value
submission asks for the submissions table three times. So:
- `latest` keeps one ``DeltaTable`` per folder and, on each call, reads only the commits made
  since (``update_incremental``, well under a millisecond when there are none);
- `dataset` keeps the pyarrow dataset of every file for the version it was built for;
- `files_with` builds a dataset of only the files whose statistics allow a value in a column
  (one provider's files), from the add actions (about a millisecond for 1,000 files);
- `single_values` tells, from the same statistics, the one value a column holds in each file
  (its submission id), so nothing is read to list them.

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
    #: (version, pyarrow dataset of every file) of the version last asked about.
    dataset: tuple[int, Any] | None = None
    #: (version, add actions, Arrow schema) of the version last asked about.
    actions: tuple[int, Any, Any] | None = None


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
    held.dataset = held.actions = None
    return held.table


def latest(path: Path) -> Any | None:
    """The ``DeltaTable`` at `path` at its latest version (None when there is no table).
    Share it only with code that reads; call this again for a later version."""
    held = _held(path)
    with held.lock:
        return _bring_up_to_date(path, held)


def _actions(held: _Held, table: Any) -> tuple[int, Any, Any]:
    """(version, add actions as a pyarrow table, the table's Arrow schema), per version."""
    import pyarrow as pa

    version = int(table.version())
    if held.actions is None or held.actions[0] != version:
        held.actions = (
            version,
            pa.table(table.get_add_actions(flatten=True)),
            pa.schema(table.schema().to_arrow()),
        )
    return held.actions


def _current(path: Path) -> tuple[int, Any, Any] | None:
    """`_actions` of the table at `path` at its latest version (None when there is none)."""
    held = _held(path)
    with held.lock:
        table = _bring_up_to_date(path, held)
        return None if table is None else _actions(held, table)


def local_file(path: Path, name: str) -> Path | None:
    """The data file an add action names, in the table's folder at `path` (None for a file
    elsewhere, named by a URI)."""
    import urllib.parse

    return None if "://" in name else path / urllib.parse.unquote(name)


#: Delta writers may cut string statistics to this many characters; a maximum that long may
#: stand for a longer value, so it never rules a file out.
CUT_STATISTICS = 32


def _may_hold(actions: Any, column: str, values: list[str]) -> Any:
    """A mask of the files whose statistics on `column` allow one of `values` (files without
    statistics may hold anything)."""
    import pyarrow as pa
    import pyarrow.compute as compute

    pc: Any = compute  # its kernels are made at load, unseen by a checker
    names = set(actions.column_names)
    if f"min.{column}" not in names or f"max.{column}" not in names:
        return pa.array([True] * actions.num_rows)
    low, high = actions.column(f"min.{column}"), actions.column(f"max.{column}")
    unknown = pc.or_(pc.is_null(low), pc.is_null(high))
    keep = pc.or_(unknown, pc.greater_equal(pc.utf8_length(high), CUT_STATISTICS))
    for value in values:
        inside = pc.and_(pc.less_equal(low, value), pc.greater_equal(high, value))
        keep = pc.or_(keep, inside)
    return pc.fill_null(keep, True)


def files_with(path: Path, column: str, values: list[str]) -> tuple[int, Any] | None:
    """(version, pyarrow dataset) of only the files of the table at `path` whose statistics
    allow `column` to hold one of `values`: a query about one provider's values reads that
    provider's files, not every file (building a dataset of every file costs about a
    millisecond per file). Rows still have to be filtered; the files just cannot hold others.
    """
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    found = _current(path)
    if found is None:
        return None
    version, actions, schema = found
    kept = actions.filter(_may_hold(actions, column, values)).column("path").to_pylist()
    files = [local_file(path, str(name)) for name in kept]
    if any(file is None for file in files):  # files elsewhere than the table's folder
        return dataset(path)
    return version, ds.FileSystemDataset.from_paths(
        [str(file) for file in files],
        schema=schema,
        format=ds.ParquetFileFormat(),
        filesystem=pafs.LocalFileSystem(),
    )


def single_values(path: Path, column: str) -> tuple[int, dict[str, str | None]] | None:
    """(version, {file: its one value of `column`, or None when its statistics do not show a
    single non-null value}) for every data file of the table at `path`, from the statistics."""
    import pyarrow.compute as compute

    pc: Any = compute  # its kernels are made at load, unseen by a checker
    found = _current(path)
    if found is None:
        return None
    version, actions, _schema = found
    names = [str(p) for p in actions.column("path").to_pylist()]
    if f"min.{column}" not in actions.column_names:
        return version, dict.fromkeys(names)
    low, high = actions.column(f"min.{column}"), actions.column(f"max.{column}")
    nulls = actions.column(f"null_count.{column}")
    one = pc.fill_null(pc.and_(pc.equal(low, high), pc.equal(nulls, 0)), False).to_pylist()
    lows = low.to_pylist()
    return version, {
        name: (str(lows[i]) if one[i] and len(str(lows[i])) < CUT_STATISTICS else None)
        for i, name in enumerate(names)
    }


def dataset(path: Path) -> tuple[int, Any] | None:
    """(version, pyarrow dataset) of the table at `path` at its latest version."""
    held = _held(path)
    with held.lock:
        table = _bring_up_to_date(path, held)
        if table is None:
            return None
        version = int(table.version())
        if held.dataset is None or held.dataset[0] != version:
            held.dataset = (version, table.to_pyarrow_dataset())
        return held.dataset
