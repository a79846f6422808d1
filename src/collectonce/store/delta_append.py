"""Append record batches to a Delta table: Parquet written by pyarrow, committed by deltalake.

``deltalake.write_deltalake`` decodes every batch and encodes it again in its own writer. Here
the batches go straight into ``pyarrow.parquet.ParquetWriter`` files in the table's folder
(Snappy and statistics, as deltalake writes them; dictionary pages for the columns that repeat
values), and the files are then committed to the Delta log in one transaction with deltalake's
own transaction API, each with its size, partition values, modification time and statistics
(``numRecords``, ``minValues``, ``maxValues``, ``nullCount``, taken from the Parquet footers),
so deltalake, DuckDB and Spark skip files as they do for files deltalake wrote.

As with ``write_deltalake``: nothing is visible before the commit; files of a failed commit are
deleted; concurrent appends to one table both commit (deltalake retries a blind append).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as _compute
import pyarrow.parquet as pq

#: pyarrow.compute makes its kernels when pyarrow loads, so a type checker knows none by name.
pc: Any = _compute

#: A new file is started when the one being written passes this size (deltalake's default).
TARGET_FILE_BYTES = 100 * 1024 * 1024
COMPRESSION = "snappy"


@dataclass
class _Part:
    """One Parquet file being written (one per partition, and again past the target size)."""

    relative: str
    partition_values: dict[str, str | None]
    sink: Any
    writer: pq.ParquetWriter
    rows: int = 0


@dataclass
class _Files:
    root: Path
    schema: pa.Schema
    partition_by: list[str]
    target_bytes: int
    open: dict[tuple[str | None, ...], _Part] = field(default_factory=dict)
    done: list[tuple[_Part, pq.FileMetaData]] = field(default_factory=list)

    def part(self, key: tuple[str | None, ...]) -> _Part:
        part = self.open.get(key)
        if part is not None and part.sink.tell() >= self.target_bytes:
            self._close(key)
            part = None
        if part is None:
            values = dict(zip(self.partition_by, key, strict=True))
            folder = "/".join(
                f"{name}={'__HIVE_DEFAULT_PARTITION__' if v is None else v}"
                for name, v in values.items()
            )
            name = f"part-00000-{uuid.uuid4()}-c000.{COMPRESSION}.parquet"
            relative = f"{folder}/{name}" if folder else name
            target = self.root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            sink = pa.OSFile(str(target), "wb")
            # pyarrow takes a list of columns for use_dictionary (its stubs say bool).
            dictionary: Any = _dictionary_columns(self.schema)
            writer = pq.ParquetWriter(
                sink,
                self.schema,
                compression=COMPRESSION,
                use_dictionary=dictionary,
                write_statistics=True,
                store_schema=False,
            )
            part = self.open[key] = _Part(relative, values, sink, writer)
        return part

    def _close(self, key: tuple[str | None, ...]) -> None:
        part = self.open.pop(key)
        part.writer.close()
        part.sink.close()
        self.done.append((part, pq.read_metadata(str(self.root / part.relative))))

    def close(self) -> None:
        for key in list(self.open):
            self._close(key)

    def discard(self) -> None:
        for part in self.open.values():
            for closing in (part.writer.close, part.sink.close):
                with contextlib.suppress(Exception):  # what was written is removed below
                    closing()
        parts = [*self.open.values(), *(p for p, _ in self.done)]
        self.open.clear()
        self.done.clear()
        for part in parts:
            (self.root / part.relative).unlink(missing_ok=True)


def append_batches(
    path: Path,
    batches: Iterable[pa.RecordBatch],
    *,
    schema: pa.Schema,
    table_schema: pa.Schema | None = None,
    partition_by: list[str] | None = None,
    target_file_bytes: int = TARGET_FILE_BYTES,
) -> int:
    """Append `batches` (in `schema`) to the Delta table at `path` in one commit, creating the
    table (in `table_schema`, `schema` without dictionaries by default) when there is none; the
    number of rows appended (nothing is committed for 0)."""
    from deltalake import DeltaTable, Schema
    from deltalake.exceptions import TableNotFoundError
    from deltalake.transaction import create_table_with_add_actions

    delta_schema: pa.Schema = _plain(schema) if table_schema is None else table_schema
    partition_by = list(partition_by or [])
    file_schema = pa.schema([f for f in schema if f.name not in partition_by], schema.metadata)
    path.mkdir(parents=True, exist_ok=True)
    files = _Files(path, file_schema, partition_by, target_file_bytes)
    rows = 0
    try:
        for batch in batches:
            rows += batch.num_rows
            for key, part in _split(batch, partition_by):
                files.part(key).writer.write_batch(part)
        files.close()
        if not rows:
            files.discard()
            return 0
        actions = [_add_action(path, part, meta, delta_schema) for part, meta in files.done]
        try:
            table = DeltaTable(str(path)) if (path / "_delta_log").is_dir() else None
        except TableNotFoundError:
            table = None
        if table is None:
            create_table_with_add_actions(
                str(path),
                Schema.from_arrow(delta_schema),
                actions,
                mode="append",
                partition_by=partition_by or None,
            )
        else:
            table.create_write_transaction(
                actions, mode="append", schema=delta_schema, partition_by=partition_by or None
            )
    except BaseException:
        files.discard()
        raise
    return rows


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Dictionary pages for every column except floating-point and 64-bit integer ones: their
    values are mostly distinct, so the writer would build a dictionary only to drop it when it
    grows too large (slower, and a bigger file)."""
    return [
        f.name for f in schema if not (pa.types.is_floating(f.type) or pa.types.is_int64(f.type))
    ]


