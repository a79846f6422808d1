"""Suggestions offered beside a catalogue problem: a code spelt as a code, the closest known
code."""

from __future__ import annotations

import re


def suggest_code(value: object) -> str:
    """A snake_case spelling of a bad code: `AE-Attendances Type1` → `ae_attendances_type1`."""
    code = re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_")
    if code and not code[0].isalpha():
        code = f"m_{code}"
    return code or "a_code_like_this"


def closest(code: str, known: list[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(code, known, n=1, cutoff=0.75)
    return matches[0] if matches else None
