"""CSV and other delimited text: encoding, header, delimiter, and streaming in blocks with an
exact fallback for ragged rows.
"""

from __future__ import annotations

import codecs
import csv
import mmap
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from collectonce.ingest.background import prefetch
from collectonce.ingest.formats.source import (
    MAX_TITLE_ROWS,
    FileRejected,
    HeaderTest,
    RawBatch,
    ReadLimits,
    Source,
    binary_rejection,
    finish_batch,
    make_finding,
    record_text,
)
from collectonce.ingest.normalise.text import TRIM_CHARS
from collectonce.sniff import sniff_delimiter
from collectonce.validate.findings import Finding

#: How much of a text file is looked at to find the header and the delimiter.
HEAD_BYTES = 1024 * 1024


#: The longest header row (and title block) of a text file, in characters.
HEADER_CHARS = 256 * 1024


#: Arrow reads CSV in blocks of at most this size (several blocks make one batch).
BLOCK_BYTES = 4 * 1024 * 1024


#: Characters that leave a line blank: spaces, and the Ctrl-Z end-of-file mark of old exports.
_BLANK_CHARS = TRIM_CHARS + "\x1a"


_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])


_UNDEFINED_CP1252 = bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D])


@dataclass
class TextProbe:
    encoding: str
    arrow_encoding: str
    nul_count: int
    has_quotes: bool
    head: str