def _plain(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema],
        schema.metadata,
    )


def _split(
    batch: pa.RecordBatch, partition_by: list[str]
) -> Iterator[tuple[tuple[str | None, ...], pa.RecordBatch]]:
    """The batch's rows per partition (without the partition columns)."""
    if not partition_by:
        yield (), batch
        return
    table = pa.Table.from_batches([batch])
    data = table.drop_columns(partition_by)
    keys = table.select(partition_by).group_by(partition_by, use_threads=False).aggregate([])
    for row in keys.to_pylist():
        mask = None
        for name in partition_by:
            column = table[name]
            value = row[name]
            this = pc.is_null(column) if value is None else pc.equal(column, value)
            mask = this if mask is None else pc.and_(mask, this)
        for part in data.filter(mask).to_batches():
            yield tuple(_partition_text(row[name]) for name in partition_by), part


def _partition_text(value: Any) -> str | None:
    """A partition value as the Delta protocol writes it."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _add_action(root: Path, part: _Part, meta: pq.FileMetaData, table_schema: pa.Schema) -> Any:
    from deltalake.transaction import AddAction

    stat = (root / part.relative).stat()
    return AddAction(
        path=part.relative,
        size=stat.st_size,
        partition_values=part.partition_values,
        modification_time=int(stat.st_mtime * 1000),
        data_change=True,
        stats=json.dumps(file_stats(meta, table_schema), separators=(",", ":")),
    )


def file_stats(meta: pq.FileMetaData, table_schema: pa.Schema) -> dict[str, Any]:
    """The Delta statistics of a Parquet file from its footer: ``numRecords``, and per column
    ``nullCount``, and ``minValues``/``maxValues`` where every row group has them."""
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    mins: dict[str, Any] = {}
    maxes: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for i, name in enumerate(names):
        if name not in table_schema.names:
            continue
        kind = table_schema.field(name).type
        low = high = None
        count: int | None = 0
        bounded = True
        for g in range(meta.num_row_groups):
            column = meta.row_group(g).column(i)
            stats = column.statistics
            if stats is None or column.num_values == 0:
                if column.num_values:
                    count, bounded = None, False
                continue
            if count is not None:
                count = count + stats.null_count if stats.has_null_count else None
            if stats.num_values == 0:  # only nulls here
                continue
            if not stats.has_min_max:
                bounded = False
                continue
            low = stats.min if low is None else min(low, stats.min)
            high = stats.max if high is None else max(high, stats.max)
        if count is not None:
            nulls[name] = count
        if bounded and low is not None and high is not None:
            low, high = _json_value(low, kind), _json_value(high, kind)
            if low is not None and high is not None:
                mins[name], maxes[name] = low, high
    return {"numRecords": meta.num_rows, "minValues": mins, "maxValues": maxes, "nullCount": nulls}


def _json_value(value: Any, kind: pa.DataType) -> Any:
    """A statistic as the Delta protocol writes it (None: leave it out)."""
    if isinstance(value, bytes):
        if not pa.types.is_string(kind) and not pa.types.is_large_string(kind):
            return None
        value = value.decode("utf-8", errors="strict")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    return None
