"""Parquet files, every column read as text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from collectonce.ingest.formats.source import (
    FileRejected,
    ReadLimits,
    Source,
    finish_batch,
    size_text,
)
from collectonce.ingest.normalise.text import TRIM_CHARS, to_text_array


def open_parquet_source(path: Path, name: str, limits: ReadLimits) -> Source:
    """A Parquet file: rows are numbered from 1 in file order (there is no header row)."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        meta = parquet.metadata
        expanded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if expanded > limits.max_uncompressed_bytes:
            raise FileRejected(
                "file_too_large",
                f"The Parquet file expands to {size_text(expanded)}, over the "
                f"{size_text(limits.max_uncompressed_bytes)} limit. Split it into smaller files.",
            )
        table = parquet.read()
    except FileRejected:
        raise
    except Exception as exc:
        raise FileRejected(
            "file_unreadable",
            f"The Parquet file cannot be read ({exc}). Write it again and send the new file.",
        ) from exc
    header = [str(n).strip(TRIM_CHARS) for n in table.column_names]
    source = Source(name=name, format="parquet", header=header, header_row=0, batches=iter(()))
    cells = [to_text_array(table.column(i)) for i in range(table.num_columns)]
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
    source.batches = iter([finish_batch(cells, rows, source, False, limits)])
    return source
