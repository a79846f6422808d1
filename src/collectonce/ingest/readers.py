"""Read one received file into canonical long rows, with findings instead of exceptions.

`read_submission` is the one entry point for a whole file; `iter_submission_batches` (and its
alias for the benchmark, `iter_canonical_csv_batches`) yields the same result batch by batch, so
a CSV of ten million values streams through in bounded memory. Both use the same code path, so a
file gives the same rows and findings either way.

Row numbers in findings and in ``source_row`` are the ones a person sees: in CSV the header is
row 1 and the first data row is row 2 (blank lines keep their number); in a workbook they are
the sheet's row numbers; JSON records and Parquet rows are numbered from 1 in file order.

Whole-file problems give a `file_error` (rule and plain-English message) and no rows:
``file_unreadable``, ``file_empty``, ``file_too_large``, ``binary_file``, ``workbook_encrypted``,
``workbook_macro_enabled``, ``workbook_too_large_uncompressed``, ``file_unrecognised`` (no
recognisable columns) and ``required_column`` (no provider or period column). Row problems are
findings: errors keep the row out of ``rows``; warnings leave it in. At most `MAX_FINDINGS_PER_RULE`
findings are listed per rule, followed by one finding counting the rest; `error_rows` always
lists every row rejected while reading, and a batch's ``rejected`` holds each of them as it was
sent (``source_row``, ``sent``: its cells joined by the file's delimiter), for quarantine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePath
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa

from collectonce.catalog import Catalog
from collectonce.contracts import CANONICAL_ROWS, CODED_ROWS
from collectonce.findings import READ_RULES as _READ_RULES
from collectonce.findings import Finding
from collectonce.ingest.background import prefetch
from collectonce.ingest.formats import (
    FileRejected,
    RawBatch,
    ReadLimits,
    Source,
    make_finding,
    open_source,
)
from collectonce.ingest.shapes import (
    CANONICAL_LONG,
    Converted,
    Converter,
    FindingBudget,
    Resolver,
    detect_layout,
)
from collectonce.ingest.shapes import looks_like_header as _looks_like_header
from collectonce.settings import Settings

#: Findings listed per rule and file; the rest are counted in one summary finding.
MAX_FINDINGS_PER_RULE = 1000

#: The rules this module can raise live beside the others (`collectonce.findings`).
READ_RULES = _READ_RULES

#: The rule of a file that could not be read because of a fault on our side: sent again, it is
#: read again.
READ_FAILED = "read_failed"


_NO_ROWS = RawBatch(cells=[], source_row=np.zeros(0, dtype=np.int64))

#: Rows rejected while reading, as they were sent.
REJECTED_WHILE_READING = pa.schema(
    [pa.field("source_row", pa.int64(), nullable=False), pa.field("sent", pa.string())]
)


def _no_rejected() -> pa.Table:
    return REJECTED_WHILE_READING.empty_table()


def _empty_rows() -> pd.DataFrame:
    return CANONICAL_ROWS.empty_table().to_pandas(date_as_object=True)


def table_to_rows(table: pa.Table) -> pd.DataFrame:
    """Canonical rows as pandas: ``period`` holds `datetime.date` values, value NaN if absent."""
    return table.to_pandas(date_as_object=True)


@dataclass
class ParsedBatch:
    """Canonical rows from part of a file, with that part's findings."""

    #: In `CODED_ROWS` (the repeating text columns dictionary-encoded).
    table: pa.Table
    rows_read: int
    template: str
    findings: list[Finding] = field(default_factory=list)
    file_error: Finding | None = None
    error_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: How the file was read: format (csv | xlsx | parquet | json), encoding, delimiter, sheet.
    source: dict[str, str | None] = field(default_factory=dict)
    #: Each row of `error_rows` as it was sent (schema `REJECTED_WHILE_READING`).
    rejected: pa.Table = field(default_factory=_no_rejected)
    #: Rows read but deliberately not stored (a published file's total row).
    rows_skipped: int = 0

    @cached_property
    def rows(self) -> pd.DataFrame:
        return table_to_rows(self.table)


@dataclass
class ParsedFile:
    """A whole file read into canonical long rows (see the module docstring).

    Every non-blank data row of the file (``rows_read`` of them) ends up in one of three places:
    it gave values in ``rows`` (by ``source_row``; a wide row gives several), it is in
    ``error_rows`` (each with at least one error finding; a wide row may be in both when only
    some of its cells were bad), or it carried only items that are not stored (a derived or
    combined item, each with a warning). A published file's total row is counted in
    ``rows_skipped`` (with a warning naming it).
    """

    rows: pd.DataFrame
    rows_read: int
    template: str
    findings: list[Finding] = field(default_factory=list)
    file_error: Finding | None = None
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    #: Data rows rejected while reading (each has at least one error finding).
    error_rows: list[int] = field(default_factory=list)
    rows_skipped: int = 0

    @property
    def rows_rejected(self) -> int:
        return len(self.error_rows)


