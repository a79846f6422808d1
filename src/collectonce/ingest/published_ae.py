"""NHS England's published monthly A&E file: one row per organisation and month.

    Period,Org Code,Parent Org,Org name,A&E attendances Type 1,A&E attendances Type 2,...
    MSitAE-JANUARY-2019,RF4,NHS ENGLAND LONDON,BARKING ... NHS TRUST,16428,789,10424,...
    TOTAL,TOTAL,TOTAL,TOTAL,...

This is the provider-level file of the monthly A&E Attendances and Emergency Admissions
statistics (CSV, and the same columns in workbooks, often under a title block), which many data
teams keep as their own A&E history. Its headings changed over the years; all of these are
recognised, compared case-insensitively with spaces, ``_`` and ``-`` alike, ``A&E`` and ``AE``
alike and ``4hrs``, ``4 hrs`` and ``4 hours`` alike:

- attendances: ``Number of A&E attendances Type 1`` (the files until 2020) or ``A&E
  attendances Type 1`` (since), and Type 2 and ``Other A&E Department`` likewise; files since
  2020 add ``A&E attendances Booked Appointments Type 1`` (Type 2, ``Other Department``);
- attendances over 4 hours: ``Number of attendances over 4hrs Type 1`` (Type 2, ``Other A&E
  Department``) or ``Attendances over 4hrs Type 1`` (Type 2, ``Other Department``), and
  ``Attendances over 4hrs Booked Appointments Type 1`` (Type 2, ``Other Department``);
- waits from decision to admit: ``Patients who have waited 4-12 hs from DTA to admission`` and
  ``Patients who have waited 12+ hrs from DTA to admission``; NHS England's provider workbooks
  word them ``Number of patients spending >4 hours from decision to admit to admission`` (all
  waits over 4 hours) and ``... >12 hours ...`` (older ones ``>4 hours but <12 hours``);
- admissions: ``Emergency admissions via A&E - Type 1`` (``Type 2``, ``Other A&E department``)
  and ``Other emergency admissions`` (the workbooks: ``Emergency Admissions via Type 1 A&E``,
  ``... Type 3 and 4 A&E``, ``Other Emergency admissions (i.e not via A&E)``).

The catalogue collects one metric per department class and measure, so each metric is the sum
of the columns that make it up (`METRICS`):

- a department's attendances (and its attendances over 4 hours) are its unbooked and booked
  figures added up: the catalogue counts every attendance at the department, booked or not;
- ``ae_emergency_admissions`` counts emergency admissions via A&E of every department type, so
  the Type 1, Type 2 and other-department columns are added up; ``Other emergency admissions``
  is ``emergency_admissions_not_via_ae``;
- ``ae_dta_waits_over_4hr`` counts every wait over 4 hours, those over 12 hours included, so it
  is the 4-12 hour and 12+ hour columns added up (or the workbooks' ">4 hours" column as it is);
  ``ae_dta_waits_over_12hr`` is the 12+ hour column.

A metric whose required columns are not all in the file is not stored (a warning says which
column is missing). The ``Total`` row (``TOTAL`` in the organisation, period or name column) is
not stored: collectonce works totals out itself.

This module only *describes* the layout (pure functions and tables); `collectonce.ingest.shapes`
recognises it from a header and converts its rows, as it does for
`collectonce.ingest.department_types`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from collectonce.catalog.layouts import AE_PUBLISHED as AE_PUBLISHED
from collectonce.catalog.layouts import AE_PUBLISHED_TITLE as AE_PUBLISHED_TITLE
from collectonce.ingest.department_types import department_type
from collectonce.ingest.normalise import header_key

#: Each column of the layout, with the headings NHS England has used for it.
COLUMNS: dict[str, tuple[str, ...]] = {
    "attendances_type1": ("A&E attendances Type 1", "Number of A&E attendances Type 1"),
    "attendances_type2": ("A&E attendances Type 2", "Number of A&E attendances Type 2"),
    "attendances_other": (
        "A&E attendances Other A&E Department",
        "Number of A&E attendances Other A&E Department",
        "A&E attendances Other Department",
    ),
    "booked_type1": ("A&E attendances Booked Appointments Type 1",),
    "booked_type2": ("A&E attendances Booked Appointments Type 2",),
    "booked_other": (
        "A&E attendances Booked Appointments Other Department",
        "A&E attendances Booked Appointments Other A&E Department",
    ),
    "over_4hrs_type1": ("Attendances over 4hrs Type 1", "Number of attendances over 4hrs Type 1"),
    "over_4hrs_type2": ("Attendances over 4hrs Type 2", "Number of attendances over 4hrs Type 2"),
    "over_4hrs_other": (
        "Attendances over 4hrs Other Department",
        "Number of attendances over 4hrs Other A&E Department",
        "Attendances over 4hrs Other A&E Department",
    ),
    "booked_over_4hrs_type1": ("Attendances over 4hrs Booked Appointments Type 1",),
    "booked_over_4hrs_type2": ("Attendances over 4hrs Booked Appointments Type 2",),
    "booked_over_4hrs_other": (
        "Attendances over 4hrs Booked Appointments Other Department",
        "Attendances over 4hrs Booked Appointments Other A&E Department",
    ),
    "dta_4_to_12hrs": (
        "Patients who have waited 4-12 hs from DTA to admission",
        "Patients who have waited 4-12 hrs from DTA to admission",
        "Number of patients spending >4 hours but <12 hours from decision to admit to admission",
    ),
    "dta_over_12hrs": (
        "Patients who have waited 12+ hrs from DTA to admission",
        "Number of patients spending >12 hours from decision to admit to admission",
    ),
    "dta_over_4hrs": ("Number of patients spending >4 hours from decision to admit to admission",),
    "admissions_type1": (
        "Emergency admissions via A&E - Type 1",
        "Emergency Admissions via Type 1 A&E",
    ),
    "admissions_type2": (
        "Emergency admissions via A&E - Type 2",
        "Emergency Admissions via Type 2 A&E",
    ),
    "admissions_other": (
        "Emergency admissions via A&E - Other A&E department",
        "Emergency Admissions via Type 3 and 4 A&E",
    ),
    "admissions_not_via_ae": (
        "Other emergency admissions",
        "Other Emergency admissions (i.e not via A&E)",
    ),
}

#: Columns the layout carries that describe the organisation; they are read for total rows only.
LABEL_COLUMNS = ("parent_org", "org_name", "name", "organisation_name", "region")


@dataclass(frozen=True)
class Sum:
    """A metric as the sum of some columns: all of `required`, and those of `optional` present."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()


