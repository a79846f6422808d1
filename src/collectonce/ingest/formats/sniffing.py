"""What a file is, told from its first bytes (the extension only breaks ties), and the checks
on a workbook's zip directory that run before any cell is read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from collectonce.ingest.formats.source import (
    FileRejected,
    ReadLimits,
    binary_rejection,
    size_text,
)

#: Compression ratio above which a large workbook member is treated as a zip bomb. Real sheet
#: XML compresses about 5-30 times; a zip bomb compresses hundreds or thousands of times.
MAX_COMPRESSION_RATIO = 200


#: Members smaller than this are never judged by their ratio (tiny files compress oddly).
RATIO_MIN_BYTES = 8 * 1024 * 1024


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


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


_ENCRYPTED_MARK = "EncryptedPackage".encode("utf-16-le")


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
            f"The file is {size_text(size)}, over the {size_text(limits.max_upload_bytes)} limit. "
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
            raise binary_rejection(f"This file is {what}, not a data file.")
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


def _macro_rejection() -> FileRejected:
    return FileRejected(
        "workbook_macro_enabled",
        "The workbook contains macros (.xlsm), which are not accepted. Save it as an Excel "
        "Workbook (.xlsx) or as CSV and send that instead.",
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
            f"The workbook would expand to {size_text(total)} when opened, over the "
            f"{size_text(limits.max_uncompressed_bytes)} limit. Send the data as CSV, or split it "
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
