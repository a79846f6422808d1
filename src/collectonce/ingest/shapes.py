"""Recognise the shape of a submission and turn its cells into canonical long rows.

These shapes are recognised from the header (matched case-insensitively, trimmed, in any order,
with spaces, ``_`` and ``-`` treated alike, and a trailing note such as ``(YYYY-MM)`` or ``*``
ignored):

- **canonical long**: ``provider_code, period, metric_id, value[, comment]``;
- **canonical wide**: ``provider_code, period`` and one column per catalogue metric code;
- **a registered request's own template**, wide (``Org Code, Period, A1, A2, A3``: one column
  per item code or item label) or long (``org, period, item_code, value``);
- **NHS England's published A&E layout**, one row per department type (``period, org_code,
  type, attendances, breaches, admissions``; see `collectonce.ingest.department_types`);
- **NHS England's published monthly A&E file**, one row per organisation (``Period, Org Code,
  A&E attendances Type 1, ..., Other emergency admissions``; see
  `collectonce.ingest.published_ae`).

Common aliases are accepted for the key columns (``org_code``, ``ods_code`` or ``provider`` for
``provider_code``; ``metric`` or ``metric_code`` for ``metric_id``; ``month`` or ``date`` for
``period``), and a metric may be named by its catalogue label as well as its code. A request's
items are mapped through the catalogue:

- an item mapped to one collected metric becomes a canonical row of that metric (its value
  divided by the item's ``scale`` when it has one);
- an item mapped to a derived metric, to several metrics, or to none cannot be stored as a
  collected fact: a warning says so and the cells are left out (not an error);
- the period must be written at the metric's grain or finer: a quarter given for a monthly
  metric is an error asking for the monthly values.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collectonce.catalog import Catalog
from collectonce.catalog.layouts import by_type_layout, published_layout
from collectonce.catalog.models import Item, Metric
from collectonce.contracts import CANONICAL_ROWS
from collectonce.ingest.department_types import (
    AE_BY_TYPE,
    CLASS_OF_TYPE,
    CLASSES,
    TypeColumns,
    by_type_metrics,
    find_type_columns,
)
from collectonce.ingest.formats import FileRejected, RawBatch, make_finding, row_texts
from collectonce.ingest.normalise import (
    CALENDAR_YEAR,
    GRAIN_CODE,
    MAX_ABS_VALUE,
    PERIOD_BLANK,
    PERIOD_OK,
    PERIOD_TOO_COARSE,
    PERIOD_UNREADABLE,
    PERIOD_YEAR_KIND,
    STATUS_MISSING,
    STATUS_REPORTED,
    STATUS_SUPPRESSED,
    VALUE_NOT_FINITE,
    VALUE_NOT_NUMBER,
    VALUE_OK,
    VALUE_TOO_LARGE,
    header_key,
    normalise_metric_ids_arrow,
    normalise_periods_arrow,
    normalise_provider_codes_arrow,
    parse_values_arrow,
    repeat_text,
    status_array,
    trim_text,
)
from collectonce.ingest.published_ae import (
    AE_PUBLISHED,
    PublishedColumns,
    find_published_columns,
    published_metrics,
)
from collectonce.validate.findings import Finding

_EPOCH = dt.date(1970, 1, 1)
#: Provider × day keys: days are offset to be positive and spread over this span.
_DAY_OFFSET = 1 << 21
_DAY_SPAN = 1 << 22
CANONICAL_LONG = "canonical_long"
CANONICAL_WIDE = "canonical_wide"

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

Kind = Literal["metric", "item", "derived", "multi", "unmapped", "unknown"]


@dataclass(frozen=True)
class Target:
    """What a metric cell (a long row's code, or a wide column) stands for."""

    kind: Kind
    metric: str | None = None
    grain: int = -1
    unit: str | None = None
    scale: float = 1.0
    request: str | None = None
    item: Item | None = None
    label: str = ""

    @property
    def stored(self) -> bool:
        return self.kind in ("metric", "item", "unknown")


class Resolver:
    """Looks up metric codes and request item codes (or labels) in the catalogue."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.metrics: dict[str, Metric] = {header_key(c): m for c, m in catalog.metrics.items()}
        for metric in catalog.metrics.values():  # a metric's label names it too
            self.metrics.setdefault(header_key(metric.label), metric)
        self.items: dict[str, dict[str, Item]] = {}
        for code, request in sorted(catalog.requests.items()):
            lookup: dict[str, Item] = {}
            for item in request.items:
                lookup.setdefault(header_key(item.their_label), item)
            for item in request.items:
                lookup[header_key(item.their_code)] = item
            self.items[code] = lookup
        self._by_type: dict[tuple[str, str], Target] | None = None
        self._published: dict[str, Target] | None = None
        self._calendar_years = _calendar_year_metrics(catalog)

    def grain_code(self, metric: Metric) -> int:
        """The metric's grain code: a year is a financial year unless every request asking for
        the metric counts calendar years (``year_start: january``)."""
        if metric.grain.period == "year" and metric.code in self._calendar_years:
            return CALENDAR_YEAR
        return GRAIN_CODE[metric.grain.period]

    def metric_target(self, key: str) -> Target | None:
        metric = self.metrics.get(key)
        if metric is None:
            return None
        if metric.is_derived:
            return Target("derived", metric.code, label=metric.code)
        return Target(
            "metric",
            metric.code,
            self.grain_code(metric),
            metric.unit,
            label=metric.code,
        )

    def item_target(self, key: str, request_code: str) -> Target | None:
        item = self.items.get(request_code, {}).get(key)
        if item is None:
            return None
        request = self.catalog.requests[request_code]
        label = f"item {item.their_code} ({item.their_label}) of {request.code}"
        codes = item.metric_codes
        if not codes:
            return Target("unmapped", request=request.code, item=item, label=label)
        if len(codes) > 1:
            return Target("multi", request=request.code, item=item, label=label)
        metric = self.catalog.metrics.get(codes[0])
        if metric is None:
            return Target("unmapped", request=request.code, item=item, label=label)
        if metric.is_derived:
            return Target("derived", metric.code, request=request.code, item=item, label=label)
        scale = item.transform.scale if item.transform else 1.0
        return Target(
            "item",
            metric.code,
            self.grain_code(metric),
            metric.unit,
            scale or 1.0,
            request.code,
            item,
            label,
        )

    def by_type_targets(self) -> dict[tuple[str, str], Target]:
        """(department class, measure) → the collected metric it is stored as (A&E layout)."""
        if self._by_type is None:
            found: dict[tuple[str, str], Target] = {}
            for key, code in by_type_metrics(self.catalog).items():
                target = self.metric_target(header_key(code))
                if target is not None and target.kind == "metric":
                    found[key] = target
            self._by_type = found
        return self._by_type

    def published_targets(self) -> dict[str, Target]:
        """Metric → its target, for the metrics of the published monthly A&E file that the
        catalogue collects."""
        if self._published is None:
            found: dict[str, Target] = {}
            for code in published_metrics(self.catalog):
                target = self.metric_target(header_key(code))
                if target is not None and target.kind == "metric":
                    found[code] = target
            self._published = found
        return self._published

    def resolve(self, key: str, template: str) -> Target:
        """A key under a template: the request's items first, then catalogue metric codes."""
        if template in self.items:
            found = self.item_target(key, template)
            if found is not None:
                return found
        return self.metric_target(key) or Target("unknown", label=key)

    def best_template(self, keys: Sequence[str]) -> tuple[str, int]:
        """The template whose codes match most of `keys`: canonical wins ties."""
        distinct = {k for k in keys if k}
        best, best_count = "", sum(1 for k in distinct if k in self.metrics)
        for code, lookup in self.items.items():
            count = sum(1 for k in distinct if k in lookup)
            if count > best_count:
                best, best_count = code, count
        return best, best_count


@dataclass
class Layout:
    """Where each role sits in the header, and what each wide column stands for."""

    template: str
    kind: Literal["long", "wide", "by_type", "published"]
    provider: int
    period: int
    metric: int | None = None
    value: int | None = None
    comment: int | None = None
    wide: list[tuple[int, Target]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    decided: bool = True  # long files: the template is decided from the first codes read
    #: The A&E layout by department type: where the type and each measure sit.
    by_type: TypeColumns | None = None
    #: NHS England's published monthly A&E file: where each of its columns sits, and the
    #: columns (header positions) added up for each metric stored.
    published: PublishedColumns | None = None
    sums: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)

    @property
    def required_cells(self) -> int:
        """Cells a row must have: up to the last column that carries a value."""
        cols = [self.provider, self.period, *(i for i, _t in self.wide)]
        cols += [c for c in (self.metric, self.value) if c is not None]
        if self.by_type is not None:
            cols += [self.by_type.type_column, *(i for i, _m in self.by_type.measures)]
        for _metric, parts in self.sums:
            cols += parts
        return max(cols) + 1

    @property
    def key_columns(self) -> set[int]:
        cols = {self.provider, self.period}
        if self.metric is not None:
            cols.add(self.metric)
        return cols


def _roles(header: Sequence[str]) -> tuple[dict[str, int], list[int], list[int]]:
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


def _first_of(header: Sequence[str], i: int) -> int:
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


def looks_like_header(header: Sequence[str], resolver: Resolver) -> bool:
    """Whether a row reads as a submission header (used to skip a workbook's title rows)."""
    roles, _dups, others = _roles(header)
    if "provider_code" not in roles or "period" not in roles:
        return False
    if "metric_id" in roles and "value" in roles:
        return True
    if _published_columns(header, roles, resolver) is not None:
        return True
    if _by_type_columns(header, roles, resolver) is not None:
        return True
    return resolver.best_template([header_key(header[i]) for i in others])[1] > 0


def _by_type_columns(
    header: Sequence[str], roles: dict[str, int], resolver: Resolver
) -> TypeColumns | None:
    """The A&E layout by department type, when the header has it and the catalogue its metrics."""
    if "metric_id" in roles and "value" in roles:
        return None
    found = find_type_columns(header, set(roles.values()), by_type_layout(resolver.catalog.layouts))
    if found is None or not resolver.by_type_targets():
        return None
    return found


def _published_columns(
    header: Sequence[str], roles: dict[str, int], resolver: Resolver
) -> PublishedColumns | None:
    """NHS England's published monthly A&E file, when the header has its columns and the
    catalogue its metrics."""
    if "metric_id" in roles and "value" in roles:
        return None
    found = find_published_columns(
        header, set(roles.values()), published_layout(resolver.catalog.layouts)
    )
    if found is None or not resolver.published_targets():
        return None
    return found


def detect_layout(header: Sequence[str], resolver: Resolver, file: str) -> Layout:
    """Work out the shape from the header; raise FileRejected when nothing is recognisable."""
    roles, duplicates, others = _roles(header)
    findings: list[Finding] = []
    for i in duplicates:
        findings.append(
            make_finding(
                file,
                "duplicate_column",
                f"The column {header[i]!r} appears more than once (columns "
                f"{_first_of(header, i) + 1} and {i + 1}); one was kept, as the copies agree "
                "(a row where they differ is rejected). Remove or rename the repeated column.",
                severity="warning",
                column=header[i],
            )
        )
    long = "metric_id" in roles and "value" in roles
    wide: list[tuple[int, Target]] = []
    template = CANONICAL_LONG
    published = _published_columns(header, roles, resolver)
    if published is not None:
        _require_keys(roles)
        return _published_layout(header, roles, published, resolver, file, findings)
    by_type = _by_type_columns(header, roles, resolver)
    if by_type is not None:
        _require_keys(roles)
        return _by_type_layout(header, roles, by_type, resolver, file, findings)
    if not long:
        template, count = resolver.best_template([header_key(header[i]) for i in others])
        template = template or CANONICAL_WIDE
        if count == 0:
            raise FileRejected("file_unrecognised", _unrecognised_message(header, roles, others))
        for i in others:
            wide.append((i, resolver.resolve(header_key(header[i]), template)))
    _require_keys(roles)
    ignored = set()
    for i, target in wide:
        if target.kind == "unknown" and header_key(header[i]) not in DESCRIPTIVE:
            findings.append(
                make_finding(
                    file,
                    "unknown_column",
                    f"The column {header[i]!r} is not a catalogue metric code"
                    + ("" if template == CANONICAL_WIDE else f" or an item of {template}")
                    + "; it was ignored. Check its spelling against the template.",
                    severity="warning",
                    column=header[i],
                )
            )
        elif target.kind in ("derived", "multi", "unmapped"):
            findings.append(_not_stored_finding(file, target, resolver, column=header[i]))
        if not target.stored or target.kind == "unknown":
            ignored.add(i)
    if long:
        for i in others:
            if header_key(header[i]) not in DESCRIPTIVE:
                findings.append(
                    make_finding(
                        file,
                        "unknown_column",
                        f"The column {header[i]!r} is not part of the template; it was "
                        "ignored. The template's columns are provider_code, period, "
                        "metric_id, value and comment.",
                        severity="warning",
                        column=header[i],
                    )
                )
    return Layout(
        template=template,
        kind="long" if long else "wide",
        provider=roles["provider_code"],
        period=roles["period"],
        metric=roles.get("metric_id") if long else None,
        value=roles.get("value") if long else None,
        comment=roles.get("comment"),
        wide=[(i, t) for i, t in wide if i not in ignored],
        findings=findings,
        decided=not long,
    )


def _require_keys(roles: dict[str, int]) -> None:
    for role, what in (("provider_code", "provider code"), ("period", "period")):
        if role not in roles:
            aliases = ", ".join(ROLE_ALIASES[role][:4])
            raise FileRejected(
                "required_column",
                f"The file has no {what} column (looked for {aliases}). Add a column headed "
                f"{role} to the header row and send the file again.",
            )


def _by_type_layout(
    header: Sequence[str],
    roles: dict[str, int],
    columns: TypeColumns,
    resolver: Resolver,
    file: str,
    findings: list[Finding],
) -> Layout:
    used = {roles["provider_code"], roles["period"], columns.type_column}
    used |= {i for i, _m in columns.measures}
    if "comment" in roles:
        used.add(roles["comment"])
    for i, name in enumerate(header):
        key = header_key(name)
        if i in used or not key or key in DESCRIPTIVE:
            continue
        findings.append(
            make_finding(
                file,
                "unknown_column",
                f"The column {name!r} is not part of the A&E layout by department type; it was "
                "ignored. That layout's columns are period, org_code, type, attendances, "
                "breaches and admissions.",
                severity="warning",
                column=name,
            )
        )
    targets = resolver.by_type_targets()
    findings.extend(columns.unmapped_findings(header, file))
    for (kind, measure), metric in sorted(columns.metrics.items()):
        if (kind, measure) in targets or measure not in {m for _i, m in columns.measures}:
            continue
        findings.append(
            make_finding(
                file,
                "item_not_stored",
                f"{measure.capitalize()} of department type {kind} map to {metric}, which this "
                "catalogue does not collect; those figures were ignored. Nothing to fix.",
                severity="warning",
                column=header[next(i for i, m in columns.measures if m == measure)],
                metric=metric,
            )
        )
    return Layout(
        template=AE_BY_TYPE,
        kind="by_type",
        provider=roles["provider_code"],
        period=roles["period"],
        comment=roles.get("comment"),
        findings=findings,
        by_type=columns,
    )


def _published_layout(
    header: Sequence[str],
    roles: dict[str, int],
    columns: PublishedColumns,
    resolver: Resolver,
    file: str,
    findings: list[Finding],
) -> Layout:
    """The published monthly A&E file: which columns make up each metric stored, with a
    warning for every column that is not used and why."""
    used = {roles["provider_code"], roles["period"], *columns.indices}
    if "comment" in roles:
        used.add(roles["comment"])
    for i, name in enumerate(header):
        key = header_key(name)
        if i in used or not key or key in DESCRIPTIVE:
            continue
        findings.append(
            make_finding(
                file,
                "unknown_column",
                f"The column {name!r} is not part of NHS England's published monthly A&E file; "
                "it was ignored. Check its heading against the published file.",
                severity="warning",
                column=name,
            )
        )
    for i in columns.repeated:
        findings.append(
            make_finding(
                file,
                "duplicate_column",
                f"The column {header[i]!r} gives figures another column already gives; only "
                "the first one was read. Remove the repeated column.",
                severity="warning",
                column=header[i],
            )
        )
    targets = resolver.published_targets()
    findings.extend(columns.unmapped_findings(header, file))
    sums: list[tuple[str, tuple[int, ...]]] = []
    used: set[str] = set()
    for metric in columns.metrics:
        parts = columns.chosen(metric)
        if metric in targets and parts is not None:
            sums.append((metric, tuple(columns.parts[p] for p in parts)))
            used |= set(parts)
    for metric, ways in columns.metrics.items():
        present = {p for way in ways for p in (*way.required, *way.optional)} & set(columns.parts)
        parts = columns.chosen(metric)
        if metric in targets and parts is not None:
            present -= used  # another way of giving the metric, which the file also has
        if not present:
            continue
        at = sorted(columns.parts[p] for p in present)
        shown = ", ".join(repr(header[i]) for i in at)
        if metric not in targets:
            verb = "maps" if len(at) == 1 else "map"
            message = (
                f"{shown} {verb} to {metric}, which this catalogue does not collect; those "
                "figures were ignored. Nothing to fix."
            )
        elif parts is None:
            lacking = " and ".join(repr(columns.heading(p)) for p in columns.missing(metric))
            message = (
                f"{metric} adds up several columns of the published file, and the file has no "
                f"{lacking} column, so {metric} was not stored from {shown}. Send the file with "
                "every column of the published layout."
            )
        else:
            chosen = ", ".join(repr(header[columns.parts[p]]) for p in parts)
            message = (
                f"{shown} was not used: {metric} was taken from {chosen}, which the file also "
                "gives. Nothing to fix."
            )
        findings.append(
            make_finding(
                file,
                "item_not_stored",
                message,
                severity="warning",
                column=header[at[0]],
                metric=metric,
            )
        )
    return Layout(
        template=AE_PUBLISHED,
        kind="published",
        provider=roles["provider_code"],
        period=roles["period"],
        comment=roles.get("comment"),
        findings=findings,
        published=columns,
        sums=sums,
    )


def _unrecognised_message(
    header: Sequence[str], roles: dict[str, int], others: Sequence[int]
) -> str:
    how = (
        "Use the canonical template (provider_code, period, metric_id, value, comment), one "
        "column per catalogue metric code next to provider_code and period, or the template of "
        "a request you receive."
    )
    rest = ", ".join(repr(header[i]) for i in list(others)[:8]) or "none"
    if "provider_code" in roles and "period" in roles:
        if "value" in roles:
            return f"There is a value column but no metric_id column to say what it is. {how}"
        return (
            "The provider and period columns were found, but none of the other columns "
            f"({rest}) is a catalogue metric code or an item code of a request. {how}"
        )
    shown = ", ".join(repr(h) for h in list(header)[:8] if h) or "none"
    return f"None of the columns is recognised (found {shown}). {how}"


def _not_stored_finding(
    file: str,
    target: Target,
    resolver: Resolver,
    *,
    row: int | None = None,
    column: str | None = None,
) -> Finding:
    catalog = resolver.catalog
    what = target.label
    if target.item is not None:
        what = what[:1].upper() + what[1:]
    if target.kind == "derived" and target.metric:
        metric = catalog.metrics[target.metric]
        inputs = " and ".join(catalog.collected_inputs(metric.code))
        message = (
            f"{what} is computed by collectonce from {inputs}; it is not stored. Send those "
            "figures instead; you can leave this one out."
        )
        rule = "metric_derived"
    elif target.kind == "multi" and target.item is not None:
        parts = " and ".join(target.item.metric_codes)
        message = (
            f"{what} combines {parts} in one figure, which cannot be split into the separate "
            f"facts; it is not stored. Send {parts} separately (the canonical template has a "
            "row for each)."
        )
        rule = "item_not_stored"
    else:
        reason = target.item.unmapped_reason if target.item else None
        message = (
            f"{what} is not collected through the catalogue"
            + (f" ({reason})" if reason else "")
            + "; it was ignored. Nothing to fix."
        )
        rule = "item_not_stored"
    return make_finding(
        file,
        rule,
        message,
        severity="warning",
        row=row,
        column=column,
        metric=target.metric,
    )


# --------------------------------------------------------------------------------------------
# Conversion to canonical rows
# --------------------------------------------------------------------------------------------


class FindingBudget:
    """Lists at most `limit` findings per rule and severity in a file; counts the rest.

    Converters ask `allow` before building findings, so a file with a million bad rows costs
    a count, not a million messages.
    """

    def __init__(self, file: str, limit: int = 1000) -> None:
        self.file = file
        self.limit = limit
        self.counts: Counter[tuple[str, str]] = Counter()
        #: Rules whose unlisted findings are about columns or the file, not rows.
        self.unlisted_columns: set[tuple[str, str]] = set()

    def allow(self, rule: str, severity: str, wanted: int) -> int:
        """Record `wanted` findings of a rule; return how many of them may be listed."""
        key = (rule, severity)
        room = max(0, self.limit - self.counts[key])
        self.counts[key] += wanted
        return min(room, wanted)

    def take(self, findings: list[Finding]) -> list[Finding]:
        """Keep the findings that fit (file-level ones count too: a header of 100,000 unknown
        columns lists 1,000 of them and counts the rest)."""
        out: list[Finding] = []
        for f in findings:
            if self.allow(f.rule, f.severity, 1):
                out.append(f)
            elif f.row is None:
                self.unlisted_columns.add((f.rule, f.severity))
        return out

    def summary(self) -> list[Finding]:
        """One finding per rule that overflowed, counting the rows not listed."""
        out: list[Finding] = []
        for (rule, severity), count in sorted(self.counts.items()):
            if count > self.limit:
                what = "columns" if (rule, severity) in self.unlisted_columns else "rows"
                out.append(
                    make_finding(
                        self.file,
                        rule,
                        f"{count - self.limit:,} more {what} have this problem ({rule}); only "
                        f"the first {self.limit:,} are listed. Fix them all the same way.",
                        severity=severity,
                    )
                )
        return out


@dataclass
class Converted:
    table: pa.Table
    findings: list[Finding]
    error_rows: np.ndarray
    #: Each row of `error_rows` as it was sent (its cells joined by the file's delimiter).
    sent: pa.Array | None = None
    #: Rows read but deliberately not stored (a published file's total row), each with a
    #: warning: neither accepted nor rejected.
    rows_skipped: int = 0


def _comparable(arr: pa.Array) -> pa.Array:
    """Cells as trimmed text, blank as null, for comparing two columns."""
    text = arr.cast(pa.string()) if not pa.types.is_string(arr.type) else arr
    if pa.types.is_dictionary(text.type):
        text = text.cast(pa.string())
    text = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _same_number(a: pa.Scalar, b: pa.Scalar) -> bool:
    """Two cells that read as the same number (``1,234`` and ``1234.0``)."""
    try:
        left = float(str(a.as_py()).replace(",", ""))
        right = float(str(b.as_py()).replace(",", ""))
    except (TypeError, ValueError):
        return False
    return left == right


def _reject_rows(
    converted: Converted, rows: np.ndarray, sent: pa.Array | None, findings: list[Finding]
) -> Converted:
    """`converted` without the values of `rows`, which become rejected rows (with `sent`)."""
    drop = pc.is_in(converted.table["source_row"], value_set=pa.array(rows, pa.int64()))
    table = converted.table.filter(pc.invert(drop))
    known = np.asarray(converted.error_rows, dtype=np.int64)
    new = ~np.isin(rows, known)
    old_sent = converted.sent
    if old_sent is None:
        old_sent = pa.nulls(len(known), pa.string())
    add_sent = pa.nulls(int(new.sum()), pa.string())
    if sent is not None:
        add_sent = sent.filter(pa.array(new))
    return Converted(
        table,
        converted.findings + findings,
        np.concatenate([known, rows[new]]),
        pa.concat_arrays([old_sent.cast(pa.string()), add_sent.cast(pa.string())]),
    )


def _np(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False))


