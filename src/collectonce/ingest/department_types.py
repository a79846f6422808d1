"""NHS England's published A&E layout: one row per provider, month and department type.

    period,org_code,type,attendances,breaches,admissions
    2017-03-01,RF4,1,21289,2879,5060
    2017-03-01,RF4,2,813,22,0
    2017-03-01,RF4,other,2850,6,0

This is how the A&E Attendances and Emergency Admissions statistics are published, and how many
trusts keep their own A&E extract. A trust that sends it is collecting once too: the catalogue
collects one metric per department type and measure, as its layout file
(``catalog/layouts/nhse_ae_by_department_type.yaml``) says, so

- a row's attendances and breaches become the metric for its department class;
- types 3 and 4 are both "other" A&E departments, so their figures are added up;
- a metric the layout names for several classes (admissions, collected once for all department
  types) is the sum of the rows of a provider and month.

The headings of the department-type column and of each measure are the layout file's too.

Department types may be written ``1``, ``2``, ``3``, ``4`` or ``other``, or in the words the
layout file lists under ``department_types`` (``Type 1``, ``Major A&E``, ``Single specialty``,
``Types 3 and 4``, ``Other A&E department``). A total row (``Total``, ``All types``) is not
stored: the totals are worked out from the rows per type.

This module only reads the layout (pure functions); `collectonce.ingest.shapes` recognises it
from a header and converts its rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from collectonce.catalog import Catalog
from collectonce.catalog.layouts import AE_BY_TYPE as AE_BY_TYPE
from collectonce.catalog.layouts import AE_BY_TYPE_TITLE as AE_BY_TYPE_TITLE
from collectonce.catalog.layouts import ByTypeLayout, by_type_layout
from collectonce.ingest.formats import make_finding
from collectonce.ingest.normalise import header_key
from collectonce.validate.findings import Finding

#: Department classes of the catalogue: type 1, type 2, and other (types 3 and 4).
CLASSES = ("1", "2", "other")

#: The catalogue class of each type.
CLASS_OF_TYPE = {"1": "1", "2": "2", "3": "other", "4": "other", "other": "other"}


def department_key(text: str) -> str:
    """A department type as compared: `header_key` without the words "type" and "department".

    ``"Type 1"``, ``"type1"`` and ``"1.0"`` give ``"1"``; ``"Types 3 & 4"`` gives ``"3_and_4"``;
    ``"Other A&E department"`` gives ``"other_ae"``.
    """
    key = header_key(text).replace("a&e", "ae")
    key = re.sub(r"\.0+$", "", key)
    key = re.sub(r"^ae_", "", key)
    key = re.sub(r"^types?_?(?=\d)", "", key)
    key = re.sub(r"^types?_", "", key)
    key = re.sub(r"_(?:departments?|dept)$", "", key)
    return re.sub(r"_?(?:&|\+|/)_?", "_and_", key)


def type_words(layout: ByTypeLayout) -> dict[str, str]:
    """A department type as written (after `department_key`) → its type: 1, 2, 3, 4, other or
    total, from the layout file's ``department_types``."""
    return {department_key(w): name for name, words in layout.type_words().items() for w in words}


def department_type(text: str | None, words: Mapping[str, str]) -> str | None:
    """``1``, ``2``, ``3``, ``4``, ``other`` or ``total`` for a department type (`words` as
    `type_words` gives them); None if unknown."""
    if text is None:
        return None
    key = department_key(text)
    found = words.get(key)
    if found is None:
        lead = re.match(r"^([1-4])_(?!and_)", key)  # "Type 1 - Major A&E" → 1
        found = lead[1] if lead else None
    return found


def by_type_metrics(catalog: Catalog) -> dict[tuple[str, str], str]:
    """(department class, measure) → the catalogue metric it is stored as, from the catalogue's
    layout file (empty when the catalogue has none)."""
    layout = by_type_layout(catalog.layouts)
    return layout.metric_map() if layout else {}


@dataclass(frozen=True)
class TypeColumns:
    """Where the department type and each measure sit in a header."""

    type_column: int
    measures: tuple[tuple[int, str], ...]
    #: (department class, measure) → catalogue metric, as the layout file maps them.
    metrics: dict[tuple[str, str], str] = field(default_factory=dict)
    #: A department type as written (after `department_key`) → 1, 2, 3, 4, other or total.
    types: dict[str, str] = field(default_factory=dict)

    def department_type(self, text: str | None) -> str | None:
        """``1``, ``2``, ``3``, ``4``, ``other`` or ``total`` for a department type as the
        layout file writes them; None if unknown."""
        return department_type(text, self.types)

    def unmapped_findings(self, header: Sequence[str], file: str) -> list[Finding]:
        """A warning for each department class whose measure, present in the file, the
        catalogue's layout file stores as no metric: those figures are ignored."""
        found = []
        for at, measure in self.measures:
            for klass in CLASSES:
                if (klass, measure) in self.metrics:
                    continue
                found.append(
                    make_finding(
                        file,
                        "item_not_stored",
                        f"{measure.capitalize()} of department type {klass} are not stored: "
                        "this catalogue's A&E layout (layouts/nhse_ae_by_department_type.yaml) "
                        "maps them to no metric, so those figures were ignored. Nothing to fix.",
                        severity="warning",
                        column=header[at],
                    )
                )
        return found


def find_type_columns(
    header: Sequence[str], taken: set[int], layout: ByTypeLayout | None
) -> TypeColumns | None:
    """The department-type column and at least one measure column, if the header has them."""
    if layout is None:
        return None
    type_names = {header_key(h) for h in layout.type_column}
    measure_of = {
        header_key(h): measure for measure, spec in layout.measures.items() for h in spec.headings
    }
    type_column = None
    measures: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i, name in enumerate(header):
        if i in taken:
            continue
        key = header_key(name)
        if type_column is None and key in type_names:
            type_column = i
            continue
        measure = measure_of.get(key)
        if measure is not None and measure not in seen:
            seen.add(measure)
            measures.append((i, measure))
    if type_column is None or not measures:
        return None
    return TypeColumns(type_column, tuple(measures), layout.metric_map(), type_words(layout))
