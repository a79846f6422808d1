"""Open a received file whatever its format, and hand its cells over as text, batch by batch.

The format is decided by the file's *content* (its first bytes), with the name's extension as a
tie-breaker, so a workbook saved as ``returns.csv`` is still read as a workbook, and CSV text
saved as ``returns.xlsx`` is read as CSV (with a ``file_renamed`` warning; a web page saved as
``.xls`` is refused). Whole-file problems raise `FileRejected` before any cell is read:

- larger than ``max_upload_bytes`` (checked on the size on disk, before opening);
- empty, or a header with no data rows;
- binary content (a PDF, an image, random bytes, or a text file with many NUL bytes);
- a workbook that is encrypted (an OLE2 container holding an ``EncryptedPackage``), an old
  Excel 97-2003 ``.xls``, macro-enabled (``.xlsm`` or a ``vbaProject.bin`` part), or one that
  would expand beyond ``max_uncompressed_bytes`` or with an implausible compression ratio
  (a zip bomb). These checks read only the zip's directory, never the members.

NUL bytes: a text file where more than 1% of the bytes are NUL (or whose first 64 KiB is
mostly control characters) is rejected as binary. A few stray NULs are removed from the cells
they sit in, with a warning on each row concerned.

Text encodings: UTF-16 with a byte-order mark (Excel's "Unicode text"), UTF-8 with or without a
BOM, and otherwise Windows-1252 (Latin-1 if the bytes are not valid Windows-1252). The header is
the first non-empty line, unless a recognisable header follows a title block; the delimiter
(``,`` ``;`` tab or ``|``) is whichever the header line uses most.

CSV is read with Arrow's streaming reader in blocks, every column as text, the next block being
parsed in a background thread while the current one is normalised. Row numbers are the ones a
person sees in a spreadsheet: the header is row 1, the first data row row 2, and blank lines
keep their number. If a row has the wrong number of cells (or is longer than a block, or the
bytes stop being UTF-8), the rest of the file is read with Python's csv module, which reports
each such row exactly. A row that leaves off only trailing optional cells (a comment) is padded.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import itertools
import json
import mmap
import queue
import re
import sys
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collectonce.errors import IngestError
from collectonce.ingest.normalise import TRIM_CHARS, cell_text, to_text_array
from collectonce.sniff import sniff_delimiter
from collectonce.validate.findings import Finding, show_value

#: Compression ratio above which a large workbook member is treated as a zip bomb. Real sheet
#: XML compresses about 5-30 times; a zip bomb compresses hundreds or thousands of times.
MAX_COMPRESSION_RATIO = 200
#: Members smaller than this are never judged by their ratio (tiny files compress oddly).
RATIO_MIN_BYTES = 8 * 1024 * 1024
#: How much of a text file is looked at to find the header and the delimiter.
HEAD_BYTES = 1024 * 1024
#: The longest header row (and title block) of a text file, in characters.
HEADER_CHARS = 256 * 1024
#: Arrow reads CSV in blocks of at most this size (several blocks make one batch).
BLOCK_BYTES = 4 * 1024 * 1024
#: Columns beyond this many are ignored in workbooks (a sheet claiming 16,384 columns).
MAX_COLUMNS = 1000
#: Rows a workbook's title block may take before the header row.
MAX_TITLE_ROWS = 20

_BINARY_MAGIC: dict[bytes, str] = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"BZh": "a bzip2 archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"\x7fELF": "a program",
    b"MZ": "a Windows program",
    b"SQLite format 3": "a SQLite database",
    b"ARROW1": "an Arrow IPC file",
}
#: Characters that leave a line blank: spaces, and the Ctrl-Z end-of-file mark of old exports.
_BLANK_CHARS = TRIM_CHARS + "\x1a"
_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
_UNDEFINED_CP1252 = bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D])
T = TypeVar("T")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_MARK = "EncryptedPackage".encode("utf-16-le")


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


# --------------------------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------------------------


def sniff_format(path: Path, name: str, limits: ReadLimits) -> str:
    """Decide how to read the file: "csv", "xlsx", "parquet" or "json"; or raise FileRejected."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FileRejected(
            "file_unreadable", f"The file could not be opened ({exc.strerror}). Send it again."
        ) from exc
    if size > limits.max_upload_bytes:
        raise FileRejected(
            "file_too_large",
            f"The file is {_mb(size)}, over the {_mb(limits.max_upload_bytes)} limit. "
            "Split it into smaller files (for example one per month) and send each.",
        )
    if size == 0:
        raise FileRejected("file_empty", "The file is empty. Send the file with its data rows.")
    with path.open("rb") as handle:
        head = handle.read(64 * 1024)
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsm":
        raise _macro_rejection()
    if head.startswith(_OLE_MAGIC):
        _reject_ole(path)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        check_workbook_zip(path, limits)
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise _binary_rejection(f"This file is {what}, not a data file.")
    text_head = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if suffix in {".xlsx", ".xls"}:
        if text_head[:1] in (b"<", b"{", b"["):
            raise FileRejected(
                "file_unreadable",
                f"The file is named {suffix} but is not an Excel workbook (it looks like a web "
                "page or other text). Open it in Excel and save it again as .xlsx (Excel "
                "Workbook) or as CSV.",
            )
        return "csv"  # CSV text saved under a workbook's name: read it as the CSV it is
    if suffix in {".json", ".jsonl", ".ndjson"} or _looks_like_json(text_head):
        return "json"
    return "csv"