def _is_null(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _dictionary(arr: pa.Array) -> pa.DictionaryArray:
    if pa.types.is_dictionary(arr.type):
        return arr
    return pc.dictionary_encode(arr)


def _text_at(arr: pa.Array, i: int) -> str | None:
    value = arr[i].as_py()
    return None if value is None else str(value)


class Converter:
    """Turns raw batches into canonical rows for one file and layout."""

    def __init__(
        self,
        layout: Layout,
        resolver: Resolver,
        header: Sequence[str],
        file: str,
        budget: FindingBudget | None = None,
        delimiter: str = ",",
    ) -> None:
        self.layout = layout
        self.resolver = resolver
        self.header = list(header)
        self.file = file
        self.budget = budget or FindingBudget(file)
        self.delimiter = delimiter
        self._held: list[RawBatch] = []
        self._repeats = repeated_columns(self.header)
        #: Rows of held batches whose repeated columns disagree (converted in `finish`).
        self._held_conflicts: list[tuple[np.ndarray, pa.Array | None, list[Finding]]] = []

    def _listed(self, rule: str, severity: str, where: np.ndarray) -> np.ndarray:
        """The positions (of `where`) to list findings for, within the budget."""
        return where[: self.budget.allow(rule, severity, len(where))]

    # The template of a long file is decided from the codes in its first batch.
    def decide(self, batch: RawBatch) -> None:
        if self.layout.decided or self.layout.metric is None or batch.num_rows == 0:
            return
        keys = _dictionary(batch.cells[self.layout.metric]).dictionary.to_pylist()
        template, _count = self.resolver.best_template([header_key(k) for k in keys if k])
        self.layout.template = template or CANONICAL_LONG
        self.layout.decided = True

    def convert(self, batch: RawBatch) -> Converted:
        self.decide(batch)
        conflicts = self._conflicts(batch)
        if self.layout.kind == "by_type":
            # Sums span rows (admissions of every department type), so the rows are converted
            # together by `finish`; such files are small (one row per provider, month and type).
            self._held.append(batch)
            if conflicts is not None:
                self._held_conflicts.append(conflicts)
            return Converted(CANONICAL_ROWS.empty_table(), [], np.zeros(0, dtype=np.int64))
        if self.layout.kind == "long":
            converted = self._convert_long(batch)
        elif self.layout.kind == "published":
            converted = self._convert_published(batch)
        else:
            converted = self._convert_wide(batch)
        return converted if conflicts is None else _reject_rows(converted, *conflicts)

    def finish(self) -> Converted | None:
        """Rows held back until the whole file was read (the A&E layout by department type)."""
        if self.layout.kind != "by_type" or not self._held:
            return None
        held, self._held = self._held, []
        converted = self._convert_by_type(held)
        for conflicts in self._held_conflicts:
            converted = _reject_rows(converted, *conflicts)
        self._held_conflicts = []
        return converted

    def _conflicts(
        self, batch: RawBatch
    ) -> tuple[np.ndarray, pa.Array | None, list[Finding]] | None:
        """Rows where a repeated column disagrees with the first column of the same heading:
        their row numbers, their text as sent and one error finding each."""
        if not self._repeats or batch.num_rows == 0:
            return None
        bad = np.zeros(batch.num_rows, dtype=bool)
        findings: list[Finding] = []
        for first, repeat in self._repeats:
            if max(first, repeat) >= len(batch.cells):
                continue
            a, b = _comparable(batch.cells[first]), _comparable(batch.cells[repeat])
            same = pc.fill_null(pc.equal(a, b), False)
            same = pc.or_(same, pc.and_(pc.is_null(a), pc.is_null(b)))
            differ = ~np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)
            where = np.flatnonzero(differ)
            where = np.array([i for i in where if not _same_number(a[i], b[i])], dtype=np.int64)
            if not len(where):
                continue
            bad[where] = True
            name = self.header[repeat]
            for i in self._listed("duplicate_column_conflict", "error", where):
                left, right = _text_at(a, int(i)), _text_at(b, int(i))
                findings.append(
                    make_finding(
                        self.file,
                        "duplicate_column_conflict",
                        f"The column {name!r} appears twice and the copies disagree on this row "
                        f"({left or 'blank'} in column {first + 1}, {right or 'blank'} in "
                        f"column {repeat + 1}), so the row was not stored. Keep one column "
                        "with the right figure and send the file again.",
                        row=int(batch.source_row[i]),
                        column=name,
                        value=f"{left or ''} / {right or ''}",
                    )
                )
        rows = np.flatnonzero(bad)
        if not len(rows):
            return None
        sent = row_texts(batch.cells, rows, self.delimiter)
        return batch.source_row[rows], sent, findings

    # -- shared pieces ------------------------------------------------------------------------

    def _converted(
        self,
        table: pa.Table,
        findings: list[Finding],
        batch: RawBatch,
        row_error: np.ndarray,
        skipped: np.ndarray | None = None,
    ) -> Converted:
        """The result of converting `batch`: its rejected rows with the text they were sent as,
        and how many of the other rows were `skipped` (read, not stored, not in error)."""
        where = np.flatnonzero(row_error)
        sent = row_texts(batch.cells, where, self.delimiter) if len(where) else None
        n_skipped = int((skipped & ~row_error).sum()) if skipped is not None else 0
        return Converted(table, findings, batch.source_row[where], sent, n_skipped)

    def _keys(
        self, batch: RawBatch, findings: list[Finding], skip: np.ndarray | None = None
    ) -> tuple[pa.Array, pa.Array, np.ndarray]:
        """Provider codes and raw period texts, and a mask of rows missing either (rows in
        `skip` are not checked)."""
        layout = self.layout
        provider = normalise_provider_codes_arrow(batch.cells[layout.provider])
        period_raw = batch.cells[layout.period]
        blank_provider = _is_null(provider)
        if skip is not None:
            blank_provider &= ~skip
        bad = blank_provider.copy()
        for i in self._listed("required_value", "error", np.flatnonzero(blank_provider)):
            findings.append(
                make_finding(
                    self.file,
                    "required_value",
                    "The provider code is blank. Enter the trust's ODS code (for example RF4) "
                    "in this row.",
                    row=int(batch.source_row[i]),
                    column=self.header[layout.provider],
                )
            )
        return provider, period_raw, bad

    def _period_findings(
        self,
        problem: np.ndarray,
        given: np.ndarray,
        period_raw: pa.Array,
        rows: np.ndarray,
        targets: list[Target] | Target,
        target_index: np.ndarray | None,
        skip: np.ndarray,
        findings: list[Finding],
        *,
        grain_only: bool = False,
    ) -> None:
        column = self.header[self.layout.period]
        flagged = np.flatnonzero((problem != PERIOD_OK) & ~skip)
        listed: list[np.ndarray] = []
        for code, rule in (
            (PERIOD_BLANK, "required_value"),
            (PERIOD_TOO_COARSE, "period_grain"),
            (PERIOD_YEAR_KIND, "period_grain"),
            (PERIOD_UNREADABLE, "type_period"),
        ):
            if grain_only and code not in (PERIOD_TOO_COARSE, PERIOD_YEAR_KIND):
                continue
            listed.append(self._listed(rule, "error", flagged[problem[flagged] == code]))
        for i in np.sort(np.concatenate(listed)) if listed else flagged[:0]:
            target = targets[int(target_index[i])] if target_index is not None else targets
            assert isinstance(target, Target)
            raw = _text_at(period_raw, int(i))
            code = int(problem[i])
            if code == PERIOD_BLANK:
                rule = "required_value"
                message = "The period is blank. Enter the month as YYYY-MM (for example 2019-01)."
            elif code == PERIOD_TOO_COARSE:
                rule = "period_grain"
                message = _grain_message(target, raw, int(given[i]), self.resolver)
            elif code == PERIOD_YEAR_KIND:
                rule = "period_grain"
                message = _year_kind_message(target, raw)
            else:
                rule = "type_period"
                message = (
                    f"{raw!r} is not a period we can read. Write the month as YYYY-MM (for "
                    "example 2019-01), a date as dd/mm/yyyy (day first) or a quarter as "
                    "2019-Q1."
                )
            findings.append(
                make_finding(
                    self.file,
                    rule,
                    message,
                    row=int(rows[i]),
                    column=column,
                    metric=target.metric,
                    value=raw,
                )
            )

    def _value_findings(
        self,
        parsed_problem: np.ndarray,
        percent_bad: np.ndarray,
        value_raw: pa.Array,
        rows: np.ndarray,
        column: str,
        targets: list[Target] | Target,
        target_index: np.ndarray | None,
        skip: np.ndarray,
        findings: list[Finding],
    ) -> None:
        flagged = np.flatnonzero(((parsed_problem != VALUE_OK) | percent_bad) & ~skip)
        for i in self._listed("type_number", "error", flagged):
            target = targets[int(target_index[i])] if target_index is not None else targets
            assert isinstance(target, Target)
            raw = _text_at(value_raw, int(i)) or ""
            if parsed_problem[i] == VALUE_NOT_FINITE:
                message = (
                    f"{_short(raw)!r} is not a finite number. Enter the actual figure, or leave "
                    "the cell blank if it is not available."
                )
            elif parsed_problem[i] == VALUE_TOO_LARGE:
                message = (
                    f"{_short(raw)!r} is far too large to be a real figure (over "
                    f"{MAX_ABS_VALUE:,.0f}). Check the cell for a typing or unit error and enter "
                    "the actual figure."
                )
            elif parsed_problem[i] == VALUE_NOT_NUMBER:
                message = _not_number_message(raw)
            else:
                metric = self.resolver.catalog.metrics[target.metric or ""]
                message = (
                    f"{_short(raw)!r} has a % sign, but {metric.code} is measured in "
                    f"{metric.unit.replace('_', ' ')}, not percent. Enter the figure without "
                    "%, or check that it is in the right column."
                )
            findings.append(
                make_finding(
                    self.file,
                    "type_number",
                    message,
                    row=int(rows[i]),
                    column=column,
                    metric=target.metric,
                    value=raw,
                )
            )

    def _table(
        self,
        provider: pa.Array,
        period: pa.Array,
        metric: pa.Array,
        value: pa.Array,
        status: np.ndarray,
        comment: pa.Array,
        rows: np.ndarray,
        source_column: pa.Array,
    ) -> pa.Table:
        return pa.Table.from_arrays(
            [
                provider.cast(pa.string()),
                period,
                metric.cast(pa.string()),
                value,
                status_array(status),
                comment.cast(pa.string()),
                pa.array(rows, type=pa.int64()),
                source_column,
            ],
            schema=CANONICAL_ROWS,
        )

    # -- long ---------------------------------------------------------------------------------

    def _convert_long(self, batch: RawBatch) -> Converted:
        layout = self.layout
        assert layout.metric is not None and layout.value is not None
        findings: list[Finding] = []
        rows = batch.source_row
        n = len(rows)
        provider, period_raw, bad = self._keys(batch, findings)

        # Everything about a metric code is worked out once per distinct code ("per key"),
        # and only spread over the rows when the codes disagree.
        key_dict = _dictionary(batch.cells[layout.metric])
        raw_keys = key_dict.dictionary.to_pylist()
        targets = [
            self.resolver.resolve(header_key(k), layout.template)
            if k is not None and header_key(k)
            else Target("unknown")
            for k in raw_keys
        ]
        targets.append(Target("unknown"))  # the slot for blank cells
        if key_dict.null_count:
            key_index = np.where(
                _is_null(key_dict), len(raw_keys), _np(pc.fill_null(key_dict.indices, 0))
            ).astype(np.int64)
            used = np.unique(key_index)
        else:
            key_index = _np(key_dict.indices).astype(np.int64, copy=False)
            used = np.arange(len(raw_keys))
        normalised = [*normalise_metric_ids_arrow(key_dict.dictionary).to_pylist(), None]
        metric_names = [t.metric or normalised[i] for i, t in enumerate(targets)]
        blank_k = np.array([m is None for m in metric_names])
        stored_k = np.array([t.stored for t in targets])
        grain_k = np.array([t.grain for t in targets], dtype=np.int8)
        percent_ok_k = np.array([t.unit in (None, "percent") for t in targets])
        scale_k = np.array([t.scale for t in targets], dtype=np.float64)

        metric_column = self.header[layout.metric]
        if blank_k[used].any():
            blank_key = blank_k[key_index]
            for i in self._listed("required_value", "error", np.flatnonzero(blank_key & ~bad)):
                findings.append(
                    make_finding(
                        self.file,
                        "required_value",
                        "The metric is blank. Enter the metric's code from the catalogue (the "
                        "file name under catalog/metrics/) in this row.",
                        row=int(rows[i]),
                        column=metric_column,
                    )
                )
            bad = bad | blank_key
        ignored = np.zeros(n, dtype=bool)
        if not stored_k[used].all():
            ignored = ~stored_k[key_index] & ~bad
            rule_k = np.array(["metric_derived" if t.kind == "derived" else "" for t in targets])
            flagged = np.flatnonzero(ignored)
            derived = rule_k[key_index[flagged]] == "metric_derived"
            listed = np.sort(
                np.concatenate(
                    [
                        self._listed("metric_derived", "warning", flagged[derived]),
                        self._listed("item_not_stored", "warning", flagged[~derived]),
                    ]
                )
            )
            for i in listed:
                target = targets[int(key_index[i])]
                findings.append(
                    _not_stored_finding(
                        self.file, target, self.resolver, row=int(rows[i]), column=metric_column
                    )
                )
        skip = bad | ignored

        grains = grain_k[used]
        uniform_grain = len(grains) > 0 and bool((grains == grains[0]).all())
        periods = normalise_periods_arrow(
            period_raw, int(grains[0]) if uniform_grain else grain_k[key_index]
        )
        if periods.any_problem:
            self._period_findings(
                periods.problem,
                periods.given_grain,
                period_raw,
                rows,
                targets,
                key_index,
                skip,
                findings,
            )
        value_raw = batch.cells[layout.value]
        values = parse_values_arrow(value_raw)
        percent_bad = np.zeros(n, dtype=bool)
        if values.any_problem or (not percent_ok_k[used].all() and values.percent.any()):
            percent_bad = values.percent & ~percent_ok_k[key_index]
            self._value_findings(
                values.problem,
                percent_bad,
                value_raw,
                rows,
                self.header[layout.value],
                targets,
                key_index,
                skip,
                findings,
            )
        row_error = bad | (
            ~skip & ((periods.problem != PERIOD_OK) | (values.problem != VALUE_OK) | percent_bad)
        )
        keep = ~row_error & ~ignored
        value = values.value
        if (scale_k[used] != 1.0).any():
            value = pc.divide(value, pa.array(scale_k[key_index]))
        names = pa.array(metric_names, type=pa.string())
        if len(used) == 1:
            metric_arr = repeat_text(metric_names[int(used[0])], n)
        else:
            metric_arr = pc.take(names, pa.array(key_index, type=pa.int64()))
        comment = (
            trim_text(batch.cells[layout.comment].cast(pa.string()))
            if layout.comment is not None
            else pa.nulls(n, pa.string())
        )
        table = self._table(
            provider,
            periods.period,
            metric_arr,
            value,
            values.status,
            comment,
            rows,
            repeat_text(self.header[layout.value], n),
        )
        if not keep.all():
            table = table.filter(pa.array(keep))
        return self._converted(table, findings, batch, row_error)

    # -- wide ---------------------------------------------------------------------------------

    def _convert_wide(self, batch: RawBatch) -> Converted:
        layout = self.layout
        findings: list[Finding] = []
        rows = batch.source_row
        n = len(rows)
        provider, period_raw, bad = self._keys(batch, findings)
        comment = (
            trim_text(batch.cells[layout.comment].cast(pa.string()))
            if layout.comment is not None
            else pa.nulls(n, pa.string())
        )
        period_dict = _dictionary(period_raw)
        by_grain = {}
        row_error = bad.copy()
        pieces: list[pa.Table] = []
        for column_index, target in layout.wide:
            grain = target.grain
            if grain not in by_grain:
                by_grain[grain] = normalise_periods_arrow(
                    period_dict, np.full(n, grain, dtype=np.int8)
                )
            periods = by_grain[grain]
            value_raw = batch.cells[column_index]
            values = parse_values_arrow(value_raw)
            percent_bad = (
                values.percent & (target.unit not in (None, "percent"))
                if target.kind != "unknown"
                else np.zeros(n, dtype=bool)
            )
            column = self.header[column_index]
            period_bad = periods.problem != PERIOD_OK
            self._period_findings(
                periods.problem,
                periods.given_grain,
                period_raw,
                rows,
                target,
                None,
                bad,
                findings,
                grain_only=bool(pieces),
            )
            self._value_findings(
                values.problem,
                percent_bad,
                value_raw,
                rows,
                column,
                target,
                None,
                bad | period_bad,
                findings,
            )
            cell_error = period_bad | (values.problem != VALUE_OK) | percent_bad
            row_error |= cell_error
            keep = ~bad & ~cell_error
            value = values.value
            if target.scale != 1.0:
                value = pc.divide(value, target.scale)
            piece = self._table(
                provider,
                periods.period,
                repeat_text(target.metric, n),
                value,
                values.status,
                comment,
                rows,
                repeat_text(column, n),
            )
            pieces.append(piece.filter(pa.array(keep)) if not keep.all() else piece)
        table = pa.concat_tables(pieces) if pieces else CANONICAL_ROWS.empty_table()
        return self._converted(table, findings, batch, row_error)

    # -- NHS England's published monthly A&E file --------------------------------------------

    def _total_rows(self, batch: RawBatch, columns: PublishedColumns) -> np.ndarray:
        """Per row, the column whose cell marks it as the total row (organisation, period or
        name), or -1."""
        marked = np.full(batch.num_rows, -1, dtype=np.int64)
        for index in (self.layout.provider, self.layout.period, *columns.labels):
            cells = _dictionary(batch.cells[index])
            marks = np.array([columns.is_total(t) for t in cells.dictionary.to_pylist()] + [False])
            if not marks.any():
                continue
            at = np.where(_is_null(cells), len(marks) - 1, _np(pc.fill_null(cells.indices, 0)))
            marked[marks[at.astype(np.int64)] & (marked < 0)] = index
        return marked

    def _convert_published(self, batch: RawBatch) -> Converted:
        """One row per organisation and month → one value per metric: each metric the sum of its
        columns (see `collectonce.ingest.published_ae`); the total row is not stored."""
        layout = self.layout
        columns = layout.published
        assert columns is not None
        rows = batch.source_row
        n = len(rows)
        findings: list[Finding] = []
        marked = self._total_rows(batch, columns)
        total = marked >= 0
        provider, period_raw, bad = self._keys(batch, findings, skip=total)
        for i in self._listed("item_not_stored", "warning", np.flatnonzero(total)):
            at = int(marked[i])
            findings.append(
                make_finding(
                    self.file,
                    "item_not_stored",
                    "This is the total row; it is skipped (counted as skipped on the receipt, "
                    "not stored), because collectonce adds up the organisations' figures itself. "
                    "Nothing to fix.",
                    severity="warning",
                    row=int(rows[i]),
                    column=self.header[at],
                    value=_text_at(batch.cells[at], int(i)),
                )
            )

        # Periods (every metric of the file is monthly).
        targets = self.resolver.published_targets()
        grains = {targets[m].grain for m, _c in layout.sums}
        grain = grains.pop() if len(grains) == 1 else 0
        periods = normalise_periods_arrow(period_raw, grain)
        if periods.any_problem:
            self._period_findings(
                periods.problem,
                periods.given_grain,
                period_raw,
                rows,
                Target("metric", None, grain, label="A&E figures"),
                None,
                bad | total,
                findings,
            )
        key_error = (bad | (periods.problem != PERIOD_OK)) & ~total

        # Each column used is parsed once, whatever number of metrics it goes into.
        metric_of: dict[int, str] = {}
        for metric, indices in layout.sums:
            for index in indices:
                metric_of.setdefault(index, metric)
        parsed: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        cell_error: dict[int, np.ndarray] = {}
        for index in sorted(metric_of):
            target = targets[metric_of[index]]
            value_raw = batch.cells[index]
            values = parse_values_arrow(value_raw)
            percent_bad = values.percent & (target.unit not in (None, "percent"))
            if values.any_problem or percent_bad.any():
                self._value_findings(
                    values.problem,
                    percent_bad,
                    value_raw,
                    rows,
                    self.header[index],
                    target,
                    None,
                    key_error | total,
                    findings,
                )
            cell_error[index] = ((values.problem != VALUE_OK) | percent_bad) & ~total
            number = np.asarray(_np(values.value.fill_null(np.nan)), dtype=np.float64)
            parsed[index] = (number, values.status)
        row_error = key_error.copy()
        for error in cell_error.values():
            row_error |= error

        comment = (
            trim_text(batch.cells[layout.comment].cast(pa.string()))
            if layout.comment is not None
            else pa.nulls(n, pa.string())
        )
        pieces: list[pa.Table] = []
        for metric, indices in layout.sums:
            numbers = np.stack([parsed[i][0] for i in indices])
            statuses = np.stack([parsed[i][1] for i in indices])
            suppressed = (statuses == STATUS_SUPPRESSED).any(axis=0)
            missing = (statuses == STATUS_MISSING).all(axis=0)
            status = np.where(
                suppressed, STATUS_SUPPRESSED, np.where(missing, STATUS_MISSING, STATUS_REPORTED)
            ).astype(np.int8)
            value = np.where(statuses == STATUS_REPORTED, numbers, 0.0).sum(axis=0)
            keep = ~key_error & ~total
            for index in indices:
                keep &= ~cell_error[index]
            piece = self._table(
                provider,
                periods.period,
                repeat_text(metric, n),
                pa.array(value, type=pa.float64(), mask=status != STATUS_REPORTED),
                status,
                comment,
                rows,
                repeat_text(" + ".join(self.header[i] for i in indices), n),
            )
            pieces.append(piece if keep.all() else piece.filter(pa.array(keep)))
        table = pa.concat_tables(pieces) if pieces else CANONICAL_ROWS.empty_table()
        return self._converted(table, findings, batch, row_error, skipped=total)

    # -- A&E layout by department type ------------------------------------------------------

    def _convert_by_type(self, batches: list[RawBatch]) -> Converted:
        """Rows of provider × month × department type → one value per provider, month and
        metric: attendances and breaches per department class, admissions added up over all
        types, types 3 and 4 added up as "other" (see `collectonce.ingest.department_types`)."""
        layout = self.layout
        columns = layout.by_type
        assert columns is not None
        width = len(batches[0].cells)
        merged = RawBatch(
            cells=[
                pa.concat_arrays([_plain_text(b.cells[i]) for b in batches]) for i in range(width)
            ],
            source_row=np.concatenate([b.source_row for b in batches]).astype(np.int64),
        )
        rows = merged.source_row
        n = len(rows)
        findings: list[Finding] = []
        provider, period_raw, bad = self._keys(merged, findings)

        # The department type of each row: 1, 2, 3, 4, other or total (None: not readable).
        type_raw = merged.cells[columns.type_column]
        type_dict = _dictionary(type_raw)
        type_texts = type_dict.dictionary.to_pylist()
        names = ["1", "2", "3", "4", "other", "total"]
        code_of = {name: i for i, name in enumerate(names)}
        distinct = np.array(
            [code_of.get(columns.department_type(t) or "", -1) for t in type_texts] + [-2],
            dtype=np.int64,
        )
        type_index = np.where(
            _is_null(type_dict), len(type_texts), _np(pc.fill_null(type_dict.indices, 0))
        ).astype(np.int64)
        kind = distinct[type_index]  # -2 blank, -1 unknown
        type_column = self.header[columns.type_column]
        for code, rule in ((-2, "required_value"), (-1, "department_type")):
            where = np.flatnonzero((kind == code) & ~bad)
            for i in self._listed(rule, "error", where):
                raw = _text_at(type_raw, int(i))
                message = (
                    "The department type is blank. Enter 1 (major A&E), 2 (single specialty), "
                    "3 or 4, or other (types 3 and 4)."
                    if code == -2
                    else f"{_short(raw or '')!r} is not an A&E department type. Write 1 (major "
                    "A&E), 2 (single specialty), 3 or 4, or other (types 3 and 4)."
                )
                findings.append(
                    make_finding(
                        self.file, rule, message, row=int(rows[i]), column=type_column, value=raw
                    )
                )
        bad = bad | (kind < 0)
        total = kind == code_of["total"]
        for i in self._listed("item_not_stored", "warning", np.flatnonzero(total & ~bad)):
            findings.append(
                make_finding(
                    self.file,
                    "item_not_stored",
                    "This is a total row; it is skipped (counted as skipped on the receipt, not "
                    "stored), because collectonce adds up the rows for each department type "
                    "itself. Nothing to fix.",
                    severity="warning",
                    row=int(rows[i]),
                    column=type_column,
                    value=_text_at(type_raw, int(i)),
                )
            )
        class_of_kind = np.array(
            [CLASSES.index(CLASS_OF_TYPE[name]) if name in CLASS_OF_TYPE else -1 for name in names]
        )
        klass = np.where(kind >= 0, class_of_kind[np.maximum(kind, 0)], -1)

        # Periods (every A&E metric is monthly) and values.
        targets_by = self.resolver.by_type_targets()
        grains = {t.grain for t in targets_by.values()}
        grain = grains.pop() if len(grains) == 1 else 0
        periods = normalise_periods_arrow(period_raw, grain)
        period_target = Target("metric", None, grain, label="A&E figures")
        if periods.any_problem:
            self._period_findings(
                periods.problem,
                periods.given_grain,
                period_raw,
                rows,
                period_target,
                None,
                bad,
                findings,
            )
        row_error = bad | (periods.problem != PERIOD_OK)
        key_error = row_error.copy()  # every bad figure of a row with good keys is listed
        parsed = []
        for column_index, measure in columns.measures:
            targets = [
                targets_by.get((c, measure), Target("unknown", label=measure)) for c in CLASSES
            ]
            targets.append(Target("unknown", label=measure))
            target_index = np.where(klass >= 0, klass, len(CLASSES))
            unit_ok = np.array([t.unit in (None, "percent") for t in targets])
            value_raw = merged.cells[column_index]
            values = parse_values_arrow(value_raw)
            percent_bad = values.percent & ~unit_ok[target_index]
            if values.any_problem or percent_bad.any():
                self._value_findings(
                    values.problem,
                    percent_bad,
                    value_raw,
                    rows,
                    self.header[column_index],
                    targets,
                    target_index,
                    key_error,
                    findings,
                )
            row_error = row_error | (values.problem != VALUE_OK) | percent_bad
            parsed.append((column_index, measure, values))

        # A row repeated for one provider, month and type: once if identical, else an error.
        provider_dict = pc.dictionary_encode(pc.fill_null(provider, ""))
        provider_texts = provider_dict.dictionary.to_pylist()
        pcode = _np(provider_dict.indices).astype(np.int64)
        days = _np(periods.period.cast(pa.int32()).fill_null(0)).astype(np.int64)
        place = pcode * _DAY_SPAN + (days + _DAY_OFFSET)  # provider × month
        numbers = [np.asarray(_np(v.value.fill_null(np.nan)), dtype=np.float64) for *_, v in parsed]
        statuses = [v.status for *_, v in parsed]
        keyed = np.flatnonzero(~row_error & ~total)
        duplicate = np.zeros(n, dtype=bool)
        conflict = np.zeros(n, dtype=bool)
        if len(keyed) > 1:
            key = place[keyed] * len(names) + kind[keyed]
            order = keyed[np.argsort(key, kind="stable")]
            sorted_key = place[order] * len(names) + kind[order]
            starts = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
            group = np.cumsum(starts) - 1
            size = np.bincount(group)
            repeated = size[group] > 1
            if repeated.any():
                head = order[np.flatnonzero(starts)][group]
                same = np.ones(len(order), dtype=bool)
                for value, status in zip(numbers, statuses, strict=True):
                    a, b = value[order], value[head]
                    same &= (status[order] == status[head]) & (
                        (a == b) | (np.isnan(a) & np.isnan(b))
                    )
                differing = np.bincount(group, weights=(~same).astype(np.float64)) > 0
                in_conflict = repeated & differing[group]
                conflict[order[in_conflict]] = True
                later = repeated & ~starts & ~in_conflict
                duplicate[order[later]] = True
                self._repeat_findings(
                    order,
                    group,
                    np.flatnonzero(starts),
                    in_conflict,
                    later,
                    rows,
                    provider_texts,
                    pcode,
                    days,
                    type_raw,
                    type_column,
                    findings,
                )
        row_error = row_error | conflict

        # One value per provider, month and metric: the rows of each sum.
        placed = ~bad & (periods.problem == PERIOD_OK) & ~total & (klass >= 0)
        metric_codes = sorted({t.metric for t in targets_by.values() if t.metric})
        metric_pos = {code: i for i, code in enumerate(metric_codes)}
        pieces: dict[str, list[np.ndarray]] = {
            k: [] for k in ("cell", "value", "status", "row", "position", "rejected", "column")
        }
        for j, (_column_index, measure, parsed_values) in enumerate(parsed):
            of_class = np.array(
                [
                    metric_pos[targets_by[(c, measure)].metric or ""]
                    if (c, measure) in targets_by
                    else -1
                    for c in CLASSES
                ],
                dtype=np.int64,
            )
            metric = np.where(klass >= 0, of_class[np.maximum(klass, 0)], -1)
            take = np.flatnonzero(placed & ~duplicate & (metric >= 0))
            pieces["cell"].append(place[take] * len(metric_codes) + metric[take])
            pieces["value"].append(numbers[j][take])
            pieces["status"].append(parsed_values.status[take])
            pieces["row"].append(rows[take])
            pieces["position"].append(take)
            pieces["rejected"].append(row_error[take])
            pieces["column"].append(np.full(len(take), j, dtype=np.int64))
        cells = {k: np.concatenate(v) for k, v in pieces.items()}
        if not len(cells["cell"]):
            return self._converted(
                CANONICAL_ROWS.empty_table(), findings, merged, row_error, skipped=total
            )
        order = np.lexsort((cells["row"], cells["cell"]))
        cells = {k: v[order] for k, v in cells.items()}
        starts = np.flatnonzero(np.r_[True, cells["cell"][1:] != cells["cell"][:-1]])
        size = np.diff(np.r_[starts, len(order)])
        rejected_any = np.maximum.reduceat(cells["rejected"].astype(np.int8), starts) > 0
        accepted_any = np.minimum.reduceat(cells["rejected"].astype(np.int8), starts) == 0
        blocked = rejected_any & (size > 1)
        self._blocked_sum_findings(
            cells,
            starts,
            size,
            np.flatnonzero(blocked & accepted_any),
            metric_codes,
            provider_texts,
            pcode,
            days,
            rows,
            columns,
            findings,
        )
        keep = ~rejected_any
        status = cells["status"]
        reported = np.where(status == STATUS_REPORTED, cells["value"], 0.0)
        total_value = np.add.reduceat(reported, starts)[keep]
        suppressed = np.maximum.reduceat((status == STATUS_SUPPRESSED).astype(np.int8), starts)
        missing = np.minimum.reduceat((status == STATUS_MISSING).astype(np.int8), starts)
        out_status = np.where(
            suppressed[keep] > 0,
            STATUS_SUPPRESSED,
            np.where(missing[keep] > 0, STATUS_MISSING, STATUS_REPORTED),
        ).astype(np.int8)
        first = starts[keep]
        position = cells["position"][first]
        metric_index = cells["cell"][first] % len(metric_codes)
        count = len(first)
        table = self._table(
            pc.take(pa.array(provider_texts, pa.string()), pa.array(pcode[position])),
            pa.array(days[position].astype(np.int32), type=pa.int32()).view(pa.date32()),
            pc.take(pa.array(metric_codes, pa.string()), pa.array(metric_index)),
            pa.array(total_value, type=pa.float64(), mask=out_status != STATUS_REPORTED),
            out_status,
            pa.nulls(count, pa.string()),
            cells["row"][first],
            pc.take(
                pa.array([self.header[i] for i, _m in columns.measures], pa.string()),
                pa.array(cells["column"][first]),
            ),
        )
        return self._converted(table, findings, merged, row_error, skipped=total)

    def _repeat_findings(
        self,
        order: np.ndarray,
        group: np.ndarray,
        group_start: np.ndarray,
        in_conflict: np.ndarray,
        later: np.ndarray,
        rows: np.ndarray,
        provider_texts: list[str],
        pcode: np.ndarray,
        days: np.ndarray,
        type_raw: pa.Array,
        type_column: str,
        findings: list[Finding],
    ) -> None:
        """Findings for rows that repeat a provider, month and department type."""
        for rule, severity, mask in (
            ("conflicting_key", "error", in_conflict),
            ("duplicate_key", "warning", later),
        ):
            for i in self._listed(rule, severity, np.flatnonzero(mask)):
                p = int(order[i])
                g = int(group[i])
                end = group_start[g + 1] if g + 1 < len(group_start) else len(order)
                mates = order[group_start[g] : end]
                others = [int(rows[m]) for m in mates if m != p][:5]
                where = (
                    f"{provider_texts[int(pcode[p])]} {_month_label(int(days[p]))}, department "
                    f"type {_text_at(type_raw, p)}"
                )
                message = (
                    f"{where} is given more than once with different figures (see also row "
                    f"{', '.join(map(str, others))}). Keep one row with the right figures and "
                    "delete the others."
                    if rule == "conflicting_key"
                    else f"{where} repeats row {others[0]} with the same figures; it is counted "
                    "once. Delete the repeated row next time."
                )
                findings.append(
                    make_finding(
                        self.file,
                        rule,
                        message,
                        severity=severity,
                        row=int(rows[p]),
                        column=type_column,
                    )
                )

    def _blocked_sum_findings(
        self,
        cells: dict[str, np.ndarray],
        starts: np.ndarray,
        size: np.ndarray,
        blocked: np.ndarray,
        metric_codes: list[str],
        provider_texts: list[str],
        pcode: np.ndarray,
        days: np.ndarray,
        rows: np.ndarray,
        columns: TypeColumns,
        findings: list[Finding],
    ) -> None:
        """A warning for each sum left out because one of its rows was rejected."""
        for g in self._listed("item_not_stored", "warning", blocked):
            lo, hi = int(starts[g]), int(starts[g] + size[g])
            rejected = cells["rejected"][lo:hi]
            p = int(cells["position"][lo:hi][~rejected][0])
            code = metric_codes[int(cells["cell"][lo] % len(metric_codes))]
            label = self.resolver.catalog.metrics[code].label
            bad_rows = ", ".join(str(int(r)) for r in cells["row"][lo:hi][rejected][:5])
            column = self.header[columns.measures[int(cells["column"][lo])][0]]
            findings.append(
                make_finding(
                    self.file,
                    "item_not_stored",
                    f"{label} ({code}) for {provider_texts[int(pcode[p])]} "
                    f"{_month_label(int(days[p]))} adds up several rows, and row {bad_rows} was "
                    "rejected, so the total was not stored. Fix that row and send the rows again.",
                    severity="warning",
                    row=int(rows[p]),
                    column=column,
                    metric=code,
                )
            )


