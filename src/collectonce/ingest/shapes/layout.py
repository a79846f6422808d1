"""Layout detection: which of the recognised shapes a header is, and where each role sits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from collectonce.catalog.layouts import by_type_layout, published_layout
from collectonce.ingest.department_types import (
    AE_BY_TYPE,
    TypeColumns,
    find_type_columns,
)
from collectonce.ingest.formats import FileRejected, make_finding
from collectonce.ingest.normalise.text import header_key
from collectonce.ingest.published_ae import (
    AE_PUBLISHED,
    PublishedColumns,
    find_published_columns,
)
from collectonce.ingest.shapes.messages import (
    item_not_stored,
    not_collected_message,
    not_stored_finding,
    unknown_column,
    unrecognised_message,
)
from collectonce.ingest.shapes.roles import (
    DESCRIPTIVE,
    ROLE_ALIASES,
    first_of,
    header_roles,
)
from collectonce.ingest.shapes.targets import CANONICAL_LONG, CANONICAL_WIDE, Resolver, Target
from collectonce.validate.findings import Finding


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


def looks_like_header(header: Sequence[str], resolver: Resolver) -> bool:
    """Whether a row reads as a submission header (used to skip a workbook's title rows)."""
    roles, _dups, others = header_roles(header)
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
    roles, duplicates, others = header_roles(header)
    findings: list[Finding] = []
    for i in duplicates:
        findings.append(
            make_finding(
                file,
                "duplicate_column",
                f"The column {header[i]!r} appears more than once (columns "
                f"{first_of(header, i) + 1} and {i + 1}); one was kept, as the copies agree "
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
            raise FileRejected("file_unrecognised", unrecognised_message(header, roles, others))
        for i in others:
            wide.append((i, resolver.resolve(header_key(header[i]), template)))
    _require_keys(roles)
    ignored = set()
    for i, target in wide:
        if target.kind == "unknown" and header_key(header[i]) not in DESCRIPTIVE:
            of = "" if template == CANONICAL_WIDE else f" or an item of {template}"
            why = f"is not a catalogue metric code{of}; it was ignored. Check its spelling "
            findings.append(unknown_column(file, header[i], why + "against the template."))
        elif target.kind in ("derived", "multi", "unmapped"):
            findings.append(not_stored_finding(file, target, resolver, column=header[i]))
        if not target.stored or target.kind == "unknown":
            ignored.add(i)
    if long:
        for i in others:
            if header_key(header[i]) not in DESCRIPTIVE:
                why = (
                    "is not part of the template; it was ignored. The template's columns are "
                    "provider_code, period, metric_id, value and comment."
                )
                findings.append(unknown_column(file, header[i], why))
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


def _unused_columns(header: Sequence[str], used: set[int], file: str, why: str) -> list[Finding]:
    """A warning for each headed column that a fixed layout does not read."""
    return [
        unknown_column(file, name, why)
        for i, name in enumerate(header)
        if i not in used and header_key(name) and header_key(name) not in DESCRIPTIVE
    ]


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
    findings += _unused_columns(
        header,
        used,
        file,
        "is not part of the A&E layout by department type; it was ignored. That layout's "
        "columns are period, org_code, type, attendances, breaches and admissions.",
    )
    targets = resolver.by_type_targets()
    findings.extend(columns.unmapped_findings(header, file))
    for (kind, measure), metric in sorted(columns.metrics.items()):
        if (kind, measure) in targets or measure not in {m for _i, m in columns.measures}:
            continue
        what = f"{measure.capitalize()} of department type {kind}"
        column = header[next(i for i, m in columns.measures if m == measure)]
        findings.append(
            item_not_stored(file, not_collected_message(what, "map", metric), column, metric)
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
    read = {roles["provider_code"], roles["period"], *columns.indices}
    if "comment" in roles:
        read.add(roles["comment"])
    findings += _unused_columns(
        header,
        read,
        file,
        "is not part of NHS England's published monthly A&E file; it was ignored. Check its "
        "heading against the published file.",
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
            message = not_collected_message(shown, "maps" if len(at) == 1 else "map", metric)
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
        findings.append(item_not_stored(file, message, header[at[0]], metric))
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