#: Catalogue metric → the ways the file gives it, preferred first.
METRICS: dict[str, tuple[Sum, ...]] = {
    "ae_attendances_type1": (Sum(("attendances_type1",), ("booked_type1",)),),
    "ae_attendances_type2": (Sum(("attendances_type2",), ("booked_type2",)),),
    "ae_attendances_other": (Sum(("attendances_other",), ("booked_other",)),),
    "ae_breaches_4hr_type1": (Sum(("over_4hrs_type1",), ("booked_over_4hrs_type1",)),),
    "ae_breaches_4hr_type2": (Sum(("over_4hrs_type2",), ("booked_over_4hrs_type2",)),),
    "ae_breaches_4hr_other": (Sum(("over_4hrs_other",), ("booked_over_4hrs_other",)),),
    "ae_emergency_admissions": (Sum(("admissions_type1", "admissions_type2", "admissions_other")),),
    "emergency_admissions_not_via_ae": (Sum(("admissions_not_via_ae",)),),
    "ae_dta_waits_over_4hr": (
        Sum(("dta_over_4hrs",)),
        Sum(("dta_4_to_12hrs", "dta_over_12hrs")),
    ),
    "ae_dta_waits_over_12hr": (Sum(("dta_over_12hrs",)),),
}

#: Words that mark the national total row in an organisation, period or name column.
_TOTAL_WORDS = frozenset({"england", "england_total", "total_england", "grand_total"})


def column_key(name: object) -> str:
    """A heading as compared: `header_key`, with ``A&E`` as ``ae``, a leading "Number of"
    dropped and hours written one way (``4hrs``, ``4 hrs``, ``4 hours`` and ``4 hs`` give
    ``4h``; ``12+ hrs`` gives ``12+h``)."""
    key = header_key(name).replace("a_&_e", "ae").replace("a&e", "ae")
    key = re.sub(r"^number_of_", "", key)
    return re.sub(r"(\d\+?)_?(?:hours|hour|hrs|hr|hs|h)(?=_|$)", r"\1h", key)


_PART_OF_KEY: dict[str, str] = {
    column_key(heading): part for part, headings in COLUMNS.items() for heading in headings
}


def column_part(name: object) -> str | None:
    """Which column of the layout a heading is (a key of `COLUMNS`), or None."""
    return _PART_OF_KEY.get(column_key(name))


def is_total(text: str | None) -> bool:
    """Whether a cell marks the total row: ``Total``, ``TOTAL``, ``All types``, ``England``."""
    if text is None:
        return False
    return department_type(text) == "total" or header_key(text) in _TOTAL_WORDS


@dataclass(frozen=True)
class PublishedColumns:
    """Where each column of the layout sits in a header (the first of each, if repeated)."""

    parts: dict[str, int]
    #: Columns that say what a row is (organisation name, parent organisation): read to find the
    #: total row.
    labels: tuple[int, ...] = ()
    #: Later columns repeating a part already found (ignored).
    repeated: tuple[int, ...] = ()

    @property
    def indices(self) -> set[int]:
        return {*self.parts.values(), *self.labels, *self.repeated}

    def chosen(self, metric: str) -> tuple[str, ...] | None:
        """The columns (parts) that make up `metric` in this file, or None if it cannot be made."""
        for way in METRICS[metric]:
            if all(part in self.parts for part in way.required):
                return way.required + tuple(p for p in way.optional if p in self.parts)
        return None

    def missing(self, metric: str) -> tuple[str, ...]:
        """The required parts of `metric` the file lacks (for the way it comes closest to)."""
        best: tuple[str, ...] = ()
        for way in METRICS[metric]:
            lacking = tuple(p for p in way.required if p not in self.parts)
            if len(lacking) < len(way.required) and (not best or len(lacking) < len(best)):
                best = lacking
        return best


def find_published_columns(header: Sequence[str], taken: set[int]) -> PublishedColumns | None:
    """The layout's columns, if the header has at least two of them."""
    parts: dict[str, int] = {}
    labels: list[int] = []
    repeated: list[int] = []
    for i, name in enumerate(header):
        if i in taken:
            continue
        part = column_part(name)
        if part is None:
            if header_key(name) in LABEL_COLUMNS:
                labels.append(i)
            continue
        if part in parts:
            repeated.append(i)
        else:
            parts[part] = i
    if len(parts) < 2:
        return None
    return PublishedColumns(parts, tuple(labels), tuple(repeated))


def heading(part: str) -> str:
    """How the layout's current files head a column (for messages)."""
    return COLUMNS[part][0]
