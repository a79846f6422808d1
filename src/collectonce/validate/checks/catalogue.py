"""Codes and periods: the canonical-rows suite (generated from the catalogue) on the distinct
values of each column. Known providers and metrics, value statuses, required columns and values,
periods that have begun.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from collectonce.findings import show_value
from collectonce.suggest import closest
from collectonce.validate.gx_runner import Failure, run_long_suite
from collectonce.validate.rows import Context, TextCodes, day_number
from collectonce.validate.wording import Message, Spot, Wording, Writer

if TYPE_CHECKING:
    from collectonce.validate.run import ValidationRun


def long_checks(run: ValidationRun, ctx: Context) -> list[tuple[str, np.ndarray, str]]:
    """Run the canonical-rows suite on distinct values; per-row masks of each rule."""
    providers = run._providers.texts
    metrics = run._metrics.texts
    statuses = run._statuses.texts
    days = np.unique(np.asarray(run._group_day, dtype=np.int64))
    longest = max(len(providers), len(metrics), len(statuses), len(days), 1)

    def pad(values: list[object]) -> list[object]:
        values = values or [None]
        return values + [values[0]] * (longest - len(values))

    distinct = pd.DataFrame(
        {
            "provider_code": pd.Series(pad(list(providers)), dtype=object),
            "period": pd.to_datetime(pd.Index(pad([int(d) for d in days])), unit="D"),
            "metric_id": pd.Series(pad(list(metrics)), dtype=object),
            "value_status": pd.Series(pad(list(statuses)), dtype=object),
        }
    )
    failures = run_long_suite(run.catalog, distinct, run.today, run.on_gx_result)
    masks: list[tuple[str, np.ndarray, str]] = []
    unknown_metric: set[str] = set()
    for failure in failures:
        if failure.rule == "known_metric":
            unknown_metric |= {str(v) for v in failure.values}
    for failure in failures:
        masks.append(mask_of(run, failure, ctx, unknown_metric))
    return masks


def mask_of(
    run: ValidationRun, failure: Failure, ctx: Context, unknown_metric: set[str]
) -> tuple[str, np.ndarray, str]:
    """The rows a failure of the canonical-rows suite concerns."""
    column = failure.column or ""
    n = len(ctx.r.row)
    if column == "provider_code":
        return failure.rule, _flagged(run._providers, failure.values)[ctx.provider], column
    if column == "metric_id":
        # A metric already reported as unknown is not reported as inactive too.
        skip = unknown_metric if failure.rule == "metric_active" else set()
        return failure.rule, _flagged(run._metrics, failure.values, skip)[ctx.r.metric], column
    if column == "value_status":
        return failure.rule, _flagged(run._statuses, failure.values)[ctx.r.status], column
    if column == "period":
        bad_days = np.array(
            [day_number(pd.Timestamp(v).date()) for v in failure.values], dtype=np.int64
        )
        return failure.rule, np.isin(ctx.day, bad_days), column
    # A table-level failure (a missing column) concerns every row.
    return failure.rule, np.ones(n, dtype=bool), column


def _flagged(
    codes: TextCodes, values: list[Any], skip: AbstractSet[str] = frozenset()
) -> np.ndarray:
    """Per text code: whether its text is one of `values` (and not in `skip`)."""
    bad = np.zeros(len(codes.texts) + 1, dtype=bool)
    for v in values:
        if str(v) not in skip:
            bad[codes.index[str(v)]] = True
    return bad


# One message writer per rule of this family (see `wording.Writer`).


def known_provider(w: Wording, at: Spot) -> Message:
    close = closest(at.provider.upper(), w.catalog.providers)
    hint = f" Did you mean {close}?" if close else ""
    return (
        f"Provider code '{show_value(at.provider)}' is not in the provider list.{hint} Use the "
        "trust's ODS code (for example RF4); if the code is right, ask the data team to add "
        "it to providers.csv.",
        "provider_code",
    )


def known_metric(w: Wording, at: Spot) -> Message:
    close = closest(at.metric, w.catalog.metrics, cutoff=0.7)
    hint = f" Did you mean '{close}'?" if close else ""
    return (
        f"'{show_value(at.metric)}' is not a metric in the catalogue.{hint} Use the metric codes "
        "of the template (collectonce catalog shows them), or remove the row.",
        None,
    )


def value_status(w: Wording, at: Spot) -> Message:
    return (
        "The value status must be reported, suppressed (*) or missing (blank). Write the "
        "number, * for a suppressed small number, or leave the cell empty.",
        None,
    )


def required_value(w: Wording, at: Spot) -> Message:
    return (
        "The provider code, period and metric must all be given. Fill in the blank cell.",
        None,
    )


def required_column(w: Wording, at: Spot) -> Message:
    return (
        "A required column is missing. Use the canonical template: provider_code, period, "
        "metric_id, value.",
        None,
    )


def future_period(w: Wording, at: Spot) -> Message:
    return (
        f"The period {at.period} has not started yet (today is {w.run.today:%Y-%m-%d}). "
        "Check the period column: data can only be sent for periods that have begun.",
        "period",
    )


#: The message writer of each rule of this family.
WRITERS: dict[str, Writer] = {
    "known_provider": known_provider,
    "known_metric": known_metric,
    "value_status": value_status,
    "required_value": required_value,
    "required_column": required_column,
    "future_period": future_period,
}
