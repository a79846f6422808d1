"""What every reader hands over: a source (header, batches of cells as text, findings), the
limits it reads under, the rejection of a whole file, and the finishing of each batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute

from collectonce.errors import IngestError
from collectonce.validate.findings import Finding, show_value

#: pyarrow.compute makes its kernels when pyarrow loads, so a type checker knows none by name.
pc: Any = _compute

#: Columns beyond this many are ignored in workbooks (a sheet claiming 16,384 columns).
MAX_COLUMNS = 1000


#: Rows a workbook's title block may take before the header row.
MAX_TITLE_ROWS = 20


class FileRejected(IngestError):
    """The whole file cannot be used; `rule` and `message` say why and how to fix it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass
class RawBatch:
    """Some data rows of a file: one text array per column, with their row numbers."""

    cells: list[pa.Array]
    source_row: np.ndarray
    findings: list[Finding] = field(default_factory=list)
    #: Rows read in this batch that are not blank (rows rejected while reading included).
    rows_read: int = 0
    #: Rows rejected while reading (wrong number of cells); they are not in `cells`.
    error_rows: list[int] = field(default_factory=list)
    #: Each of `error_rows` as it was sent.
    error_text: list[str] = field(default_factory=list)

    @property
    def num_rows(self) -> int:
        return len(self.source_row)


@dataclass
class Source:
    """An opened submission: its header and a one-shot iterator over its data rows."""

    name: str
    format: str
    header: list[str]
    header_row: int
    batches: Iterator[RawBatch]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    findings: list[Finding] = field(default_factory=list)
    #: Columns to read dictionary-encoded (few distinct values: codes, periods). Set before the
    #: first batch is taken; the readers that support it honour it.
    dictionary_columns: set[int] = field(default_factory=set)
    #: Cells a row needs; shorter rows are errors, rows between this and the header's width
    #: are padded with blanks (a trailing optional comment left off). 0 means the header's width.
    required_cells: int = 0
    #: The length of each cell cut before it reached `_truncate` (the exact reader cuts huge
    #: cells as it reads them): (row number, column) -> characters sent.
    cut_lengths: dict[tuple[int, int], int] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadLimits:
    """The limits a reader enforces (from Settings)."""

    max_upload_bytes: int
    max_uncompressed_bytes: int
    max_field_chars: int
    batch_rows: int


HeaderTest = Callable[[list[str]], bool]


