"""Quarantine: rejected files and rejected rows, kept with their findings for people to look at.

``quarantine/<submission_id>/`` holds:

- ``manifest.json``: the submission, its status, counts and where the archived file is;
- ``findings.csv``: every finding listed on the receipt;
- ``rejected_rows.csv``: every rejected row with the rules that rejected it (`REJECTED_ROWS`):
  a row rejected while reading (an unreadable figure, a row with too many cells) once, as it was
  sent; a row rejected by validation as its canonical values. Text that a spreadsheet would run
  as a formula is written with a leading apostrophe;
- ``file`` (for a wholly rejected file): a copy of the received bytes, named after the original.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as _compute
import pyarrow.csv as pacsv

from collectonce.atomic import write_bytes_atomic, write_json_atomic
from collectonce.contracts import CANONICAL_ROWS
from collectonce.findings import Finding
from collectonce.settings import Settings

#: pyarrow.compute makes its kernels when pyarrow loads, so a type checker knows none by name.
pc: Any = _compute

FINDING_COLUMNS = ["file", "row", "column", "metric", "rule", "severity", "value", "message"]

#: The columns of ``rejected_rows.csv``: the canonical row as far as it was read, the rules that
#: rejected it, and (for a row rejected while reading) the row as it was sent.
REJECTED_ROWS = pa.schema(
    [
        *(pa.field(f.name, f.type) for f in CANONICAL_ROWS),
        pa.field("rejected_by", pa.string()),
        pa.field("sent", pa.string()),
    ]
)


def quarantine_path(settings: Settings, submission_id: str) -> Path:
    return settings.quarantine_dir / submission_id


class RejectedRows:
    """Writes rejected rows of one submission as CSV, batch by batch (opened on first use).

    With a `schema`, every table written is given its columns (those it lacks are blank), so
    rows of different kinds share one file; without one, the first table's columns are used.
    """

    def __init__(
        self, settings: Settings, submission_id: str, schema: pa.Schema | None = None
    ) -> None:
        self.directory = quarantine_path(settings, submission_id)
        self.path = self.directory / "rejected_rows.csv"
        self._tmp = self.directory / ".rejected_rows.csv.tmp"
        self._writer: pacsv.CSVWriter | None = None
        self.schema = schema
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self.schema is not None:
            table = conform_table(table, self.schema)
        table = neutralise_table(table)
        writer = self._writer
        if writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            writer = self._writer = pacsv.CSVWriter(str(self._tmp), table.schema)
        writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> Path | None:
        if self._writer is None:
            return None
        self._writer.close()
        self._writer = None
        os.replace(self._tmp, self.path)
        return self.path


def conform_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A new table with exactly `schema`'s columns: those `table` lacks are null, the others are
    cast (dictionary text becomes plain text)."""
    columns = []
    for f in schema:
        if f.name in table.column_names:
            column = table[f.name]
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            columns.append(column.cast(f.type))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    return pa.table(columns, schema=schema)


#: Text a spreadsheet would run as a formula (or a DDE command) when it opens the CSV.
FORMULA_START = r"^[=+\-@\t\r]"


def neutralise_table(table: pa.Table) -> pa.Table:
    """A new table whose text cells cannot run in a spreadsheet: text starting with = + - @, a
    tab or a carriage return gets a leading apostrophe. Numbers are left as they are."""
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(pa.string())
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.fill_null(pc.match_substring_regex(column, FORMULA_START), False)
            if pc.any(risky).as_py():
                quoted = pc.binary_join_element_wise("'", column, "")
                column = pc.if_else(risky, quoted, column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def write_findings(settings: Settings, submission_id: str, findings: list[Finding]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FINDING_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for finding in findings:
        row = finding.to_dict()
        writer.writerow({k: _safe_cell(row.get(k)) for k in FINDING_COLUMNS})
    path = quarantine_path(settings, submission_id) / "findings.csv"
    return write_bytes_atomic(path, buffer.getvalue().encode("utf-8"))


def _safe_cell(value: object) -> object:
    """Cells opened in a spreadsheet: text starting with = + - @ is shown, not run."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def keep_file(settings: Settings, submission_id: str, archived: Path, name: str) -> Path:
    """A copy of a wholly rejected file beside its findings (a hard link when possible)."""
    directory = quarantine_path(settings, submission_id)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"file__{name}"
    if not target.exists():
        try:
            os.link(archived, target)
        except OSError:
            shutil.copyfile(archived, target)
    return target


def write_manifest(settings: Settings, submission_id: str, manifest: dict[str, Any]) -> Path:
    path = quarantine_path(settings, submission_id) / "manifest.json"
    return write_json_atomic(path, manifest)


def set_aside(settings: Settings, submission_id: str, attempt: int) -> Path | None:
    """Move an earlier attempt's quarantine into ``attempt-<n>/`` inside the folder, so a file
    processed again starts a clean folder and nothing of the earlier attempt is lost."""
    directory = quarantine_path(settings, submission_id)
    if not directory.is_dir():
        return None
    earlier = [p for p in directory.iterdir() if not p.name.startswith("attempt-")]
    if not earlier:
        return None
    target = directory / f"attempt-{attempt}"
    target.mkdir(exist_ok=True)
    for path in earlier:
        os.replace(path, target / path.name)
    return target


def quarantine_contents(settings: Settings, submission_id: str) -> list[Path]:
    directory = quarantine_path(settings, submission_id)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if not p.name.startswith("."))
