"""Who may submit what: a provider submitting as itself may send only its own rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from collectonce.validate.rows import Checked, Context, Listed
from collectonce.validate.wording import Message, Spot, Wording, Writer

if TYPE_CHECKING:
    from collectonce.validate.run import ValidationRun


def check(run: ValidationRun, ctx: Context, checked: Checked) -> None:
    """Rows of a file sent as one provider that are for another (errors added to `checked`)."""
    scope = np.full(max(len(run.files), 1), -1, dtype=np.int32)
    for f in run.files:
        if f.as_provider:
            scope[f.index] = run._providers.code(f.as_provider)
    if len(ctx.r.row) and (scope >= 0).any():
        row_scope = scope[ctx.file_of]
        mask = (row_scope >= 0) & (ctx.provider != row_scope)
        checked.errors.append(Listed("provider_scope", "error", np.flatnonzero(mask), None))


def provider_scope(w: Wording, at: Spot) -> Message:
    me = w.run.files[int(w.ctx.file_of[at.pos])].as_provider
    return (
        f"You are submitting as {me}, but this row is for {at.provider}. A provider may submit "
        f"only its own rows: remove the row, or ask {at.provider} (or the data team) to send it.",
        "provider_code",
    )


#: The message writer of each rule of this family.
WRITERS: dict[str, Writer] = {
    "provider_scope": provider_scope,
}
