"""Repeated keys: one provider, period and metric given twice in a file (the same value, or two
different ones), or a value that differs from the one another return already gave.
"""

from __future__ import annotations

import numpy as np

from collectonce.findings import fmt_number
from collectonce.validate import rules
from collectonce.validate.blocks import blocks
from collectonce.validate.rows import Checked, Context, Listed
from collectonce.validate.wording import Message, Spot, Wording, Writer


def check(ctx: Context, checked: Checked, groups: int, m_count: int) -> None:
    """Repeated keys within a file (errors and warnings added to `checked`)."""
    mpos, value, status = ctx.mpos, ctx.r.value, ctx.status
    errors, warnings = checked.errors, checked.warnings
    has_cell = mpos >= 0
    cells = groups * max(m_count, 1)
    if _repeats(ctx, has_cell, cells):
        clashes = rules.key_clashes(ctx.cell, value, status, cells=cells)
    else:
        clashes = rules.no_clashes(len(mpos))
    errors.append(Listed("conflicting_key", "error", np.flatnonzero(clashes.conflict)))
    ctx.clashes = clashes
    for p in np.flatnonzero(clashes.conflict):
        ctx.clash_rows.setdefault(clashes.first_of(int(p)), []).append(int(p))
    warnings.append(Listed("duplicate_key", "warning", np.flatnonzero(clashes.duplicate)))
    checked.has_cell = has_cell


def _repeats(ctx: Context, has_cell: np.ndarray, cells: int) -> bool:
    """Whether any cell holds two rows or more (when unsure, say so: `key_clashes` then
    finds them). The cells seen are marked block by block, one byte per cell."""
    n = len(has_cell)
    if cells > 8 * n + 1024:
        return True
    seen = np.zeros(cells, dtype=bool)
    for rows in blocks(n):
        cell = ctx.cells_of(rows)
        seen[cell[cell >= 0]] = True
    return int(np.count_nonzero(seen)) < int(np.count_nonzero(has_cell))


def conflicting_key(w: Wording, at: Spot) -> Message:
    ctx = w.ctx
    held = ctx.held
    if held is not None and at.pos in held.prev_template and held.disagree[at.pos]:
        old = fmt_number(held.prev_value.get(at.pos))
        return (
            f"{w.label(at.metric)} for {at.provider} {at.period} is {at.value} here, but {old} was "
            f"received earlier through {held.prev_template[at.pos]} "
            f"(submission {held.prev_submission[at.pos]}). The new value is kept as a revision; "
            "if the earlier figure was right, send it again.",
            None,
        )
    first = ctx.clashes.first_of(at.pos) if ctx.clashes is not None else at.pos
    others = [o for o in ctx.clash_rows.get(first, []) if o != at.pos][:5]
    rows_text = ", ".join(str(int(ctx.r.row[o])) for o in others) or "?"
    return (
        f"{w.label(at.metric)} for {at.provider} {at.period} is given more than once with "
        f"different values (this row: {at.value}; see also row {rows_text}). Keep one row with the "
        "right value and delete the others.",
        None,
    )


def duplicate_key(w: Wording, at: Spot) -> Message:
    clashes = w.ctx.clashes
    first = int(w.ctx.r.row[clashes.first_of(at.pos) if clashes is not None else at.pos])
    return (
        f"{w.label(at.metric)} for {at.provider} {at.period} repeats row {first} with the same "
        "value; it is counted once. Delete the repeated row next time.",
        None,
    )


#: The message writer of each rule of this family.
WRITERS: dict[str, Writer] = {
    "conflicting_key": conflicting_key,
    "duplicate_key": duplicate_key,
}