def _plain_text(arr: pa.Array) -> pa.Array:
    return arr.cast(pa.string()) if pa.types.is_dictionary(arr.type) else arr


def _month_label(days: int) -> str:
    day = _EPOCH + dt.timedelta(days=days)
    return f"{day.year}-{day.month:02d}"


def _short(text: str, limit: int = 60) -> str:
    text = text.replace("\r", " ").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _not_number_message(raw: str) -> str:
    text = raw.strip()
    shown = _short(text)
    if text[:1] in ("=", "@") or (text[:1] in ("+", "-") and not text[1:2].isdigit()):
        return (
            f"{shown!r} looks like a spreadsheet formula or command, not a number. Enter the "
            "figure itself (for example 1234); text belongs in the comment column."
        )
    if "," in text and any(ch.isdigit() for ch in text):
        return (
            f"{shown!r} is not a number we can read. Use a full stop for decimals (92.5) and "
            "either no thousands separator or commas in groups of three (1,234)."
        )
    return (
        f"{shown!r} is not a number. Enter the figure as digits (for example 1234 or 92.5), * "
        "for a suppressed small number, or leave the cell blank if it is not available."
    )


def _calendar_year_metrics(catalog: Catalog) -> frozenset[str]:
    """Metrics every request of which counts calendar years (``year_start: january``)."""
    starts: dict[str, set[str]] = {}
    for request in catalog.requests.values():
        for item in request.items:
            for code in item.metric_codes:
                starts.setdefault(code, set()).add(request.year_start)
    return frozenset(code for code, seen in starts.items() if seen == {"january"})


