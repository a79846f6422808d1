"""A validation run's rows, kept as the compact codes the run already holds and given back as
Arrow tables once it has decided.

A `ValidationRun` encodes every row it is fed (provider, metric, status and source column as
small integers, the period through the row's provider × period group, the value and the source
row as numbers). Those codes are all a canonical row is, except its comment and which cells are
null, so this keeps only those two, per batch, and rebuilds each batch from the codes when the
rows are streamed to storage and quarantine. Nothing is written to disk and nothing is parsed
twice; the text columns come back dictionary-encoded (the codes are the indices), which the
Parquet writer takes as they are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from collectonce.contracts import CODED_ROWS

#: The schema of the tables given back: canonical rows with the coded columns as dictionaries
#: (the run's codes are their indices).
HELD_ROWS = CODED_ROWS
_NULLABLE = ("provider_code", "period", "metric_id", "value", "value_status", "source_column")


@dataclass
class _Batch:
    rows: int
    #: Per column that had nulls in this batch: where (True = null).
    nulls: dict[str, np.ndarray]
    comment: pa.Array | None


@dataclass(frozen=True)
class Codes:
    """The run's codes of every row, in the order the rows were added."""

    group: np.ndarray  # provider × period group of each row
    group_provider: np.ndarray  # provider code of each group
    group_day: np.ndarray  # days since 1970-01-01 of each group's period
    metric: np.ndarray
    status: np.ndarray
    column: np.ndarray
    value: np.ndarray  # float64 (NaN where null)
    row: np.ndarray  # source row
    providers: Sequence[str]
    metrics: Sequence[str]
    statuses: Sequence[str]
    columns: Sequence[str]


class HeldRows:
    """What a run keeps of its rows besides their codes: the batches' lengths, null cells and
    comments (usually none)."""

    def __init__(self) -> None:
        self.batches: list[_Batch] = []

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)

    def add(self, table: pa.Table) -> None:
        """Note one batch of canonical rows (already encoded by the run)."""
        nulls = {}
        for name in _NULLABLE:
            column = table[name]
            if column.null_count:
                nulls[name] = column.is_null().to_numpy(zero_copy_only=False)
        comment = table["comment"]
        kept = None if comment.null_count == len(comment) else comment.combine_chunks()
        self.batches.append(_Batch(table.num_rows, nulls, kept))

    def tables(self, codes: Codes) -> Iterator[pa.Table]:
        """The batches again, as tables in `HELD_ROWS`, in the order added."""
        dictionaries = {
            "provider_code": pa.array(list(codes.providers), pa.string()),
            "metric_id": pa.array(list(codes.metrics), pa.string()),
            "value_status": pa.array(list(codes.statuses), pa.string()),
            "source_column": pa.array(list(codes.columns), pa.string()),
        }
        start = 0
        for batch in self.batches:
            stop = start + batch.rows
            group = codes.group[start:stop]
            raw = {
                "provider_code": codes.group_provider[group],
                "metric_id": codes.metric[start:stop],
                "value_status": codes.status[start:stop],
                "source_column": codes.column[start:stop],
            }
            columns: dict[str, pa.Array] = {}
            for name, indices in raw.items():
                mask = batch.nulls.get(name)
                columns[name] = pa.DictionaryArray.from_arrays(
                    pa.array(indices.astype(np.int32, copy=False), pa.int32(), mask=mask),
                    dictionaries[name],
                )
            days = codes.group_day[group].astype(np.int32, copy=False)
            columns["period"] = pa.array(days, pa.int32(), mask=batch.nulls.get("period")).view(
                pa.date32()
            )
            columns["value"] = pa.array(
                codes.value[start:stop], pa.float64(), mask=batch.nulls.get("value")
            )
            columns["comment"] = (
                batch.comment if batch.comment is not None else pa.nulls(batch.rows, pa.string())
            )
            columns["source_row"] = pa.array(codes.row[start:stop], pa.int64())
            yield pa.Table.from_arrays([columns[f.name] for f in HELD_ROWS], schema=HELD_ROWS)
            start = stop
