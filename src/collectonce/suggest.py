""" "Did you mean …?": the known codes closest to one that is not known, for every message that
offers one (catalogue checks, validation findings, flow parameters).

Similarity is rapidfuzz's `fuzz.ratio` (the share of characters two codes have in common, in
order), from 0 to 1 as `cutoff` takes it.
"""

from __future__ import annotations

from collections.abc import Iterable


def _shared_start(a: str, b: str) -> int:
    pairs = zip(a, b, strict=False)
    return next((i for i, (x, y) in enumerate(pairs) if x != y), min(len(a), len(b)))


def close_matches(
    word: str,
    choices: Iterable[str],
    *,
    limit: int = 1,
    cutoff: float = 0.6,
    prefer_shared_start: bool = False,
) -> list[str]:
    """Up to `limit` of `choices` at least `cutoff` alike to `word`, the closest first (of
    equally close ones, those sharing a longer start with `word`).

    With `prefer_shared_start` those sharing the longest start with `word` come first (ODS
    codes share their organisation's prefix: RF4 before FR4 for RF5)."""
    from rapidfuzz import fuzz, process

    found = process.extract(
        word, list(choices), scorer=fuzz.ratio, limit=None, score_cutoff=cutoff * 100
    )
    if prefer_shared_start:
        found.sort(key=lambda match: (-_shared_start(word, match[0]), -match[1]))
    else:  # equally alike: the one sharing the longer start (RRK, not RR1, for RRK1)
        found.sort(key=lambda match: (-match[1], -_shared_start(word, match[0])))
    return [choice for choice, _, _ in found[:limit]]


def closest(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The one choice closest to `word`, or None when none is at least `cutoff` alike."""
    found = close_matches(word, choices, cutoff=cutoff)
    return found[0] if found else None
