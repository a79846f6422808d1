"""Findings live on the ground floor (`collectonce.findings`); this name stays for old imports."""

from collectonce.findings import (
    RULES,
    Finding,
    Severity,
    fmt_number,
    show_value,
    sort_findings,
    summarise,
)

__all__ = [
    "RULES",
    "Finding",
    "Severity",
    "fmt_number",
    "show_value",
    "sort_findings",
    "summarise",
]
