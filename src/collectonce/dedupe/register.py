"""Read an outside request register (CSV or XLSX) into items, with one-line errors.

Columns `requester, request, item_code, label` are required; `definition, unit, frequency` are
optional; any other column is ignored with a warning. Headers may be in any case and spacing
("Item code", "ITEM_CODE", " item-code "). Rows are numbered as a spreadsheet shows them: the
header is row 1.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from collectonce.dedupe.items import DedupeItem
from collectonce.errors import DedupeError
from collectonce.sniff import first_line, sniff_delimiter

REQUIRED = ("requester", "request", "item_code", "label")
OPTIONAL = ("definition", "unit", "frequency")
_ALIASES = {
    "their_code": "item_code",
    "code": "item_code",
    "item": "item_code",
    "their_label": "label",
    "item_label": "label",
    "description": "definition",
    "body": "requester",
    "requesting_body": "requester",
    "collection": "request",
    "return": "request",
}
_FREQUENCIES = {
    "month": "month",
    "monthly": "month",
    "m": "month",
    "quarter": "quarter",
    "quarterly": "quarter",
    "q": "quarter",
    "year": "year",
    "yearly": "year",
    "annual": "year",
    "annually": "year",
    "y": "year",
    "week": "week",
    "weekly": "week",
    "day": "day",
    "daily": "day",
}
_UNITS = {
    "%": "percent",
    "percent": "percent",
    "percentage": "percent",
    "pct": "percent",
    "number": "count",
    "count": "count",
    "no": "count",
    "no.": "count",
    "n": "count",
    "rate": "rate",
    "£": "gbp",
    "gbp": "gbp",
    "£000": "gbp_thousands",
    "£000s": "gbp_thousands",
    "£k": "gbp_thousands",
    "gbp_thousands": "gbp_thousands",
    "fte": "fte",
    "wte": "fte",
    "minutes": "minutes",
    "mins": "minutes",
    "hours": "hours",
    "days": "days",
    "weeks": "weeks",
    "score": "score",
}


class RegisterError(DedupeError, ValueError):
    """A register that cannot be read; the message names the file, row and column."""


@dataclass
class Register:
    path: Path
    items: list[DedupeItem]
    warnings: list[str] = field(default_factory=list)


def _header_key(text: object) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", str(text or "").strip().lower()).strip("_")
    return _ALIASES.get(key, key)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    if data[:4] == b"PK\x03\x04":
        return _xlsx_rows(path, data)
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        raise RegisterError(
            f"{path}: is named .xlsx but is not an Excel workbook; save it again as .xlsx or .csv"
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything
        raise RegisterError(f"{path}: cannot be decoded; save it as UTF-8 CSV")
    if "\x00" in text:
        raise RegisterError(f"{path}: is not a text CSV file; save it as CSV (UTF-8) or XLSX")
    delimiter = sniff_delimiter(first_line(text[:4096]))
    return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _xlsx_rows(path: Path, data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise RegisterError(
            f"{path}: cannot be opened as a workbook ({exc}); save it again as .xlsx"
        ) from None
    try:
        for sheet in book.worksheets:
            rows = [[_cell(c) for c in row] for row in sheet.iter_rows(values_only=True)]
            if any(any(c for c in row) for row in rows):
                return rows
        return []
    finally:
        book.close()


def _find_header(rows: list[list[str]]) -> int:
    """The first row naming at least two required columns (title rows above it are skipped)."""
    for index, row in enumerate(rows[:20]):
        keys = {_header_key(c) for c in row}
        if len(keys & set(REQUIRED)) >= 2:
            return index
    return 0


def read_register(path: Path | str) -> Register:
    """Read a register; raise RegisterError with one line naming the row and column."""
    path = Path(path)
    if not path.exists():
        raise RegisterError(
            f"{path}: no such file; pass --register with the path of a CSV or XLSX register"
        )
    rows = _read_rows(path)
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        raise RegisterError(
            f"{path}: is empty; the first row must name the columns {', '.join(REQUIRED)}"
        )
    head = _find_header(rows)
    header = [_header_key(c) for c in rows[head]]
    warnings: list[str] = []
    columns: dict[str, int] = {}
    for index, key in enumerate(header):
        if not key:
            continue
        if key in columns:
            raise RegisterError(
                f"{path}: row {head + 1}, column {rows[head][index]!r}: the column {key} "
                "appears twice; keep one"
            )
        if key in REQUIRED or key in OPTIONAL:
            columns[key] = index
        else:
            warnings.append(f"{path}: column {rows[head][index]!r} is not used and was ignored")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise RegisterError(
            f"{path}: row {head + 1}: missing column {', '.join(missing)}; the header needs "
            f"{', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)})"
        )
    items: list[DedupeItem] = []
    seen: dict[tuple[str, str], int] = {}
    for offset, row in enumerate(rows[head + 1 :], start=head + 2):
        if not any(row):
            continue
        values = {k: (row[i] if i < len(row) else "") for k, i in columns.items()}
        for column in REQUIRED:
            if not values[column]:
                raise RegisterError(
                    f"{path}: row {offset}, column {column}: is blank; every item needs "
                    f"{', '.join(REQUIRED)}"
                )
        frequency = values.get("frequency", "")
        if frequency:
            normal = _FREQUENCIES.get(frequency.strip().lower())
            if normal is None:
                raise RegisterError(
                    f"{path}: row {offset}, column frequency: {frequency!r} is not a frequency; "
                    "write month, quarter or year (or leave it blank)"
                )
            frequency = normal
        unit = values.get("unit", "")
        unit = _UNITS.get(unit.strip().lower(), unit.strip().lower())
        key = (values["request"], values["item_code"])
        if key in seen:
            raise RegisterError(
                f"{path}: row {offset}, column item_code: {key[1]!r} is already used by request "
                f"{key[0]!r} on row {seen[key]}; give each item of a request its own code"
            )
        seen[key] = offset
        items.append(
            DedupeItem(
                requester=values["requester"],
                request=values["request"],
                item_code=values["item_code"],
                label=values["label"],
                definition=values.get("definition", ""),
                unit=unit,
                frequency=frequency,
                origin="register",
                row=offset,
            )
        )
    if not items:
        raise RegisterError(f"{path}: row {head + 2}: the register has a header but no items")
    return Register(path=path, items=items, warnings=warnings)
