"""The Making Data Count icons (variation and assurance) as standalone SVG, and the palette and
typeface the charts share with them.

Colours are those of NHSRplotthedots (``ptd_spc_colours``), with darker outlines so that
markers keep their contrast on white. Every icon carries a ``<title>`` and an ``aria-label``.
"""

from __future__ import annotations

import math
from html import escape

FONT = "system-ui, -apple-system, 'Segoe UI', Arial, sans-serif"

# fill, outline
MARKER_COLOURS: dict[str, tuple[str, str]] = {
    "common_cause": ("#a6a6a6", "#595959"),
    "improvement": ("#00b0f0", "#005a7a"),
    "concern": ("#e46c0a", "#7a3700"),
    "neutral": ("#490092", "#24004a"),
}
_VARIATION_ICONS: dict[str, tuple[str, str, str]] = {
    # icon: (colour kind, letter, title)
    "common_cause": ("common_cause", "", "Common cause variation"),
    "improvement_high": ("improvement", "H", "Special cause variation: improvement (high values)"),
    "improvement_low": ("improvement", "L", "Special cause variation: improvement (low values)"),
    "concern_high": ("concern", "H", "Special cause variation: concern (high values)"),
    "concern_low": ("concern", "L", "Special cause variation: concern (low values)"),
    "neutral_high": (
        "neutral",
        "H",
        "Special cause variation: neither improvement nor concern (high values)",
    ),
    "neutral_low": (
        "neutral",
        "L",
        "Special cause variation: neither improvement nor concern (low values)",
    ),
}
_ASSURANCE_ICONS: dict[str, tuple[str, str, str]] = {
    "consistent_pass": ("improvement", "P", "Assurance: will consistently pass the target"),
    "consistent_fail": ("concern", "F", "Assurance: will consistently fail the target"),
    "inconsistent": (
        "common_cause",
        "?",
        "Assurance: will inconsistently pass and fail the target",
    ),
}


def svg_number(x: float) -> str:
    """Coordinate with at most 2 decimals."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _icon(colour_kind: str, letter: str, title: str, size: int, cls: str) -> str:
    fill, outline = MARKER_COLOURS[colour_kind]
    n = svg_number
    r = size / 2
    ring = max(size / 12, 1.5)
    body = (
        f'<text x="{n(r)}" y="{n(r)}" dy="0.35em" text-anchor="middle" '
        f'font-family="{escape(FONT)}" font-size="{n(size * 0.5)}" font-weight="700" '
        f'fill="{outline}">{escape(letter)}</text>'
        if letter
        # common cause: a level, gently varying line
        else (
            f'<path d="M{n(size * 0.22)} {n(r)}q{n(size * 0.07)} {n(-size * 0.12)} '
            f"{n(size * 0.14)} 0t{n(size * 0.14)} 0t{n(size * 0.14)} 0t"
            f'{n(size * 0.14)} 0" fill="none" stroke="{outline}" '
            f'stroke-width="{n(ring)}" stroke-linecap="round"/>'
        )
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" role="img" aria-label="{escape(title)}" class="{cls}">'
        f"<title>{escape(title)}</title>"
        f'<circle cx="{n(r)}" cy="{n(r)}" r="{n(r - ring)}" fill="#ffffff" '
        f'stroke="{fill}" stroke-width="{n(ring * 1.5)}"/>{body}</svg>'
    )


def variation_icon_svg(icon: str, size: int = 40) -> str:
    """Making Data Count variation icon: a coloured ring, with H or L for special causes."""
    if icon not in _VARIATION_ICONS:
        raise ValueError(f"unknown variation icon {icon!r}")
    kind, letter, title = _VARIATION_ICONS[icon]
    return _icon(kind, letter, title, size, f"variation-icon {icon}")


def assurance_icon_svg(assurance: str | None, size: int = 40) -> str:
    """Making Data Count assurance icon (P, F or ?); an empty string when there is no target."""
    if assurance is None or (isinstance(assurance, float) and math.isnan(assurance)):
        return ""
    if assurance not in _ASSURANCE_ICONS:
        raise ValueError(f"unknown assurance {assurance!r}")
    kind, letter, title = _ASSURANCE_ICONS[assurance]
    return _icon(kind, letter, title, size, f"assurance-icon {assurance}")
