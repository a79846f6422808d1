"""Text normalisation shared by the facet reader and the text similarity."""

from __future__ import annotations

import re
import unicodedata

from collectonce.dedupe.rules import Rules

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\xa0": " "})
_DIGIT_LETTER = re.compile(r"(\d)([a-z])")
_LETTER_DIGIT = re.compile(r"([a-z])(\d)")
_PUNCT = re.compile(r"[^\w%<>+=()\s]")
_SPACED = re.compile(r"\s*([%<>+=()])\s*")
_DOUBLE_OP = re.compile(r"([<>])\s+=")
_SPACES = re.compile(r"\s+")


def normalise(text: str, rules: Rules) -> str:
    """Lower-case text with the rules' rewrites, number words as digits and symbols spaced out.

    "% >52wks" → "% > 52 wks"; "Type I A&E 4hr" → "type 1 ae 4 hr".
    """
    t = unicodedata.normalize("NFKC", str(text or "")).translate(_QUOTES).lower()
    t = f" {t} "
    for pattern, replacement in rules.rewrites:
        t = pattern.sub(replacement, t)
    pattern, mapping = rules.number_words
    t = pattern.sub(lambda m: mapping[m.group(1)], t)
    t = _DIGIT_LETTER.sub(r"\1 \2", t)
    t = _LETTER_DIGIT.sub(r"\1 \2", t)
    t = t.replace("&", " and ")
    t = _PUNCT.sub(" ", t)
    t = _SPACED.sub(r" \1 ", t)
    t = _DOUBLE_OP.sub(r"\1=", t)
    return _SPACES.sub(" ", t).strip()
