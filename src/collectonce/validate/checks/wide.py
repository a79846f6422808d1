"""Values against the catalogue and each other: the provider × period suite (valid ranges,
cross-metric rules), over the run's own values and then completed by values already held.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from collectonce.findings import fmt_number
from collectonce.validate.blocks import blocks, row_positions
from collectonce.validate.gx_runner import Failure, merge_failures, run_wide_suite
from collectonce.validate.history import History
from collectonce.validate.rows import DAY_OFFSET, DAY_SPAN, REPORTED, Checked, Context, Listed
from collectonce.validate.suites import bound_columns
from collectonce.validate.wording import Message, Spot, Wording, Writer

if TYPE_CHECKING:
    from collectonce.validate.run import ValidationRun


def own_failures(run: ValidationRun, ctx: Context, checked: Checked) -> list[Failure]:
    """The provider × period suite over this run's own values."""
    m_count = len(run.metric_codes)
    g_count = len(run._group_file)
    # The pivot, filled through each row's cell (group × metric, its flat position).
    wide = np.full((g_count, m_count), np.nan)
    flat, value, status = wide.ravel(), ctx.r.value, ctx.status
    for rows in blocks(len(value)):
        taken = checked.wide_cells[rows] & (status[rows] == REPORTED)
        flat[ctx.cells_of(rows)[taken]] = value[rows][taken]
    partners: set[int] = set()
    for code in run.metric_codes:
        for rule in run.catalog.metrics[code].rules:
            if rule.other in run.metric_pos:
                partners |= {run.metric_pos[code], run.metric_pos[rule.other]}
    checked.partners = sorted(partners)
    checked.own = wide
    ctx.wide = wide
    ctx.from_store = np.zeros((g_count, m_count), dtype=bool)
    # Each column its own contiguous array: a column of the C-ordered pivot is strided, and
    # GX copies every column of the frame once per cross-metric rule (to drop missing pairs),
    # which is several times slower from strided memory.
    columns: dict[str, np.ndarray] = {}
    for j in checked.partners:
        columns[run.metric_codes[j]] = np.ascontiguousarray(wide[:, j])
    # Ranges concern this run's values only, not values held.
    for name, (side, _bound, codes) in bound_columns(run.catalog).items():
        cols = [run.metric_pos[c] for c in codes]
        pick = np.fmin if side == "min" else np.fmax  # NaN-ignoring, column by column
        reduced = wide[:, cols[0]].copy()
        for j in cols[1:]:
            pick(reduced, wide[:, j], out=reduced)
        columns[name] = reduced
    # Its index is the group number; its columns stay the arrays above (not copied into one
    # block: Great Expectations reads them column by column).
    frame = pd.DataFrame(columns, copy=False)
    return run_wide_suite(run.catalog, frame, run.on_gx_result)


def held_failures(
    run: ValidationRun, ctx: Context, checked: Checked, hist: History, live: np.ndarray
) -> list[Failure]:
    """The failures of the provider × period suite once values already held complete a
    cross-metric rule where this run gives one side only (for the groups of `live`)."""
    failures = checked.wide_failures
    if not checked.partners or not len(hist.index):
        return failures
    m_count = len(run.metric_codes)
    g_count = len(run._group_file)
    filled = np.zeros((g_count, m_count), dtype=bool)
    for rows in blocks(len(checked.wide_cells)):
        filled.ravel()[ctx.cells_of(rows)[checked.wide_cells[rows]]] = True
    gp = np.asarray(run._group_provider, dtype=np.int64)
    gd = np.asarray(run._group_day, dtype=np.int64)
    wide = checked.own
    for j in checked.partners:
        empty = np.flatnonzero(~filled[:, j] & live)
        if not len(empty):
            continue
        facts = (gp[empty] * DAY_SPAN + (gd[empty] + DAY_OFFSET)) * m_count + j
        at = hist.index.get_indexer(pd.Index(facts))
        ok = at >= 0
        ok[ok] = hist.status[at[ok]] == REPORTED
        if not ok.any():
            continue
        if wide is checked.own:
            wide = checked.own.copy()
        wide[empty[ok], j] = hist.value[at[ok]]
        ctx.from_store[empty[ok], j] = True
    if wide is checked.own:
        return failures
    ctx.wide = wide
    touched = np.flatnonzero(ctx.from_store.any(axis=1))
    frame = pd.DataFrame(
        {run.metric_codes[j]: wide[touched, j] for j in checked.partners}, index=touched, copy=False
    )
    return merge_failures(
        run.catalog, failures, run_wide_suite(run.catalog, frame, run.on_gx_result)
    )


