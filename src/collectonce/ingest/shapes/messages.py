"""The wording of what converting a file finds: each message says what is wrong and how to
fix it.
"""

from __future__ import annotations

from collections.abc import Sequence

from collectonce.ingest.formats import make_finding
from collectonce.ingest.normalise.periods import (
    CALENDAR_YEAR,
    PERIOD_BLANK,
    PERIOD_TOO_COARSE,
    PERIOD_YEAR_KIND,
)
from collectonce.ingest.normalise.values import (
    MAX_ABS_VALUE,
    VALUE_NOT_FINITE,
    VALUE_NOT_NUMBER,
    VALUE_TOO_LARGE,
)
from collectonce.ingest.shapes.targets import Resolver, Target
from collectonce.validate.findings import Finding


def unrecognised_message(
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


def unknown_column(file: str, column: str, why: str) -> Finding:
    """A warning for a column that is not read: `why` says what it is not part of, and the fix."""
    return make_finding(
        file, "unknown_column", f"The column {column!r} {why}", severity="warning", column=column
    )


def not_collected_message(what: str, verb: str, metric: str) -> str:
    """Figures (`what`, which `verb` to `metric`) that this catalogue does not collect."""
    return (
        f"{what} {verb} to {metric}, which this catalogue does not collect; those figures were "
        "ignored. Nothing to fix."
    )


def item_not_stored(file: str, message: str, column: str, metric: str) -> Finding:
    """A warning that the figures of `column` were not stored as `metric`: `message` says why."""
    return make_finding(
        file, "item_not_stored", message, severity="warning", column=column, metric=metric
    )


def not_stored_finding(
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


def short(text: str, limit: int = 60) -> str:
    text = text.replace("\r", " ").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def not_number_message(raw: str) -> str:
    text = raw.strip()
    shown = short(text)
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


def year_kind_message(target: Target, raw: str | None) -> str:
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


def grain_message(target: Target, raw: str | None, given: int, resolver: Resolver) -> str:
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


def period_message(
    code: int, target: Target, raw: str | None, given: int, resolver: Resolver
) -> tuple[str, str]:
    """The rule and message for a period problem (a ``PERIOD_*`` code)."""
    if code == PERIOD_BLANK:
        return (
            "required_value",
            "The period is blank. Enter the month as YYYY-MM (for example 2019-01).",
        )
    if code == PERIOD_TOO_COARSE:
        return "period_grain", grain_message(target, raw, given, resolver)
    if code == PERIOD_YEAR_KIND:
        return "period_grain", year_kind_message(target, raw)
    return "type_period", (
        f"{raw!r} is not a period we can read. Write the month as YYYY-MM (for "
        "example 2019-01), a date as dd/mm/yyyy (day first) or a quarter as "
        "2019-Q1."
    )


def value_message(problem: int, raw: str, target: Target, resolver: Resolver) -> str:
    """The message for a value problem (a ``VALUE_*`` code; any other: a % sign on a figure
    that is not a percentage)."""
    if problem == VALUE_NOT_FINITE:
        return (
            f"{short(raw)!r} is not a finite number. Enter the actual figure, or leave "
            "the cell blank if it is not available."
        )
    if problem == VALUE_TOO_LARGE:
        return (
            f"{short(raw)!r} is far too large to be a real figure (over "
            f"{MAX_ABS_VALUE:,.0f}). Check the cell for a typing or unit error and enter "
            "the actual figure."
        )
    if problem == VALUE_NOT_NUMBER:
        return not_number_message(raw)
    metric = resolver.catalog.metrics[target.metric or ""]
    return (
        f"{short(raw)!r} has a % sign, but {metric.code} is measured in "
        f"{metric.unit.replace('_', ' ')}, not percent. Enter the figure without "
        "%, or check that it is in the right column."
    )
