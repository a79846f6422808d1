"""A pack as one static, self-contained HTML page in the NHS.UK design system: the styles
inlined, the charts as SVG, no scripts and no network. The regional and England packs and the
overview are drawn with the same templates and filters.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from collectonce.feedback.model import MetricPanel, Pack
from collectonce.feedback.wording import (
    ASSURANCE_SHORT,
    ASSURANCE_TEXT,
    DIRECTION_TEXT,
    LATE_TEXT,
    POINT_TYPE_TEXT,
    RULE_TEXT,
    VARIATION_SHORT,
    VARIATION_TEXT,
    domain_label,
    format_period,
    format_value,
    format_when,
    ordinal,
    target_text,
    use_text,
)
from collectonce.web import strict_environment

RECENT_POINTS = 12

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: The shared base page of every HTML output (see `collectonce.web`).
WEB_TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """The vendored NHS.UK frontend CSS plus the pack's own few rules, for inlining."""
    css = (TEMPLATES / "nhsuk-frontend.min.css").read_text(encoding="utf-8")
    extra = (TEMPLATES / "pack.css").read_text(encoding="utf-8")
    return css + "\n" + extra


@lru_cache(maxsize=1)
def _environment() -> Any:
    env = strict_environment(TEMPLATES)
    env.filters["value"] = format_value
    env.filters["period"] = format_period
    env.filters["domain"] = domain_label
    env.filters["when"] = format_when
    env.globals.update(
        VARIATION_TEXT=VARIATION_TEXT,
        VARIATION_SHORT=VARIATION_SHORT,
        ASSURANCE_TEXT=ASSURANCE_TEXT,
        ASSURANCE_SHORT=ASSURANCE_SHORT,
        POINT_TYPE_TEXT=POINT_TYPE_TEXT,
        RULE_TEXT=RULE_TEXT,
        DIRECTION_TEXT=DIRECTION_TEXT,
        LATE_TEXT=LATE_TEXT,
        target_text=target_text,
        use_text=use_text,
        variation_icon=_variation_icon,
        assurance_icon=_assurance_icon,
        tag_class=tag_class,
        ordinal=ordinal,
        isnan=lambda v: v is None or (isinstance(v, float) and math.isnan(v)),
    )
    return env


def render_template(name: str, **context: Any) -> str:
    return str(_environment().get_template(name).render(css=stylesheet(), **context))


@lru_cache(maxsize=32)
def _variation_icon(icon: str | None) -> str:
    from markupsafe import Markup

    from collectonce.feedback.icons import variation_icon_svg

    if not icon:
        return Markup("")
    return Markup(variation_icon_svg(icon))


@lru_cache(maxsize=32)
def _assurance_icon(assurance: str | None) -> str:
    from markupsafe import Markup

    from collectonce.feedback.icons import assurance_icon_svg

    if not assurance:
        return Markup("")
    return Markup(assurance_icon_svg(assurance))


def tag_class(kind: str | None) -> str:
    """The NHS.UK tag colour that Making Data Count uses for an icon or point type."""
    k = kind if isinstance(kind, str) else ""
    if "improvement" in k or k == "consistent_pass":
        return "nhsuk-tag--blue"
    if "concern" in k or k == "consistent_fail":
        return "nhsuk-tag--orange"
    if "neutral" in k:
        return "nhsuk-tag--purple"
    return "nhsuk-tag--grey"


def chart_markup(panel: MetricPanel) -> str:
    from markupsafe import Markup

    from collectonce.feedback.chart import xmr_chart_svg

    if not panel.has_limits:
        return Markup("")
    unit = "%" if panel.metric.unit == "percent" else ""
    # the card's notes explain gaps and missing limits, so the chart does not repeat them
    svg = xmr_chart_svg(panel.points, panel.metric.label, unit=unit, date_col="period", notes=False)
    return Markup(svg)


def render_pack_html(pack: Pack) -> str:
    """A static, self-contained HTML page (NHS.UK styles inlined; no scripts, no network)."""
    from collectonce.feedback.wording import ASSURANCE_COLUMNS

    charts = {p.code: chart_markup(p) for p in pack.panels}
    return render_template(
        "pack.html.j2",
        pack=pack,
        charts=charts,
        recent=RECENT_POINTS,
        grid_columns=ASSURANCE_COLUMNS,
    )
