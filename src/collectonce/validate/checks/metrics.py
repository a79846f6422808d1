"""A metric's life and type: rows for a metric that is retired, derived or a draft, or for a period
before its current definition; counts that are not whole numbers.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from collectonce.validate import rules
from collectonce.validate.blocks import row_positions
from collectonce.validate.rows import Checked, Context, Listed, day_number, from_day_number
from collectonce.validate.wording import Message, Spot, Wording, Writer

if TYPE_CHECKING:
    from collectonce.validate.run import ValidationRun


def check(run: ValidationRun, ctx: Context, checked: Checked) -> None:
    """Whole numbers and metric dates (errors and warnings added to `checked`)."""
    has_cell, mpos, value = checked.has_cell, ctx.mpos, ctx.r.value
    group, group_day = ctx.r.group, ctx.groups.day
    n = len(mpos)
    errors, warnings = checked.errors, checked.warnings
    is_integer = np.array(
        [run.catalog.metrics[c].value_type == "integer" for c in run.metric_codes]
    )

    def fraction(rows: slice) -> np.ndarray:
        return has_cell[rows] & rules.not_whole(value[rows], is_integer[np.maximum(mpos[rows], 0)])

    errors.append(Listed("type_integer", "error", row_positions(n, fraction)))
    start = np.array(
        [day_number(run.catalog.metrics[c].status.collected_from) for c in run.metric_codes]
    )
    end = np.array(
        [
            day_number(run.catalog.metrics[c].status.effective_to or dt.date.max)
            if run.catalog.metrics[c].status.effective_to
            else np.iinfo(np.int64).max
            for c in run.metric_codes
        ],
        dtype=np.int64,
    )
    # A metric date can only be crossed when a group's period lies beyond some metric's.
    days = group_day[: len(run._group_file)]
    first, last = (int(days.min()), int(days.max())) if len(days) else (0, -1)

    def after_end(rows: slice) -> np.ndarray:
        return has_cell[rows] & (group_day[group[rows]] > end[np.maximum(mpos[rows], 0)])

    def before_start(rows: slice) -> np.ndarray:
        return has_cell[rows] & (group_day[group[rows]] < start[np.maximum(mpos[rows], 0)])

    none = np.zeros(0, dtype=np.intp)
    retired = row_positions(n, after_end) if n and last > int(end.min(initial=last)) else none
    errors.append(Listed("metric_active", "error", retired, "period"))
    early = row_positions(n, before_start) if n and first < int(start.max(initial=first)) else none
    warnings.append(Listed("metric_effective_period", "warning", early))


def metric_active(w: Wording, at: Spot) -> Message:
    metric = w.catalog.metrics.get(at.metric)
    if metric is None:
        return f"'{at.metric}' is not collected. Remove the row.", None
    if metric.is_derived:
        return (
            f"{w.label(at.metric)} is calculated from other figures and is not submitted. "
            "Remove the row; the figure is worked out from its parts.",
            None,
        )
    status = metric.status
    if status.state == "draft":
        return (
            f"{w.label(at.metric)} is a draft metric, not collected yet"
            f" (planned from {status.effective_from:%Y-%m-%d}). Remove the row.",
            None,
        )
    if status.effective_to and from_day_number(int(w.ctx.day[at.pos])) > status.effective_to:
        return (
            f"{w.label(at.metric)} stopped being collected after "
            f"{status.effective_to:%Y-%m-%d}, but this row is for {at.period}. Remove the row "
            "or check the period.",
            "period",
        )
    return (
        f"{w.label(at.metric)} is {status.state} and no longer collected. Remove the row.",
        None,
    )


def type_integer(w: Wording, at: Spot) -> Message:
    return (
        f"{w.label(at.metric)} is a count, so it must be a whole number, but {at.provider} "
        f"{at.period} gives {at.value}. Send the whole number (no decimals).",
        None,
    )


def metric_effective_period(w: Wording, at: Spot) -> Message:
    metric = w.catalog.metrics[at.metric]
    return (
        f"{w.label(at.metric)} is defined from {metric.status.collected_from:%Y-%m-%d} "
        f"(version {metric.status.version}); the value for {at.period} is kept, but it comes "
        "from before the metric was collected. No action is needed if it is right.",
        "period",
    )


#: The message writer of each rule of this family.
WRITERS: dict[str, Writer] = {
    "metric_active": metric_active,
    "type_integer": type_integer,
    "metric_effective_period": metric_effective_period,
}
