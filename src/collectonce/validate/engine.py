"""The old home of the validation run, kept so that existing imports work.

The run lives in `collectonce.validate.run`; its parts beside it: `rows` (how a run holds its
rows), `spill` (large runs on disk), `history` (what is already held), `checks` (one module per
rule family, with its messages), `wording` and `listing` (findings per file).
"""

from collectonce.validate.listing import MAX_FINDINGS_PER_RULE, ROW_RULES
from collectonce.validate.rows import (
    ROW_BITS,
    FileInput,
    FileResult,
    RowBatch,
    day_number,
    from_day_number,
    period_label,
)
from collectonce.validate.run import ValidationRun

__all__ = [
    "MAX_FINDINGS_PER_RULE",
    "ROW_BITS",
    "ROW_RULES",
    "FileInput",
    "FileResult",
    "RowBatch",
    "ValidationRun",
    "day_number",
    "from_day_number",
    "period_label",
]
