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

from collectonce.ingest.formats.dispatch import open_source
from collectonce.ingest.formats.json_records import open_json_source
from collectonce.ingest.formats.parquet import open_parquet_source
from collectonce.ingest.formats.sniffing import (
    MAX_COMPRESSION_RATIO,
    RATIO_MIN_BYTES,
    check_workbook_zip,
    sniff_format,
)
from collectonce.ingest.formats.source import (
    MAX_COLUMNS,
    MAX_TITLE_ROWS,
    FileRejected,
    HeaderTest,
    RawBatch,
    ReadLimits,
    Source,
    make_finding,
    record_text,
    row_texts,
    size_text,
)
from collectonce.ingest.formats.text import (
    BLOCK_BYTES,
    HEAD_BYTES,
    HEADER_CHARS,
    TextProbe,
    open_csv_source,
    probe_text,
)
from collectonce.ingest.formats.xlsx import open_xlsx_source

__all__ = [
    "BLOCK_BYTES",
    "HEADER_CHARS",
    "HEAD_BYTES",
    "MAX_COLUMNS",
    "MAX_COMPRESSION_RATIO",
    "MAX_TITLE_ROWS",
    "RATIO_MIN_BYTES",
    "FileRejected",
    "HeaderTest",
    "RawBatch",
    "ReadLimits",
    "Source",
    "TextProbe",
    "check_workbook_zip",
    "make_finding",
    "open_csv_source",
    "open_json_source",
    "open_parquet_source",
    "open_source",
    "open_xlsx_source",
    "probe_text",
    "record_text",
    "row_texts",
    "size_text",
    "sniff_format",
]
