"""A code spelt as a code, offered beside a catalogue problem (the closest known code comes
from `collectonce.suggest`)."""

from __future__ import annotations

import re


def suggest_code(value: object) -> str:
    """A snake_case spelling of a bad code: `AE-Attendances Type1` → `ae_attendances_type1`."""
    code = re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_")
    if code and not code[0].isalpha():
        code = f"m_{code}"
    return code or "a_code_like_this"
