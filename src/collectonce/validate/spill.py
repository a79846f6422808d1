"""Spilling: a run's rows kept in memory until there are too many, then in an Arrow IPC file."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from collectonce.contracts import CANONICAL_ROWS


class Spill:
    """Rows kept in memory until there are too many, then in an Arrow IPC file."""

    def __init__(self, directory: Path | None, limit: int) -> None:
        self.directory = directory
        self.limit = limit
        self.tables: list[pa.Table] = []
        self.rows = 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._path: Path | None = None

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if self._writer is None:
            self.tables.append(table)
            if self.rows > self.limit:
                self._open()
                for held in self.tables:
                    self._write(held)
                self.tables = []
        else:
            self._write(table)

    def _open(self) -> None:
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._tmp = tempfile.TemporaryDirectory(
            prefix="spill-", dir=None if self.directory is None else str(self.directory)
        )
        self._path = Path(self._tmp.name) / "rows.arrow"
        # Uncompressed: written once and read back once, batch by batch.
        self._writer = pa.ipc.new_file(str(self._path), CANONICAL_ROWS)

    def _write(self, table: pa.Table) -> None:
        assert self._writer is not None
        for batch in table.to_batches():
            self._writer.write_batch(batch)

    def batches(self) -> Iterator[pa.Table]:
        if self._writer is None:
            yield from self.tables
            return
        self._writer.close()
        self._writer = None
        assert self._path is not None
        with pa.OSFile(str(self._path)) as source:  # not mapped: read pages would count as RSS
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield pa.Table.from_batches([reader.get_batch(i)])
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self.tables = []