def _year_kind_message(target: Target, raw: str | None) -> str:
    what = target.metric or "These figures"
    if target.grain == CALENDAR_YEAR:
        return (
            f"{raw!r} is an NHS financial year (April to March), but {what} is collected by "
            "calendar year (January to December), and the two cannot be converted. Write the "
            "calendar year, for example 2019."
        )
    return (
        f"{raw!r} reads as a calendar year, but {what} is collected by NHS financial year "
        "(April to March), and the two cannot be converted. Write the financial year, for "
        "example 2018/19 for April 2018 to March 2019."
    )


def _grain_message(target: Target, raw: str | None, given: int, resolver: Resolver) -> str:
    names = {0: "month", 1: "quarter", 2: "year"}
    given_name = names.get(given, "period")
    metric = resolver.catalog.metrics.get(target.metric or "")
    wanted = metric.grain.period if metric else "month"
    adverb = {"month": "monthly", "quarter": "quarterly", "year": "yearly"}[wanted]
    if target.metric is None:
        return (
            f"The figures in this row are collected {adverb}, but the row gives a {given_name} "
            f"({raw}). Submit one row per {wanted}, with the period written as YYYY-MM (for "
            "example 2019-01)."
        )
    if target.kind == "item" and target.item is not None:
        return (
            f"Item {target.item.their_code} ({target.item.their_label}) is given for a "
            f"{given_name} ({raw}), but collectonce collects {target.metric} {adverb}. A "
            f"{given_name}'s figure cannot be split: submit the {adverb} values for "
            f"{target.metric} instead (the canonical template has one row per {wanted}); "
            f"the {given_name}'s figure is then computed for you."
        )
    return (
        f"{target.metric} is collected {adverb}, but this row gives a {given_name} ({raw}). "
        f"Submit one row per {wanted}, with the period written as "
        + ("YYYY-MM (for example 2019-01)." if wanted == "month" else "2019-Q1.")
    )