def _looks_like_json(text_head: bytes) -> bool:
    """JSON text by its content: an object, or a list of objects or lists (a CSV header such as
    ``[Org Code],Period`` starts with a bracket too, but a word follows it)."""
    if text_head[:1] == b"{":
        return True
    if text_head[:1] != b"[":
        return False
    rest = text_head[1:].lstrip()
    return rest[:1] in (b"{", b"[", b"]", b"")


def size_text(size: int) -> str:
    """A file size for a message: ``52.4 MB``, or ``1,000 bytes`` under a megabyte."""
    return f"{size / 1024 / 1024:,.1f} MB" if size >= 1024 * 1024 else f"{size:,} bytes"


_mb = size_text


def _macro_rejection() -> FileRejected:
    return FileRejected(
        "workbook_macro_enabled",
        "The workbook contains macros (.xlsm), which are not accepted. Save it as an Excel "
        "Workbook (.xlsx) or as CSV and send that instead.",
    )


def _binary_rejection(what: str) -> FileRejected:
    return FileRejected(
        "binary_file",
        f"{what} Send the data as CSV, an Excel workbook (.xlsx), Parquet or JSON.",
    )


def _reject_ole(path: Path) -> None:
    with path.open("rb") as handle:
        content = handle.read(4 * 1024 * 1024)
    if _ENCRYPTED_MARK in content:
        raise FileRejected(
            "workbook_encrypted",
            "The workbook is password-protected (encrypted), so it cannot be read. Remove the "
            "password (File > Info > Protect Workbook > Encrypt with Password, clear it), save "
            "as .xlsx and send it again.",
        )
    raise FileRejected(
        "workbook_encrypted",
        "This is an old Excel 97-2003 workbook (.xls) or a password-protected one, which cannot "
        "be read. Open it in Excel, remove any password and save it as an Excel Workbook "
        "(.xlsx) or as CSV.",
    )


