"""The Making Data Count wording, in one place: the pack, the overview, the charts and
`collectonce spc` all say the same thing about the same point.

A marker on a chart is named by its variation key: ``common_cause``, or a special cause's kind
and side (``improvement_high``, ``concern_low``, ``neutral_high``, ...), the keys of the
variation icons.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from collectonce.display import format_value as format_value
from collectonce.nhs_periods import label_of

if TYPE_CHECKING:
    from collectonce.catalog.models import Metric
    from collectonce.feedback.model import MetricUse


VARIATION_TEXT: dict[str, str] = {
    "common_cause": "no significant change; the variation is the process's normal noise",
    "improvement_high": "a significant change for the better, to higher values",
    "improvement_low": "a significant change for the better, to lower values",
    "concern_high": "a significant change for the worse, to higher values",
    "concern_low": "a significant change for the worse, to lower values",
    "neutral_high": "a significant change to higher values; neither direction is better",
    "neutral_low": "a significant change to lower values; neither direction is better",
}
VARIATION_SHORT: dict[str, str] = {
    "common_cause": "Common cause",
    "improvement_high": "Improvement (high)",
    "improvement_low": "Improvement (low)",
    "concern_high": "Concern (high)",
    "concern_low": "Concern (low)",
    "neutral_high": "Neutral (high)",
    "neutral_low": "Neutral (low)",
}
ASSURANCE_TEXT: dict[str, str] = {
    "consistent_pass": "The process will consistently meet the target",
    "consistent_fail": "The process will consistently miss the target unless it changes",
    "inconsistent": "The process will sometimes meet and sometimes miss the target",
}
ASSURANCE_SHORT: dict[str, str] = {
    "consistent_pass": "Consistently passing",
    "consistent_fail": "Consistently failing",
    "inconsistent": "Hit and miss",
}
POINT_TYPE_TEXT: dict[str, str] = {
    "common_cause": "Common cause",
    "special_cause_improvement": "Improvement",
    "special_cause_concern": "Concern",
    "special_cause_neutral_high": "Neutral (high)",
    "special_cause_neutral_low": "Neutral (low)",
}
RULE_TEXT: dict[str, str] = {
    "Above UCL": "above the upper limit",
    "Below LCL": "below the lower limit",
    "7 Point Trend (Increasing)": "7 or more points rising",
    "7 Point Trend (Decreasing)": "7 or more points falling",
    "2 in 3 Above CL": "2 of 3 points close to the upper limit",
    "2 in 3 Below CL": "2 of 3 points close to the lower limit",
    "7 Points Above CL": "7 or more points above the mean",
    "7 Points Below CL": "7 or more points below the mean",
}
DIRECTION_TEXT: dict[str, str] = {
    "increase": "Higher is better",
    "decrease": "Lower is better",
    "neutral": "Neither higher nor lower is better",
}
LATE_TEXT = (
    "Late means the value arrived after the deadline of the request that needs it first: the "
    "end of the request's period (month, NHS quarter or financial year) plus the days the "
    "request allows. A late value is still used; it is only flagged. History loaded for periods "
    "whose deadline passed before this collection began is not late."
)


def marker_key(kind: str, side: int) -> str:
    """The variation key of a chart marker: ``common_cause`` or ``<kind>_high|low``."""
    if kind == "common_cause":
        return "common_cause"
    return f"{kind}_{'high' if side >= 0 else 'low'}"


def marker_text(kind: str, side: int) -> str:
    """What a chart marker is called in legends and tables ("Improvement (high)")."""
    return VARIATION_SHORT[marker_key(kind, side)]


def rule_text(rule: str | None) -> str:
    """A special-cause rule in the pack's words; empty for common cause or none."""
    if not rule or rule == "Common Cause":
        return ""
    return RULE_TEXT.get(rule, rule)


#: Matrix rows: (key, label); a variation icon maps onto one of them.
VARIATION_ROWS: tuple[tuple[str, str], ...] = (
    ("improvement", "Special cause improvement"),
    ("common_cause", "Common cause"),
    ("concern", "Special cause concern"),
    ("neutral", "Special cause, neither improvement nor concern"),
    ("no_limits", "Too few points for limits"),
)
#: Matrix columns: (key, label).
ASSURANCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("consistent_pass", "Consistently passing"),
    ("inconsistent", "Hit and miss"),
    ("consistent_fail", "Consistently failing"),
    ("not_assessed", "Not assessed"),
)


def variation_row(icon: Any) -> str:
    text = str(icon) if isinstance(icon, str) else ""
    if text.startswith("improvement"):
        return "improvement"
    if text.startswith("concern"):
        return "concern"
    if text.startswith("neutral"):
        return "neutral"
    if text == "common_cause":
        return "common_cause"
    return "no_limits"


# How the pack writes targets, uses, ranks, dates and periods (the templates use these too).


def domain_label(domain: str) -> str:
    return (domain or "other").replace("_", " ").capitalize()


def target_text(metric: Metric) -> str:
    if metric.target is None:
        return ""
    sign = "≥" if metric.target.comparison == "gte" else "≤"
    return f"{sign} {format_value(metric.target.value, metric)}"


def use_text(use: MetricUse) -> str:
    items = ", ".join(use.items)
    via = f" (through {use.via})" if use.via else ""
    return f"{use.requester_name}: {use.request} item {items}{via}"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st ..."""
    n = int(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def format_when(value: Any) -> str:
    """A timestamp as a person reads it ("22 Nov 2026, 09:05 UTC"); other text unchanged."""
    if value is None or value == "":
        return ""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return str(value)
    if ts is pd.NaT:
        return str(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC")
    return f"{ts.day} {ts.strftime('%b %Y, %H:%M')} UTC"


def format_period(value: Any, grain: str = "month") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    ts = pd.Timestamp(value)
    if grain in ("quarter", "year"):
        return label_of(ts, grain)  # NHS quarters and financial years: 2018/19 Q1, 2018/19
    return ts.strftime("%b %Y")
