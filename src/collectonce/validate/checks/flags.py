"""Flags on accepted rows: a suppressed value, and a value far outside the provider's own
history (warnings: the row is kept, and the flag is seen).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from collectonce.findings import fmt_number
from collectonce.validate import rules
from collectonce.validate.history import Held, History
from collectonce.validate.rows import REPORTED, SUPPRESSED, Context, Listed
from collectonce.validate.wording import Message, Spot, Wording, Writer

if TYPE_CHECKING:
    from collectonce.validate.run import ValidationRun


def check(
    run: ValidationRun,
    ctx: Context,
    hist: History,
    candidate: np.ndarray,
    held: Held,
    rejected: np.ndarray,
    has_cell: np.ndarray,
) -> list[Listed]:
    """Warnings on accepted rows: suppressed values, outliers against the provider's history."""
    n, value, mpos, status = len(ctx.r.row), ctx.r.value, ctx.mpos, ctx.status
    warnings: list[Listed] = []
    suppressed = ~rejected & has_cell & (status == SUPPRESSED)
    warnings.append(Listed("suppressed_value", "warning", np.flatnonzero(suppressed)))
    stats = hist.stats
    if n and len(stats):
        judged = np.flatnonzero(candidate & ~held.unchanged & (status == REPORTED))
        flagged, median, low, high, periods = rules.outliers(
            value[judged],
            np.asarray(run._providers.texts, dtype=object)[ctx.provider[judged]],
            np.asarray(run.metric_codes, dtype=object)[mpos[judged]],
            ctx.day[judged],
            np.ones(len(judged), dtype=bool),
            stats,
            run.outlier_threshold,
        )
        ctx.outlier = {
            int(p): (md, lo, hi, int(k))
            for p, md, lo, hi, k in zip(
                judged[flagged],
                median[flagged],
                low[flagged],
                high[flagged],
                periods[flagged],
                strict=True,
            )
        }
        warnings.append(Listed("outlier_history", "warning", judged[flagged]))
    return warnings


def suppressed_value(w: Wording, at: Spot) -> Message:
    return (
        f"{w.label(at.metric)} for {at.provider} {at.period} is suppressed (*). It is kept as "
        "suppressed, not as zero, and requesters will see it as suppressed. No action is "
        "needed if the number is small enough to be suppressed.",
        None,
    )


def outlier_history(w: Wording, at: Spot) -> Message:
    median, low, high, periods = w.ctx.outlier.get(at.pos, (np.nan, np.nan, np.nan, 0))
    return (
        f"{w.label(at.metric)} for {at.provider} {at.period} is {at.value}, far outside "
        f"{at.provider}'s own history (usually {fmt_number(low, 4)} to {fmt_number(high, 4)}, "
        f"median {fmt_number(median, 4)}, over the last {periods} periods held before "
        f"{at.period}). It has been accepted; check it, and send a correction if it is a typing "
        "or unit error.",
        None,
    )


#: The message writer of each rule of this family.
WRITERS: dict[str, Writer] = {
    "suppressed_value": suppressed_value,
    "outlier_history": outlier_history,
}
