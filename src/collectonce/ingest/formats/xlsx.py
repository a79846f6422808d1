"""Excel workbooks (.xlsx): the first sheet, its title rows skipped, read row by row."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from collectonce.ingest.formats.source import (
    MAX_COLUMNS,
    MAX_TITLE_ROWS,
    FileRejected,
    HeaderTest,
    RawBatch,
    ReadLimits,
    Source,
    finish_batch,
    make_finding,
)
from collectonce.ingest.normalise.text import TRIM_CHARS, cell_text


def open_xlsx_source(
    path: Path, name: str, limits: ReadLimits, is_header: HeaderTest | None = None
) -> Source:
    """The first sheet that holds data (preferring one whose header we recognise).

    Rows are streamed from the chosen sheet in batches; only the first rows of each sheet are
    looked at to choose it.
    """
    import openpyxl

    # Opened as a file object: openpyxl judges a path by its extension, and an archived copy
    # has none (the format was already decided by the file's content).
    handle = path.open("rb")
    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        handle.close()
        raise _damaged_workbook(exc) from exc
    workbook = _ClosingWorkbook(workbook, handle)
    try:
        chosen: tuple[object, int, list[list[object]], int] | None = None
        for sheet in workbook.worksheets:
            if not hasattr(sheet, "iter_rows"):
                continue  # a chart sheet
            reset = getattr(sheet, "reset_dimensions", None)
            if callable(reset):
                reset()  # do not trust the sheet's own size claim
            found = _sheet_head(sheet, is_header)
            if found is None:
                continue
            header_row, head_rows, consumed, recognised = found
            if recognised or chosen is None:
                chosen = (sheet, header_row, head_rows, consumed)
            if recognised:
                break
    except FileRejected:
        workbook.close()
        raise
    except Exception as exc:
        workbook.close()
        raise _damaged_workbook(exc) from exc
    if chosen is None:
        workbook.close()
        raise FileRejected(
            "file_empty", "Every sheet in the workbook is empty. Put the data on the first sheet."
        )
    sheet, header_row, head_rows, consumed = chosen
    header = [(cell_text(c) or "").strip(TRIM_CHARS) for c in head_rows[0]]
    while header and not header[-1]:
        header.pop()
    source = Source(
        name=name,
        format="xlsx",
        header=header,
        header_row=header_row,
        batches=iter(()),
        sheet=str(getattr(sheet, "title", "")),
    )
    wide = _header_width(sheet, header_row)
    if wide > MAX_COLUMNS:
        source.findings.append(
            make_finding(
                name,
                "header_too_wide",
                f"The header row has {wide:,} columns; only the first {MAX_COLUMNS:,} are read "
                f"(the limit for a workbook's columns). Move the data into the first "
                f"{MAX_COLUMNS:,} columns, or send one file per group of metrics.",
                severity="warning",
            )
        )
    source.batches = _sheet_batches(workbook, sheet, head_rows[1:], consumed, source, limits)
    return source


def _header_width(sheet: object, header_row: int) -> int:
    """Up to the last filled cell of the header row, however many columns that is."""
    try:
        rows = sheet.iter_rows(min_row=header_row, max_row=header_row, values_only=True)  # type: ignore[attr-defined]
        cells = next(iter(rows), ())
    except Exception:  # the batches report a damaged sheet
        return 0
    filled = [i for i, v in enumerate(cells) if v not in (None, "")]
    return filled[-1] + 1 if filled else 0


class _ClosingWorkbook:
    """A read-only workbook that closes the file it was opened from when it is closed."""

    def __init__(self, workbook: object, handle: BinaryIO) -> None:
        self._workbook = workbook
        self._handle = handle

    @property
    def worksheets(self) -> list[object]:
        return list(self._workbook.worksheets)  # type: ignore[attr-defined]

    def close(self) -> None:
        try:
            self._workbook.close()  # type: ignore[attr-defined]
        finally:
            self._handle.close()


def _damaged_workbook(exc: BaseException) -> FileRejected:
    return FileRejected(
        "file_unreadable",
        f"The workbook cannot be read ({type(exc).__name__}: {str(exc)[:200]}). Open it in "
        "Excel, save it again as .xlsx and send the new file.",
    )


def _sheet_rows(sheet: object, start: int = 1) -> Iterator[tuple[int, list[object]]]:
    rows = sheet.iter_rows(min_row=start)  # type: ignore[attr-defined]
    for number, cells in enumerate(rows, start=start):
        yield number, [_xlsx_value(c) for c in cells[:MAX_COLUMNS]]


def _sheet_head(
    sheet: object, is_header: HeaderTest | None
) -> tuple[int, list[list[object]], int, bool] | None:
    """(header row number, rows from the header to the last row read, last row number read,
    recognised), looking at most at a title block and the row after it."""
    head: list[list[object]] = []
    first_row: int | None = None
    last = 0
    for number, values in _sheet_rows(sheet):
        last = number
        if first_row is None:
            if not any(v not in (None, "") for v in values):
                continue
            first_row = number
        head.append(values)
        if len(head) > MAX_TITLE_ROWS:
            break
    if first_row is None:
        return None
    # The header is the first non-empty row, unless a recognisable header follows a title block.
    for offset in range(min(MAX_TITLE_ROWS, len(head))):
        header = [(cell_text(v) or "").strip(TRIM_CHARS) for v in head[offset]]
        if is_header is not None and is_header(header):
            return first_row + offset, head[offset:], last, True
    return first_row, head, last, False


def _sheet_batches(
    workbook: object,
    sheet: object,
    first_rows: list[list[object]],
    last_read: int,
    source: Source,
    limits: ReadLimits,
) -> Iterator[RawBatch]:
    """Data rows of the chosen sheet in batches; closes the workbook at the end."""
    try:
        numbered = enumerate(first_rows, start=source.header_row + 1)
        pending: list[tuple[int, list[object]]] = []
        try:
            for number, values in itertools.chain(numbered, _sheet_rows(sheet, last_read + 1)):
                pending.append((number, values))
                if len(pending) >= limits.batch_rows:
                    yield _rows_batch(pending, source, limits)
                    pending = []
        except Exception as exc:
            raise _damaged_workbook(exc) from exc
        if pending:
            yield _rows_batch(pending, source, limits)
    finally:
        workbook.close()  # type: ignore[attr-defined]


def _xlsx_value(cell: object) -> object:
    value = getattr(cell, "value", None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        fmt = str(getattr(cell, "number_format", "") or "")
        if "%" in fmt:
            # A percent-formatted cell holds 0.925 and shows 92.5%: keep what the person sees.
            return f"{cell_text(round(float(value) * 100, 10))}%"
    return value


def _rows_batch(
    rows: list[tuple[int, list[object]]], source: Source, limits: ReadLimits
) -> RawBatch:
    ncols = len(source.header)
    columns: list[list[str | None]] = [[] for _ in range(ncols)]
    numbers: list[int] = []
    for number, values in rows:
        texts = [cell_text(v) for v in values[:ncols]]
        if not any(texts):
            continue
        texts += [None] * (ncols - len(texts))
        for i, text in enumerate(texts):
            columns[i].append(text or None)
        numbers.append(number)
    cells = [pa.array(col, type=pa.string()) for col in columns]
    return finish_batch(cells, np.asarray(numbers, dtype=np.int64), source, False, limits)