def check_workbook_zip(path: Path, limits: ReadLimits) -> None:
    """Reject macro-enabled workbooks and zip bombs by reading only the zip directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileRejected(
            "file_unreadable",
            f"The workbook is damaged and cannot be opened ({exc}). Open it in Excel, save it "
            "again as .xlsx and send the new file.",
        ) from exc
    names = {info.filename.lower() for info in infos}
    if any(n.endswith("vbaproject.bin") for n in names):
        raise _macro_rejection()
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed_bytes:
        raise FileRejected(
            "workbook_too_large_uncompressed",
            f"The workbook would expand to {_mb(total)} when opened, over the "
            f"{_mb(limits.max_uncompressed_bytes)} limit. Send the data as CSV, or split it "
            "into smaller workbooks.",
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise FileRejected(
                "workbook_too_large_uncompressed",
                f"The workbook part {info.filename!r} expands {ratio:,.0f} times, which is "
                "typical of a zip bomb, not of a spreadsheet. Save the data as a fresh .xlsx "
                "or CSV and send that.",
            )
    if "xl/workbook.xml" not in names and not any(n.endswith("workbook.xml") for n in names):
        raise FileRejected(
            "file_unreadable",
            "The file is a zip archive but not an Excel workbook. Send the CSV or .xlsx file "
            "itself, not a zip of it.",
        )


# --------------------------------------------------------------------------------------------
# Text files (CSV)
# --------------------------------------------------------------------------------------------


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
            raise _binary_rejection("The file holds binary data, not text.")
        nul = _count_nul(handle, size)
    if nul * 100 > size:
        raise _binary_rejection(
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
        for record_batch in prefetch(reader):
            n = record_batch.num_rows
            if n == 0:
                continue
            cells = [record_batch.column(i) for i in range(ncols)]
            rows = np.arange(next_row, next_row + n, dtype=np.int64)
            next_row += n
            records_done += n
            yield _finish_batch(cells, rows, source, probe.nul_count > 0, limits)
    except (pa.ArrowInvalid, UnicodeDecodeError, ValueError) as exc:
        if probe.encoding == "utf-8" and "utf8" in str(exc).lower().replace("-", ""):
            # Not UTF-8 after all (a £ or – further down): finish in Windows-1252.
            probe = TextProbe("cp1252", "cp1252", probe.nul_count, probe.has_quotes, probe.head)
            source.encoding = "cp1252"
        yield from _python_csv_batches(path, source, probe, limits, records_done)


_DONE = object()


def prefetch(batches: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate `batches` in a background thread, `depth` items ahead.

    Arrow parses CSV blocks without holding the GIL, so the next block is read while the
    caller normalises this one. Exceptions are re-raised in the caller, in order; stopping
    early stops the thread.
    """
    out: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            out.put(exc)

    worker = threading.Thread(target=run, name="collectonce-csv-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = out.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                out.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


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
    batch = _finish_batch(
        cells, np.asarray(rows, dtype=np.int64), source, probe.nul_count > 0, limits
    )
    batch.findings = findings + batch.findings
    batch.error_rows = list(error_rows)
    batch.error_text = list(error_text)
    batch.rows_read += len(error_rows)
    return batch


def _finish_batch(
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


# --------------------------------------------------------------------------------------------
# Workbooks
# --------------------------------------------------------------------------------------------


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
            with contextlib.suppress(AttributeError):
                sheet.reset_dimensions()  # do not trust the sheet's own size claim
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
    return _finish_batch(cells, np.asarray(numbers, dtype=np.int64), source, False, limits)


# --------------------------------------------------------------------------------------------
# Parquet and JSON
# --------------------------------------------------------------------------------------------


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
                f"The Parquet file expands to {_mb(expanded)}, over the "
                f"{_mb(limits.max_uncompressed_bytes)} limit. Split it into smaller files.",
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
    source.batches = iter([_finish_batch(cells, rows, source, False, limits)])
    return source


def open_json_source(path: Path, name: str, limits: ReadLimits) -> Source:
    """JSON: a list of records, ``{"rows": [...]}``, ``{"values": [...]}`` or JSON lines.

    Records are numbered from 1 in file order.
    """
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig", errors="replace")
    if "\x00" in text:
        raise _binary_rejection("The file holds NUL bytes, so it is not JSON text.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        data = _json_lines(text, exc)
    except RecursionError as exc:
        raise FileRejected(
            "file_unreadable",
            "The JSON is nested too deeply to be a table. Send a list of flat records.",
        ) from exc
    records = data
    if isinstance(data, dict):
        for key in ("rows", "values", "data", "records"):
            if isinstance(data.get(key), list):
                records = data[key]
                break
        else:
            records = [data] if data else []
    if not isinstance(records, list):
        raise FileRejected(
            "file_unrecognised",
            'The JSON holds no list of records. Send a list of objects such as [{"provider_code":'
            ' "RF4", "period": "2019-01", "metric_id": "<catalogue code>", "value": 21289}].',
        )
    header: list[str] = []
    seen: set[str] = set()
    for record in records:
        if isinstance(record, dict):
            for key in record:
                if str(key) not in seen:
                    seen.add(str(key))
                    header.append(str(key))
    source = Source(name=name, format="json", header=header, header_row=0, batches=iter(()))
    findings: list[Finding] = []
    error_rows: list[int] = []
    error_text: list[str] = []
    columns: list[list[str | None]] = [[] for _ in header]
    numbers: list[int] = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            error_rows.append(number)
            error_text.append(json.dumps(record))
            findings.append(
                make_finding(
                    name,
                    "row_shape",
                    "This record is not an object of named fields. Write each record as "
                    '{"provider_code": ..., "period": ..., ...}.',
                    row=number,
                    value=json.dumps(record)[:200],
                )
            )
            continue
        if not record:
            continue
        for i, key in enumerate(header):
            columns[i].append(_json_cell(record.get(key)))
        numbers.append(number)
    cells = [pa.array(col, type=pa.string()) for col in columns]
    batch = _finish_batch(cells, np.asarray(numbers, dtype=np.int64), source, False, limits)
    batch.findings = findings + batch.findings
    batch.error_rows = error_rows
    batch.error_text = error_text
    batch.rows_read += len(error_rows)
    source.batches = iter([batch])
    return source


def _json_lines(text: str, first_error: json.JSONDecodeError) -> list[object]:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        raise FileRejected(
            "file_unreadable",
            f"The JSON cannot be read: {first_error.msg} at line {first_error.lineno}, column "
            f"{first_error.colno}. Fix the JSON there (or send CSV).",
        )
    out: list[object] = []
    for number, line in enumerate(lines, start=1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise FileRejected(
                "file_unreadable",
                f"The JSON cannot be read: {exc.msg} on line {number}. Fix that line (or "
                "send CSV).",
            ) from exc
    return out


def _json_cell(value: object) -> str | None:
    if isinstance(value, dict | list):
        return json.dumps(value)
    text = cell_text(value)
    return None if text == "" else text


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def open_source(
    path: Path, name: str, limits: ReadLimits, is_header: HeaderTest | None = None
) -> Source:
    """Open a submission of any supported format; raise FileRejected for whole-file problems."""
    fmt = sniff_format(path, name, limits)
    if fmt == "xlsx":
        return open_xlsx_source(path, name, limits, is_header)
    if fmt == "parquet":
        return open_parquet_source(path, name, limits)
    if fmt == "json":
        return open_json_source(path, name, limits)
    source = open_csv_source(path, name, limits, is_header)
    suffix = Path(name).suffix.lower()
    if suffix in {".xlsx", ".xls"}:
        source.findings.append(
            make_finding(
                name,
                "file_renamed",
                f"The file is named {suffix} but holds CSV text; it was read as CSV. Next time "
                "save it as .csv, or as an Excel Workbook (.xlsx).",
                severity="warning",
            )
        )
    return source


__all__ = [
    "FileRejected",
    "RawBatch",
    "ReadLimits",
    "Source",
    "make_finding",
    "open_source",
    "sniff_format",
]