def listed(
    run: ValidationRun, ctx: Context, checked: Checked, failures: list[Failure]
) -> list[Listed]:
    """The rows each failure of the provider × period suite concerns."""
    m_count = len(run.metric_codes)
    own = checked.own
    bounds = bound_columns(run.catalog)
    out: list[Listed] = []
    for failure in failures:
        column = failure.column or ""
        if column in bounds:
            side, bound, codes = bounds[column]
            parts = []
            for code in codes:
                j = run.metric_pos[code]
                values = own[failure.groups, j]
                with np.errstate(invalid="ignore"):
                    bad = values < bound if side == "min" else values > bound
                parts.append(failure.groups[bad] * m_count + j)
            bad_cells = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        else:
            pair = (failure.metric, failure.other)
            cols = [run.metric_pos[c] for c in pair if c is not None and c in run.metric_pos]
            bad_cells = np.concatenate([failure.groups * m_count + j for j in cols])
        positions = row_positions(len(ctx.mpos), _in_cells(ctx, np.unique(bad_cells)))
        ctx.wide_failures.append(failure)
        out.append(Listed(failure.rule, failure.severity, positions))
    return out


def _in_cells(ctx: Context, cells: np.ndarray) -> Callable[[slice], np.ndarray]:
    """Per block of rows: whether each row's cell is one of `cells` (sorted)."""

    def test(rows: slice) -> np.ndarray:
        return np.isin(ctx.cells_of(rows), cells, assume_unique=False)

    return test


# ------------------------------------------------------------------ results


def _contains(sorted_values: np.ndarray, value: int) -> bool:
    at = int(np.searchsorted(sorted_values, value))
    return at < len(sorted_values) and int(sorted_values[at]) == value


def value_range(w: Wording, at: Spot) -> Message:
    metric = w.catalog.metrics[at.metric]
    lo, hi = metric.valid.min, metric.valid.max
    x = float(w.ctx.r.value[at.pos])
    if lo is not None and x < lo:
        side = f"below the minimum of {fmt_number(lo)}"
    elif hi is not None and x > hi:
        side = f"above the maximum of {fmt_number(hi)}"
    else:
        side = "outside the valid range"
    if lo is not None and hi is not None:
        span = f"{fmt_number(lo)} to {fmt_number(hi)}"
    elif lo is not None:
        span = f"{fmt_number(lo)} or more"
    else:
        span = f"at most {fmt_number(hi)}"
    unit = f" ({metric.unit})" if metric.unit else ""
    return (
        f"{w.label(at.metric)} for {at.provider} {at.period} is {at.value}, {side}{unit}. "
        f"Valid values are {span}. Check the figure (and its unit) and send the corrected value.",
        None,
    )


def cross_metric_rule(w: Wording, at: Spot) -> Message:
    ctx = w.ctx
    g = int(ctx.r.group[at.pos])
    mine = w.run.metric_pos.get(at.metric, -1)
    for failure in ctx.wide_failures:
        if failure.rule != "cross_metric_rule" or not _contains(failure.groups, g):
            continue
        a, b = str(failure.metric), str(failure.other)
        pa_, pb = w.run.metric_pos[a], w.run.metric_pos[b]
        if mine not in (pa_, pb):
            continue
        va, vb = ctx.wide[g, pa_], ctx.wide[g, pb]
        symbol = {"lte": "≤", "lt": "<", "gte": "≥", "gt": ">", "eq": "="}[str(failure.op)]
        held = ""
        if ctx.from_store[g, pb] or ctx.from_store[g, pa_]:
            held = " (one of them is the value already held from an earlier submission)"
        return (
            f"{w.label(a)} = {fmt_number(va)} must be {symbol} {w.label(b)} = "
            f"{fmt_number(vb)} for {at.provider} {at.period}{held}. One of the two figures is "
            "wrong: check both and send them corrected.",
            None,
        )
    return (f"{w.label(at.metric)} breaks a cross-metric rule for {at.provider} {at.period}.", None)


#: The message writer of each rule of this family.
WRITERS: dict[str, Writer] = {
    "value_range": value_range,
    "cross_metric_rule": cross_metric_rule,
}
