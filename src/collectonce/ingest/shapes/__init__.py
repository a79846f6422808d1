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

from collectonce.ingest.shapes.converter import Converter
from collectonce.ingest.shapes.layout import Layout, detect_layout, looks_like_header
from collectonce.ingest.shapes.roles import (
    DESCRIPTIVE,
    ROLE_ALIASES,
    repeated_columns,
    without_note,
)
from collectonce.ingest.shapes.rows import Converted, FindingBudget
from collectonce.ingest.shapes.targets import CANONICAL_LONG, CANONICAL_WIDE, Resolver, Target

__all__ = [
    "CANONICAL_LONG",
    "CANONICAL_WIDE",
    "DESCRIPTIVE",
    "ROLE_ALIASES",
    "Converted",
    "Converter",
    "FindingBudget",
    "Layout",
    "Resolver",
    "Target",
    "detect_layout",
    "looks_like_header",
    "repeated_columns",
    "without_note",
]
