"""Open a received file with the reader its content calls for."""

from __future__ import annotations

from pathlib import Path

from collectonce.ingest.formats.json_records import open_json_source
from collectonce.ingest.formats.parquet import open_parquet_source
from collectonce.ingest.formats.sniffing import sniff_format
from collectonce.ingest.formats.source import (
    HeaderTest,
    ReadLimits,
    Source,
    make_finding,
)
from collectonce.ingest.formats.text import open_csv_source
from collectonce.ingest.formats.xlsx import open_xlsx_source


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
