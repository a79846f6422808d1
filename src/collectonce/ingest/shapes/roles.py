"""What each column of a header is for: the key columns' names and aliases, notes and
repeated headings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from collectonce.ingest.normalise.text import header_key

ROLE_ALIASES: dict[str, tuple[str, ...]] = {
    "provider_code": (
        "provider_code",
        "provider",
        "provider_ods_code",
        "provider_ods",
        "provider_org_code",
        "org_code",
        "org_ods_code",
        "organisation_code",
        "organization_code",
        "org",
        "organisation",
        "organization",
        "organisation_ods_code",
        "organization_ods_code",
        "ods_code",
        "ods",
        "trust_code",
        "trust_ods_code",
        "trust",
    ),
    "period": (
        "period",
        "month",
        "date",
        "period_start",
        "period_date",
        "period_month",
        "reporting_period",
        "reporting_month",
        "month_start",
        "month_commencing",
        "month_end",
        "month_ending",
        "period_start_date",
        "period_end",
        "period_end_date",
        "period_ending",
        "reporting_date",
        "activity_month",
        "quarter",
    ),
    "metric_id": (
        "metric_id",
        "metric",
        "metric_code",
        "item_code",
        "item",
        "their_code",
        "code",
        "indicator",
        "indicator_code",
        "measure",
        "measure_code",
        "measure_id",
        "indicator_id",
        "data_item",
        "data_item_code",
    ),
    "value": (
        "value",
        "val",
        "amount",
        "figure",
        "number",
        "result",
        "data_value",
        "metric_value",
        "reported_value",
        "numeric_value",
        "actual",
        "actual_value",
    ),
    "comment": ("comment", "comments", "note", "notes", "narrative"),
}


_ROLE_OF_KEY = {alias: role for role, aliases in ROLE_ALIASES.items() for alias in aliases}


#: Descriptive columns that templates carry and that are skipped without a warning.
DESCRIPTIVE = frozenset(
    {
        "name",
        "provider_name",
        "org_name",
        "organisation_name",
        "organization_name",
        "trust_name",
        "region",
        "peer_group",
        "metric_label",
        "label",
        "item_label",
        "their_label",
        "unit",
    }
)


def header_roles(header: Sequence[str]) -> tuple[dict[str, int], list[int], list[int]]:
    """Role → column index (first match), duplicate columns, other non-empty columns."""
    roles: dict[str, int] = {}
    seen: set[str] = set()
    duplicates: list[int] = []
    others: list[int] = []
    for i, name in enumerate(header):
        key = header_key(name)
        if not key:
            continue
        if key in seen:
            duplicates.append(i)
            continue
        seen.add(key)
        role = _ROLE_OF_KEY.get(key) or _ROLE_OF_KEY.get(without_note(key))
        if role and role not in roles:
            roles[role] = i
        else:
            others.append(i)
    return roles, duplicates, others


def first_of(header: Sequence[str], i: int) -> int:
    """The position of the first column with the same heading as column `i`."""
    key = header_key(header[i])
    return next(j for j in range(i + 1) if header_key(header[j]) == key)


def repeated_columns(header: Sequence[str]) -> list[tuple[int, int]]:
    """(first, repeat) positions of every column whose heading repeats an earlier one."""
    first: dict[str, int] = {}
    out = []
    for i, name in enumerate(header):
        key = header_key(name)
        if not key:
            continue
        if key in first:
            out.append((first[key], i))
        else:
            first[key] = i
    return out


def without_note(key: str) -> str:
    """A header key without a trailing note: ``period_(yyyy_mm)`` → ``period``,
    ``provider_code*`` → ``provider_code``, ``value:`` → ``value``."""
    key = re.sub(r"_?[(\[][^()\[\]]*[)\]]$", "", key)
    return key.rstrip("_:*.")
