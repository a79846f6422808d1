"""Findings: one problem (or note) about one row, column or file, in plain English."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]

#: Stable rule names. A finding's ``rule`` is always one of these.
RULES: dict[str, str] = {
    # whole file
    "file_unreadable": "The file could not be read.",
    "file_empty": "The file holds no data rows.",
    "file_too_large": "The file is larger than the upload limit.",
    "file_unrecognised": "The file has no columns we recognise.",
    # shape and types
    "required_column": "A column every submission needs is missing.",
    "type_number": "A value is not a number.",
    "type_period": "A period is not a recognisable month, quarter or year.",
    "type_integer": "A count is not a whole number.",
    "required_value": "A provider code, period or metric is blank.",
    # catalogue
    "known_provider": "The provider code is not in the catalogue.",
    "known_metric": "The metric is not in the catalogue.",
    "metric_active": "The metric is no longer (or not yet) collected.",
    "metric_derived": "The metric is computed from others and is not submitted.",
    "metric_effective_period": "The period is before the metric's current definition applies.",
    "value_status": "The value status is not one of reported, suppressed or missing.",
    "value_range": "The value is outside the metric's valid range.",
    "cross_metric_rule": "Two metrics for the same provider and period contradict each other.",
    "future_period": "The period has not started yet.",
    # keys
    "duplicate_key": "The same value appears twice for one provider, period and metric.",
    "conflicting_key": "Two different values were given for one provider, period and metric.",
    # who may submit what
    "provider_scope": "A provider may submit only its own rows.",
    # history
    "outlier_history": "The value is far outside the provider's own history.",
    "suppressed_value": "The value is suppressed (small number).",
}


#: The rules raised while reading a file (`collectonce.ingest.readers`), for reports.
READ_RULES: dict[str, str] = {
    "file_unreadable": "The file could not be read.",
    "file_empty": "The file holds no data rows.",
    "file_too_large": "The file is larger than the upload limit.",
    "file_unrecognised": "The file has no columns we recognise.",
    "header_too_large": "The header row is longer than the limit for a header row.",
    "header_too_wide": "A workbook's header row has more columns than are read.",
    "binary_file": "The file is binary data, not a table.",
    "workbook_encrypted": "The workbook is password-protected or an old .xls file.",
    "workbook_macro_enabled": "The workbook contains macros.",
    "workbook_too_large_uncompressed": "The workbook expands too far when opened (zip bomb).",
    "required_column": "A column every submission needs is missing.",
    "required_value": "A provider code, period or metric is blank.",
    "type_number": "A value is not a (finite) number.",
    "type_period": "A period is not a recognisable month, quarter or year.",
    "period_grain": "A period is coarser than the metric's grain (a quarter for a monthly metric).",
    "metric_derived": "The metric is computed from others and is not stored.",
    "item_not_stored": "A request item that maps to several metrics or none is not stored.",
    "unknown_column": "A column that is not part of any template was ignored.",
    "duplicate_column": "A repeated column whose copies agree: one was kept.",
    "duplicate_column_conflict": "A repeated column's copies disagree on a row: it was rejected.",
    "row_shape": "A row has a different number of cells from the header.",
    "field_truncated": "An over-long cell was cut to the field limit.",
    "nul_removed": "A stray NUL character was removed from a cell.",
    "department_type": "An A&E department type is not 1, 2, 3, 4 or other.",
    "file_renamed": "The file's name says one format but it holds another.",
    "read_failed": "The file could not be read because of a fault on our side.",
}


@dataclass(frozen=True)
class Finding:
    """An error (blocks the row) or a warning (the row is accepted, flagged).

    ``row`` is the row number as a person sees it in the file: the header is row 1, the first data
    row is row 2 (for a workbook, the sheet's row number). ``None`` means the whole file or column.
    """

    file: str
    row: int | None
    column: str | None
    metric: str | None
    rule: str
    severity: Severity
    message: str
    value: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Finding:
        return cls(
            file=str(data.get("file") or ""),
            row=_opt_int(data.get("row")),
            column=_opt_str(data.get("column")),
            metric=_opt_str(data.get("metric")),
            rule=str(data.get("rule") or ""),
            severity="error" if data.get("severity") == "error" else "warning",
            message=str(data.get("message") or ""),
            value=_opt_str(data.get("value")),
        )

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def _opt_int(value: object) -> int | None:
    if value is None or value == "":
        return None
    return int(value)  # type: ignore[call-overload]


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def show_value(value: object, limit: int = 60) -> str:
    """A value as a person would want to see it quoted in a message (short, one line)."""
    if value is None:
        return "(blank)"
    if isinstance(value, float):
        if value != value:  # NaN
            return "(blank)"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:g}"
    text = str(value).replace("\r", " ").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_number(value: float | None, digits: int = 10) -> str:
    """A number for a message: integers without decimals, others to `digits` significant
    figures (10 by default, so a message never shows a rounded copy of what a person typed)."""
    if value is None or value != value:
        return "(blank)"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 10 ** (digits - 1):  # 16,009 rather than 1.601e+04
        return f"{value:,.0f}"
    return f"{value:,.{digits}g}"


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then by file and row (file-level findings first), then column and rule."""
    return sorted(
        findings,
        key=lambda f: (
            f.severity != "error",
            f.file,
            -1 if f.row is None else f.row,
            f.column or "",
            f.rule,
            f.metric or "",
        ),
    )


def summarise(findings: list[Finding]) -> dict[str, int]:
    """Counts of findings by rule, errors and warnings apart (``"error:value_range": 3``)."""
    counts: dict[str, int] = {}
    for f in findings:
        key = f"{f.severity}:{f.rule}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