@dataclass
class _Accumulator:
    """Gathers converted blocks until a batch of about `batch_rows` rows is ready."""

    tables: list[pa.Table] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error_rows: list[np.ndarray] = field(default_factory=list)
    rejected: list[pa.Table] = field(default_factory=list)
    rows_read: int = 0
    rows_skipped: int = 0

    def add(self, raw: RawBatch, converted: Converted, findings: list[Finding]) -> None:
        self.tables.append(converted.table)
        self.findings.extend(findings)
        self.error_rows.append(np.asarray(raw.error_rows, dtype=np.int64))
        self.error_rows.append(converted.error_rows)
        if raw.error_rows:
            self.rejected.append(_rejected(raw.error_rows, raw.error_text))
        if len(converted.error_rows):
            self.rejected.append(_rejected(converted.error_rows, converted.sent))
        self.rows_read += raw.rows_read
        self.rows_skipped += converted.rows_skipped

    def batch(self, template: str, about: dict[str, str | None]) -> ParsedBatch:
        tables = [t if t.schema.equals(CODED_ROWS) else t.cast(CODED_ROWS) for t in self.tables]
        table = pa.concat_tables(tables) if tables else CODED_ROWS.empty_table()
        errors = (
            np.unique(np.concatenate(self.error_rows))
            if self.error_rows
            else np.zeros(0, dtype=np.int64)
        )
        rejected = _no_rejected()
        if self.rejected:
            rejected = pa.concat_tables(self.rejected)
            rows = rejected["source_row"].to_numpy()
            _unique, first = np.unique(rows, return_index=True)  # sorted by row, once each
            rejected = rejected.take(pa.array(first))
        return ParsedBatch(
            table,
            self.rows_read,
            template,
            self.findings,
            None,
            errors,
            about,
            rejected,
            self.rows_skipped,
        )


def _rejected(rows: Sequence[int] | np.ndarray, sent: pa.Array | list[str] | None) -> pa.Table:
    """Rows rejected while reading as a `REJECTED_WHILE_READING` table."""
    numbers = pa.array(np.asarray(rows, dtype=np.int64))
    texts = pa.nulls(len(numbers), pa.string())
    if isinstance(sent, pa.Array):
        texts = cast(pa.Array, sent).cast(pa.string())
    elif isinstance(sent, list) and len(sent) == len(numbers):
        texts = pa.array(sent, pa.string())
    return pa.Table.from_arrays([numbers, texts], schema=REJECTED_WHILE_READING)


def display_name(path: Path, original_name: str | None) -> str:
    """The name a person knows the file by (no folders)."""
    name = original_name or path.name
    return PurePath(name.replace("\\", "/")).name or path.name


def limits_from(settings: Settings, batch_rows: int | None = None) -> ReadLimits:
    return ReadLimits(
        max_upload_bytes=settings.max_upload_bytes,
        max_uncompressed_bytes=settings.max_uncompressed_bytes,
        max_field_chars=settings.max_field_chars,
        batch_rows=max(1, batch_rows or settings.batch_rows),
    )