def _quoted(cell: str | None, delimiter: str) -> str:
    """One cell as a CSV file holds it: in double quotes when it needs them."""
    if cell is None:
        return ""
    if any(ch in cell for ch in (delimiter, '"', "\n", "\r")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def record_text(record: Iterable[str | None], delimiter: str = ",") -> str:
    """A row's cells as one line of text, as a CSV file with this delimiter holds them."""
    return delimiter.join(_quoted(cell, delimiter) for cell in record)


def row_texts(cells: list[pa.Array], positions: np.ndarray, delimiter: str = ",") -> pa.Array:
    """Some rows of a batch as one line of text each (see `record_text`)."""
    take = pa.array(np.asarray(positions, dtype=np.int64))
    texts: list[pa.Array] = []
    for column in cells:
        picked = column.take(take)
        if not pa.types.is_string(picked.type):
            picked = picked.cast(pa.string())
        risky = pc.match_substring(picked, delimiter)
        for special in ('"', "\n", "\r"):
            risky = pc.or_(risky, pc.match_substring(picked, special))
        risky = pc.fill_null(risky, False)
        if pc.any(risky).as_py():
            wrapped = pc.binary_join_element_wise(
                '"', pc.replace_substring(picked, '"', '""'), '"', ""
            )
            picked = pc.if_else(risky, wrapped, picked)
        texts.append(picked)
    if not texts:
        return pa.array([""] * len(take), pa.string())
    return pc.binary_join_element_wise(
        *texts, delimiter, null_handling="replace", null_replacement=""
    )


def make_finding(
    file: str,
    rule: str,
    message: str,
    *,
    severity: str = "error",
    row: int | None = None,
    column: str | None = None,
    metric: str | None = None,
    value: object = None,
) -> Finding:
    shown = None if value is None else show_value(value, 200)
    return Finding(
        file=file,
        row=row,
        column=column,
        metric=metric,
        rule=rule,
        severity="error" if severity == "error" else "warning",
        message=message,
        value=shown,
    )


def size_text(size: int) -> str:
    """A file size for a message: ``52.4 MB``, or ``1,000 bytes`` under a megabyte."""
    return f"{size / 1024 / 1024:,.1f} MB" if size >= 1024 * 1024 else f"{size:,} bytes"


def binary_rejection(what: str) -> FileRejected:
    return FileRejected(
        "binary_file",
        f"{what} Send the data as CSV, an Excel workbook (.xlsx), Parquet or JSON.",
    )


def finish_batch(
    cells: list[pa.Array | pa.ChunkedArray],
    rows: np.ndarray,
    source: Source,
    has_nul: bool,
    limits: ReadLimits,
) -> RawBatch:
    """Drop blank rows, remove stray NULs and cut oversized cells, with findings."""
    arrays = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in cells]
    findings: list[Finding] = []
    if arrays:
        blank = np.ones(len(rows), dtype=bool)
        for arr in arrays:
            if arr.null_count == 0:
                blank[:] = False
                break
            blank &= np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if blank.any():
            keep = pa.array(~blank)
            arrays = [arr.filter(keep) for arr in arrays]
            rows = rows[~blank]
    if has_nul:
        arrays = [_strip_nul(arr, i, rows, source, findings) for i, arr in enumerate(arrays)]
    arrays = [
        _truncate(arr, i, rows, source, limits.max_field_chars, findings)
        for i, arr in enumerate(arrays)
    ]
    return RawBatch(cells=arrays, source_row=rows, findings=findings, rows_read=len(rows))


def _column_name(source: Source, index: int) -> str:
    name = source.header[index] if index < len(source.header) else ""
    return name or f"column {index + 1}"


def _strip_nul(
    arr: pa.Array, index: int, rows: np.ndarray, source: Source, findings: list[Finding]
) -> pa.Array:
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(pa.string())
    hit = np.asarray(
        pc.fill_null(pc.match_substring(arr, "\x00"), False).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    if not hit.any():
        return arr
    for row in rows[hit][:1000]:
        findings.append(
            make_finding(
                source.name,
                "nul_removed",
                "This cell held an invisible NUL character, which was removed. If the figure "
                "looks wrong, retype it and send the file again.",
                severity="warning",
                row=int(row),
                column=_column_name(source, index),
            )
        )
    return pc.replace_substring(arr, "\x00", "")


def _truncate(
    arr: pa.Array,
    index: int,
    rows: np.ndarray,
    source: Source,
    max_chars: int,
    findings: list[Finding],
) -> pa.Array:
    plain = arr.dictionary if pa.types.is_dictionary(arr.type) else arr
    if len(plain) == 0 or (pc.max(pc.binary_length(plain)).as_py() or 0) <= max_chars:
        return arr
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(pa.string())
    lengths = pc.fill_null(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False)
    long_rows = np.flatnonzero(lengths > max_chars)
    if len(long_rows) == 0:
        return arr
    for i in long_rows[:1000]:
        sent = source.cut_lengths.pop((int(rows[i]), index), int(lengths[i]))
        findings.append(
            make_finding(
                source.name,
                "field_truncated",
                f"This cell is {sent:,} characters long; only the first "
                f"{max_chars:,} were kept. Shorten the text (comments belong in a short note).",
                severity="warning",
                row=int(rows[i]),
                column=_column_name(source, index),
            )
        )
    return pc.utf8_slice_codeunits(arr, 0, max_chars)
