"""NHS England's published monthly A&E file: one row per organisation and month.

    Period,Org Code,Parent Org,Org name,A&E attendances Type 1,A&E attendances Type 2,...
    MSitAE-JANUARY-2019,RF4,NHS ENGLAND LONDON,BARKING ... NHS TRUST,16428,789,10424,...
    TOTAL,TOTAL,TOTAL,TOTAL,...

This is the provider-level file of the monthly A&E Attendances and Emergency Admissions
statistics (CSV, and the same columns in workbooks, often under a title block), which many data
teams keep as their own A&E history. Its headings changed over the years; the catalogue's layout
file (``catalog/layouts/nhse_ae_published_monthly.yaml``) lists every wording of each column,
and they are compared case-insensitively with spaces, ``_`` and ``-`` alike, ``A&E`` and ``AE``
alike, a leading "Number of" dropped and ``4hrs``, ``4 hrs`` and ``4 hours`` alike.

The catalogue collects one metric per department class and measure, so the layout file says how
each metric is the sum of the columns that make it up (a department's attendances are its
unbooked and booked figures added up, for instance), and which way is preferred when a file
gives a metric more than one way.

A metric whose required columns are not all in the file is not stored (a warning says which
column is missing). The ``Total`` row (``TOTAL`` in the organisation, period or name column) is
not stored: collectonce works totals out itself.

This module only reads the layout (pure functions); `collectonce.ingest.shapes` recognises it
from a header and converts its rows, as it does for `collectonce.ingest.department_types`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from collectonce.catalog import Catalog
from collectonce.catalog.layouts import AE_PUBLISHED as AE_PUBLISHED
from collectonce.catalog.layouts import AE_PUBLISHED_TITLE as AE_PUBLISHED_TITLE
from collectonce.catalog.layouts import PublishedLayout, Sum, published_layout
from collectonce.ingest.department_types import department_key
from collectonce.ingest.formats import make_finding
from collectonce.ingest.normalise import header_key
from collectonce.validate.findings import Finding


def column_key(name: object) -> str:
    """A heading as compared: `header_key`, with ``A&E`` as ``ae``, a leading "Number of"
    dropped and hours written one way (``4hrs``, ``4 hrs``, ``4 hours`` and ``4 hs`` give
    ``4h``; ``12+ hrs`` gives ``12+h``)."""
    key = header_key(name).replace("a_&_e", "ae").replace("a&e", "ae")
    key = re.sub(r"^number_of_", "", key)
    return re.sub(r"(\d\+?)_?(?:hours|hour|hrs|hr|hs|h)(?=_|$)", r"\1h", key)


def published_metrics(catalog: Catalog) -> dict[str, tuple[Sum, ...]]:
    """Catalogue metric → the ways the published file gives it, preferred first, from the
    catalogue's layout file (empty when the catalogue has none)."""
    layout = published_layout(catalog.layouts)
    return {code: tuple(ways) for code, ways in layout.metrics.items()} if layout else {}


@dataclass(frozen=True)
class PublishedColumns:
    """Where each column of the layout sits in a header (the first of each, if repeated)."""

    parts: dict[str, int]
    #: The layout file's columns (with their headings) and metrics.
    layout: PublishedLayout
    #: Columns that say what a row is (organisation name, parent organisation): read to find the
    #: total row.
    labels: tuple[int, ...] = ()
    #: Later columns repeating a part already found (ignored).
    repeated: tuple[int, ...] = ()

    @property
    def metrics(self) -> dict[str, list[Sum]]:
        """Catalogue metric → the ways the file gives it, preferred first."""
        return self.layout.metrics

    def is_total(self, text: str | None) -> bool:
        """Whether a cell marks the total row (``Total``, ``TOTAL``, ``All types``, ``England``),
        as the layout file's ``total_rows`` say."""
        if text is None:
            return False
        return department_key(text) in {department_key(w) for w in self.layout.total_rows}

    def heading(self, part: str) -> str:
        """How the layout's current files head a column (for messages)."""
        return self.layout.columns[part][0]

    @property
    def indices(self) -> set[int]:
        return {*self.parts.values(), *self.labels, *self.repeated}

    def unmapped_findings(self, header: Sequence[str], file: str) -> list[Finding]:
        """A warning for each column of the file that no metric of the catalogue's layout file
        is made from: its figures are ignored."""
        used = {
            p for ways in self.metrics.values() for w in ways for p in (*w.required, *w.optional)
        }
        return [
            make_finding(
                file,
                "item_not_stored",
                f"The column {header[at]!r} is part of NHS England's published monthly A&E file, "
                "but this catalogue's layout (layouts/nhse_ae_published_monthly.yaml) makes no "
                "metric from it, so its figures were ignored. Nothing to fix.",
                severity="warning",
                column=header[at],
            )
            for part, at in sorted(self.parts.items(), key=lambda kv: kv[1])
            if part not in used
        ]

    def chosen(self, metric: str) -> tuple[str, ...] | None:
        """The columns (parts) that make up `metric` in this file, or None if it cannot be made."""
        for way in self.metrics[metric]:
            if all(part in self.parts for part in way.required):
                return (*way.required, *(p for p in way.optional if p in self.parts))
        return None

    def missing(self, metric: str) -> tuple[str, ...]:
        """The required parts of `metric` the file lacks (for the way it comes closest to)."""
        best: tuple[str, ...] = ()
        for way in self.metrics[metric]:
            lacking = tuple(p for p in way.required if p not in self.parts)
            if len(lacking) < len(way.required) and (not best or len(lacking) < len(best)):
                best = lacking
        return best


def find_published_columns(
    header: Sequence[str], taken: set[int], layout: PublishedLayout | None
) -> PublishedColumns | None:
    """The layout's columns, if the header has at least two of them."""
    if layout is None:
        return None
    part_of = {column_key(h): part for part, headings in layout.columns.items() for h in headings}
    labels_of = {header_key(h) for h in layout.label_columns}
    parts: dict[str, int] = {}
    labels: list[int] = []
    repeated: list[int] = []
    for i, name in enumerate(header):
        if i in taken:
            continue
        part = part_of.get(column_key(name))
        if part is None:
            if header_key(name) in labels_of:
                labels.append(i)
            continue
        if part in parts:
            repeated.append(i)
        else:
            parts[part] = i
    if len(parts) < 2:
        return None
    return PublishedColumns(parts, layout, tuple(labels), tuple(repeated))
