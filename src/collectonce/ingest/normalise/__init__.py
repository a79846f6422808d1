"""Normalise what providers type into canonical codes, periods and values.

Every function is pure: it returns new arrays, Series or frames and never changes its input.
The work is vectorised. Periods are parsed once per *distinct* text and mapped back onto the rows,
values are parsed with Arrow compute kernels, so ten million cells cost a few passes over memory
and no Python loop per row.

Periods understood (case-insensitive, surrounding spaces ignored):

- months: ``2019-01``, ``2019/01``, ``201901``, ``2019M01``, ``01/2019``, ``Jan-19``,
  ``Jan 2019``, ``January 2019``, ``2019-Jan``, and a collection's code before the month as
  NHS England's published files write it (``MSitAE-JANUARY-2019``);
- days (normalised to their month): ``2019-01-01``, ``2019-01-01 00:00:00``,
  ``2019-01-01T00:00:00Z``, ``01/01/2019`` (UK order, day first), ``1/1/19``, ``1-Jan-2019``;
- Excel serial day numbers such as ``43466`` (2019-01-01) and Excel date cells;
- quarters: ``2019-Q1``, ``2019 Q1``, ``Q1 2019`` (calendar: Q1 is January to March) and NHS
  financial-year quarters ``2018/19 Q4`` or ``Q4 2018-19`` (Q4 of 2018/19 is January to March 2019);
- years: NHS financial years ``2018/19``, ``2018-19``, ``FY2018/19``, ``2018/2019`` and
  ``2018-2019`` (all April 2018 to March 2019), and calendar years ``2019``.

A period is then normalised to the first day of the metric's grain (month, quarter or year) that
contains it, through `collectonce.nhs_periods`: a year is an NHS financial year (``Y-MAR``,
first day 1 April) unless every request asking for the metric says ``year_start: january``,
when it is a calendar year (grain code `CALENDAR_YEAR`). A quarter or year given for a monthly
metric is a *grain mismatch*: a quarterly total cannot be split into months. A calendar year
given for a financial-year metric (or the other way round) is a *year mismatch*: the two
overlap by nine months, so neither can be taken for the other.

Values understood: plain numbers, ``1,234`` and ``1 234`` (thousands separators in groups of
three), ``92.5%``, ``£1,200``, an accountant's negative ``(1,234)``, a typographic minus ``−5``,
surrounding spaces; ``*`` is the NHS small-number suppression marker (kept as *suppressed*, no
value); blank, ``-``, ``..``, ``n/a``, ``null`` are *missing*. A true ``0`` stays a reported zero.
``NaN``, ``inf`` and numbers too large for a float are not finite numbers; a finite number beyond
``MAX_ABS_VALUE`` (``1e308``) is too large to be a real figure; anything else
(``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)``, ``92,5``) is not a number.
"""

from collectonce.ingest.normalise.periods import (
    AS_WRITTEN,
    CALENDAR_YEAR,
    GRAIN_CODE,
    GRAINS,
    PERIOD_BLANK,
    PERIOD_OK,
    PERIOD_TOO_COARSE,
    PERIOD_UNREADABLE,
    PERIOD_YEAR_KIND,
    Grain,
    PeriodParse,
    PeriodText,
    excel_serial_to_date,
    month_label,
    normalise_periods,
    normalise_periods_arrow,
    parse_period_text,
    period_start,
)
from collectonce.ingest.normalise.text import (
    TRIM_CHARS,
    cell_text,
    header_key,
    normalise_metric_ids,
    normalise_metric_ids_arrow,
    normalise_provider_codes,
    normalise_provider_codes_arrow,
    repeat_text,
    to_text_array,
    trim_text,
)
from collectonce.ingest.normalise.values import (
    MAX_ABS_VALUE,
    MISSING_TOKENS,
    NON_FINITE_TOKENS,
    STATUS_MISSING,
    STATUS_NAMES,
    STATUS_REPORTED,
    STATUS_SUPPRESSED,
    SUPPRESSION_MARKER,
    VALUE_NOT_FINITE,
    VALUE_NOT_NUMBER,
    VALUE_OK,
    VALUE_TOO_LARGE,
    ValueParse,
    parse_values,
    parse_values_arrow,
    status_array,
)

__all__ = [
    "AS_WRITTEN",
    "CALENDAR_YEAR",
    "GRAINS",
    "GRAIN_CODE",
    "MAX_ABS_VALUE",
    "MISSING_TOKENS",
    "NON_FINITE_TOKENS",
    "PERIOD_BLANK",
    "PERIOD_OK",
    "PERIOD_TOO_COARSE",
    "PERIOD_UNREADABLE",
    "PERIOD_YEAR_KIND",
    "STATUS_MISSING",
    "STATUS_NAMES",
    "STATUS_REPORTED",
    "STATUS_SUPPRESSED",
    "SUPPRESSION_MARKER",
    "TRIM_CHARS",
    "VALUE_NOT_FINITE",
    "VALUE_NOT_NUMBER",
    "VALUE_OK",
    "VALUE_TOO_LARGE",
    "Grain",
    "PeriodParse",
    "PeriodText",
    "ValueParse",
    "cell_text",
    "excel_serial_to_date",
    "header_key",
    "month_label",
    "normalise_metric_ids",
    "normalise_metric_ids_arrow",
    "normalise_periods",
    "normalise_periods_arrow",
    "normalise_provider_codes",
    "normalise_provider_codes_arrow",
    "parse_period_text",
    "parse_values",
    "parse_values_arrow",
    "period_start",
    "repeat_text",
    "status_array",
    "to_text_array",
    "trim_text",
]