def iter_submission_batches(
    path: Path,
    catalog: Catalog,
    settings: Settings,
    *,
    original_name: str | None = None,
    batch_rows: int | None = None,
    max_findings: int = MAX_FINDINGS_PER_RULE,
) -> Iterator[ParsedBatch]:
    """Read a file batch by batch. Never raises on bad input.

    A whole-file problem is reported as one batch with `file_error` set and no rows; nothing
    follows it. A file whose header is fine but which has no data rows ends with such a batch
    (rule ``file_empty``). The template is decided by the first batch.
    """
    path = Path(path)
    name = display_name(path, original_name)
    limits = limits_from(settings, batch_rows)
    resolver = Resolver(catalog)
    limiter = FindingBudget(name, max_findings)
    template = CANONICAL_LONG
    about: dict[str, str | None] = {}
    try:
        source = open_source(
            path, name, limits, lambda header: _looks_like_header(header, resolver)
        )
        about = {
            "format": source.format,
            "encoding": source.encoding,
            "delimiter": source.delimiter,
            "sheet": source.sheet,
        }
        try:
            layout = detect_layout(source.header, resolver, name)
        except FileRejected as exc:
            # The header is not usable, but the rows are there: count them, so the receipt
            # accounts for every row the person sent (all rejected).
            error = make_finding(name, exc.rule, exc.message)
            counted = _count_rows(source)
            yield ParsedBatch(CODED_ROWS.empty_table(), counted, template, [], error, source=about)
            return
        template = layout.template
        source.dictionary_columns = layout.key_columns if layout.kind == "long" else set()
        source.required_cells = layout.required_cells
        converter = Converter(
            layout, resolver, source.header, name, limiter, source.delimiter or ","
        )
        pending = limiter.take(source.findings + layout.findings)
        rows_read = 0
        part = _Accumulator()

        def convert() -> Iterator[tuple[RawBatch, Converted, list[Finding]]]:
            # Every use of the finding budget stays in this one thread, in file order.
            for raw in source.batches:
                taken = limiter.take(raw.findings)
                yield raw, converter.convert(raw), taken

        # Blocks are converted in a thread while the caller checks the previous batch (the
        # conversion is mostly Arrow kernels, which release the GIL).
        for raw, converted, taken in prefetch(convert(), depth=1, name="collectonce-convert"):
            template = layout.template
            rows_read += raw.rows_read
            part.add(raw, converted, pending + taken + converted.findings)
            pending = []
            if part.rows_read >= limits.batch_rows:
                yield part.batch(template, about)
                part = _Accumulator()
        last = converter.finish()
        if last is not None:
            part.add(_NO_ROWS, last, last.findings)
        if part.rows_read or part.findings or last is not None:
            yield part.batch(template, about)
        if rows_read == 0:
            raise FileRejected(
                "file_empty",
                "The file has a header but no data rows. Add one row per provider, period "
                "and metric (or per provider and period in a wide template).",
            )
        tail = pending + limiter.summary()
        if tail:
            yield ParsedBatch(CODED_ROWS.empty_table(), 0, template, tail, source=about)
    except FileRejected as exc:
        error = make_finding(name, exc.rule, exc.message)
        yield ParsedBatch(CODED_ROWS.empty_table(), 0, template, [], error, source=about)
    except Exception as exc:  # never raise on bad input: report it, as our fault
        error = make_finding(
            name,
            READ_FAILED,
            f"The file could not be read because of a fault on our side ({type(exc).__name__}: "
            f"{_first_line(exc)}). Send the same file again later: it will be read again. If "
            "it fails again, save it as CSV (UTF-8) and send that.",
        )
        yield ParsedBatch(CODED_ROWS.empty_table(), 0, template, [], error, source=about)


def _count_rows(source: Source) -> int:
    """The data rows of an opened file (0 if they cannot be read either)."""
    try:
        return sum(raw.rows_read for raw in source.batches)
    except Exception:  # a file that cannot be read further has no countable rows
        return 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "no detail"


def iter_canonical_csv_batches(
    path: Path, catalog: Catalog, settings: Settings, batch_rows: int | None = None
) -> Iterator[ParsedBatch]:
    """Stream a (large) canonical long CSV in batches of about `batch_rows` rows.

    Any other shape or format works too (it is the same reader); a workbook, JSON or Parquet
    file comes as one batch.
    """
    return iter_submission_batches(path, catalog, settings, batch_rows=batch_rows)


def read_submission(
    path: Path,
    catalog: Catalog,
    settings: Settings,
    *,
    original_name: str | None = None,
) -> ParsedFile:
    """Read a whole submission into canonical long rows. Never raises on bad input."""
    tables: list[pa.Table] = []
    findings: list[Finding] = []
    error_rows: list[np.ndarray] = []
    rows_read = 0
    rows_skipped = 0
    template = CANONICAL_LONG
    about: dict[str, str | None] = {}
    batches = iter_submission_batches(path, catalog, settings, original_name=original_name)
    for batch in batches:
        template = batch.template
        about = batch.source or about
        if batch.file_error is not None:
            return ParsedFile(
                rows=_empty_rows(),
                rows_read=rows_read + batch.rows_read,
                template=template,
                findings=findings,
                file_error=batch.file_error,
                format=about.get("format"),
                encoding=about.get("encoding"),
                delimiter=about.get("delimiter"),
                sheet=about.get("sheet"),
            )
        if batch.table.num_rows:
            tables.append(batch.table)
        findings.extend(batch.findings)
        error_rows.append(batch.error_rows)
        rows_read += batch.rows_read
        rows_skipped += batch.rows_skipped
    table = pa.concat_tables(tables) if tables else CODED_ROWS.empty_table()
    table = table.cast(CANONICAL_ROWS)
    rejected = np.unique(np.concatenate(error_rows)) if error_rows else np.zeros(0, np.int64)
    return ParsedFile(
        rows=table_to_rows(table),
        rows_read=rows_read,
        template=template,
        findings=findings,
        file_error=None,
        error_rows=[int(r) for r in rejected],
        rows_skipped=rows_skipped,
        format=about.get("format"),
        encoding=about.get("encoding"),
        delimiter=about.get("delimiter"),
        sheet=about.get("sheet"),
    )