def probe_text(path: Path, size: int) -> TextProbe:
    """The encoding, NUL bytes and quotes of a text file; rejects binary content.

    The encoding is judged on the first MiB (UTF-8 if it decodes, else Windows-1252). A file
    that turns out to hold non-UTF-8 bytes further down is finished by the exact reader in
    Windows-1252, so nothing is lost. NUL bytes are looked for in the whole file with one
    `find` over a memory map, so a clean file costs next to nothing.
    """
    with path.open("rb") as handle:
        head_bytes = handle.read(HEAD_BYTES)
        if head_bytes.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            head = head_bytes.decode("utf-16", errors="replace").lstrip("\ufeff")
            return TextProbe("utf-16", "utf-16", 0, '"' in head, head)
        first = head_bytes[: 64 * 1024]
        control = len(first) - len(first.translate(None, _CONTROL_BYTES))
        nul_head = first.count(b"\x00")
        if control - nul_head > max(16, len(first) // 20) or nul_head > max(8, len(first) // 20):
            raise binary_rejection("The file holds binary data, not text.")
        nul = _count_nul(handle, size)
    if nul * 100 > size:
        raise binary_rejection(
            f"The file holds {nul:,} NUL bytes, so it is binary data or a damaged export."
        )
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(head_bytes, final=False)
        encoding = "utf-8"
    except UnicodeDecodeError:
        undefined = len(head_bytes.translate(None, _UNDEFINED_CP1252)) < len(head_bytes)
        encoding = "latin-1" if undefined else "cp1252"
    head = head_bytes.decode(encoding, errors="ignore").lstrip("\ufeff")
    arrow_encoding = "utf8" if encoding == "utf-8" else encoding
    return TextProbe(encoding, arrow_encoding, nul, '"' in head, head)


def _count_nul(handle: BinaryIO, size: int) -> int:
    if size == 0:
        return 0
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        if view.find(b"\x00") < 0:
            return 0
    handle.seek(0)
    count = 0
    while chunk := handle.read(4 * 1024 * 1024):
        count += chunk.count(b"\x00")
    return count


def open_csv_source(
    path: Path, name: str, limits: ReadLimits, is_header: HeaderTest | None = None
) -> Source:
    size = path.stat().st_size
    probe = probe_text(path, size)
    window = probe.head[:HEADER_CHARS]
    lines = _lines(window)
    filled = [i for i, line in enumerate(lines) if line.strip(TRIM_CHARS)][: MAX_TITLE_ROWS + 1]
    if not filled:
        raise FileRejected("file_empty", "The file holds no text. Send the file with its rows.")
    # The header is the first non-empty line, unless a recognisable one follows a title block.
    chosen = None
    for index in filled:
        delimiter, header = _split_header(lines[index])
        if chosen is None:
            chosen = (index, delimiter, header)
        if is_header is not None and is_header(header):
            chosen = (index, delimiter, header)
            break
    assert chosen is not None
    header_index, delimiter, header = chosen
    if header_index == len(lines) - 1 and len(probe.head) > HEADER_CHARS:
        raise FileRejected(
            "header_too_large",
            f"The header row is longer than {HEADER_CHARS:,} characters, the limit for a header "
            f"row (it has at least {len(header):,} columns). Send only the columns of the "
            "template, or split the file.",
        )
    source = Source(
        name=name,
        format="csv",
        header=header,
        header_row=header_index + 1,
        batches=iter(()),
        encoding=probe.encoding,
        delimiter=delimiter,
    )
    source.batches = _csv_batches(path, source, probe, limits)
    return source


def _split_header(line: str) -> tuple[str, list[str]]:
    line = line.replace("\x00", "")
    delimiter = sniff_delimiter(line)
    cells = next(csv.reader([line], delimiter=delimiter), [])
    return delimiter, [c.strip(TRIM_CHARS) for c in cells]


def _csv_batches(
    path: Path, source: Source, probe: TextProbe, limits: ReadLimits
) -> Iterator[RawBatch]:
    import pyarrow.csv as pcsv

    ncols = len(source.header)
    names = [f"c{i}" for i in range(ncols)]
    sample = _lines(probe.head[: 256 * 1024])[source.header_row : source.header_row + 1000]
    avg = max(16, sum(len(s) + 1 for s in sample) // max(len(sample), 1))
    block_size = int(min(BLOCK_BYTES, max(64 << 10, avg * limits.batch_rows)))
    read_options = pcsv.ReadOptions(
        column_names=names,
        skip_rows=source.header_row,
        block_size=block_size,
        encoding=probe.arrow_encoding,
    )
    parse_options = pcsv.ParseOptions(
        delimiter=source.delimiter or ",",
        ignore_empty_lines=False,
        newlines_in_values=probe.has_quotes,
    )
    dictionary = set() if probe.nul_count else source.dictionary_columns
    text_dict = pa.dictionary(pa.int32(), pa.string())
    convert_options = pcsv.ConvertOptions(
        column_types={
            n: text_dict if i in dictionary else pa.string() for i, n in enumerate(names)
        },
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=[""],
    )
    next_row = source.header_row + 1
    records_done = 0
    try:
        reader = pcsv.open_csv(
            path,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
        for record_batch in prefetch(reader, name="collectonce-csv-prefetch"):
            n = record_batch.num_rows
            if n == 0:
                continue
            cells = [record_batch.column(i) for i in range(ncols)]
            rows = np.arange(next_row, next_row + n, dtype=np.int64)
            next_row += n
            records_done += n
            yield finish_batch(cells, rows, source, probe.nul_count > 0, limits)
    except (pa.ArrowInvalid, UnicodeDecodeError, ValueError) as exc:
        if probe.encoding == "utf-8" and "utf8" in str(exc).lower().replace("-", ""):
            # Not UTF-8 after all (a £ or – further down): finish in Windows-1252.
            probe = TextProbe("cp1252", "cp1252", probe.nul_count, probe.has_quotes, probe.head)
            source.encoding = "cp1252"
        yield from _python_csv_batches(path, source, probe, limits, records_done)


def _lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


def _python_csv_batches(
    path: Path, source: Source, probe: TextProbe, limits: ReadLimits, skip_records: int
) -> Iterator[RawBatch]:
    """Exact, slower reading: used from the first malformed row to the end of the file."""
    csv.field_size_limit(max(csv.field_size_limit(), min(sys.maxsize, 2**31 - 1)))
    ncols = len(source.header)
    cap = limits.max_field_chars
    with path.open("r", encoding=probe.encoding, errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=source.delimiter or ",")
        for _ in range(source.header_row + skip_records):
            if next(reader, None) is None:
                return
        row_number = source.header_row + skip_records
        columns: list[list[str | None]] = [[] for _ in range(ncols)]
        rows: list[int] = []
        findings: list[Finding] = []
        error_rows: list[int] = []
        error_text: list[str] = []
        for record in reader:
            row_number += 1
            if not any(cell.strip(_BLANK_CHARS) for cell in record):
                if len(rows) >= limits.batch_rows:
                    yield _python_batch(
                        columns, rows, findings, error_rows, error_text, source, probe, limits
                    )
                    columns, rows, findings = [[] for _ in range(ncols)], [], []
                    error_rows, error_text = [], []
                continue
            if (source.required_cells or ncols) <= len(record) < ncols:
                record = record + [""] * (ncols - len(record))
            if len(record) != ncols:
                error_rows.append(row_number)
                error_text.append(record_text(record, source.delimiter or ","))
                findings.append(
                    make_finding(
                        source.name,
                        "row_shape",
                        f"This row has {len(record)} cells but the header has {ncols}. Check "
                        f"for a missing or extra {_delimiter_name(source.delimiter)} (a comma "
                        "inside a figure or a comment needs the cell in double quotes).",
                        row=row_number,
                        value=(source.delimiter or ",").join(record)[:200],
                    )
                )
                continue
            for i, cell in enumerate(record):
                # Oversized cells are cut here already, so a huge field is never held twice.
                if len(cell) > cap + 1:
                    source.cut_lengths[(row_number, i)] = len(cell)
                columns[i].append(cell[: cap + 1] if cell else None)
            rows.append(row_number)
            if len(rows) >= limits.batch_rows:
                yield _python_batch(
                    columns, rows, findings, error_rows, error_text, source, probe, limits
                )
                columns, rows, findings = [[] for _ in range(ncols)], [], []
                error_rows, error_text = [], []
        if rows or findings:
            yield _python_batch(
                columns, rows, findings, error_rows, error_text, source, probe, limits
            )


def _delimiter_name(delimiter: str | None) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}.get(delimiter or ",", "comma")


def _python_batch(
    columns: list[list[str | None]],
    rows: list[int],
    findings: list[Finding],
    error_rows: list[int],
    error_text: list[str],
    source: Source,
    probe: TextProbe,
    limits: ReadLimits,
) -> RawBatch:
    cells = [pa.array(col, type=pa.string()) for col in columns]
    batch = finish_batch(
        cells, np.asarray(rows, dtype=np.int64), source, probe.nul_count > 0, limits
    )
    batch.findings = findings + batch.findings
    batch.error_rows = list(error_rows)
    batch.error_text = list(error_text)
    batch.rows_read += len(error_rows)
    return batch
