"""Standalone SVG XmR charts (the Making Data Count icons are in `collectonce.feedback.icons`).

Pure string building: no JavaScript and no plotting library. Every chart reads without
colour: each kind of point has its own marker shape, every marker has a ``<title>`` (shown
as a tooltip and read by screen readers), the legend names the shapes, and the chart's
``<desc>`` summarises what it shows.

Colours are those of NHSRplotthedots (``ptd_spc_colours``), shared with the icons.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd

from collectonce.feedback.icons import FONT, MARKER_COLOURS
from collectonce.feedback.icons import assurance_icon_svg as assurance_icon_svg
from collectonce.feedback.icons import svg_number as _num
from collectonce.feedback.icons import variation_icon_svg as variation_icon_svg
from collectonce.feedback.spc.inputs import SPECIAL_CAUSE_TYPES
from collectonce.feedback.wording import VARIATION_SHORT, marker_key, marker_text, rule_text

FONT_SIZE = 11
#: A generous average glyph width of FONT, in ems, for estimating how wide a label is.
CHAR_WIDTH_EM = 0.62
#: The least empty space between two x-axis labels, in pixels.
LABEL_GAP = 8.0
#: Height of one note line under the chart's title, in pixels.
NOTE_LINE = 14
#: Steps between labelled points, in points (months: 1, 2, a quarter, 4, a half-year, a year);
#: longer series step by whole multiples of 12.
_LABEL_STEPS = (1, 2, 3, 4, 6, 12)

MEAN_COLOUR = "#1a1a1a"
LIMIT_COLOUR = "#595959"
TARGET_COLOUR = "#de1b1b"
LINE_COLOUR = "#a6a6a6"

_KIND_OF_POINT_TYPE = {
    "common_cause": "common_cause",
    "special_cause_improvement": "improvement",
    "special_cause_concern": "concern",
    "special_cause_neutral_high": "neutral",
    "special_cause_neutral_low": "neutral",
}


def format_value(value: float) -> str:
    """A short human-readable number: 2.07M, 12,345, 98.5, 0.123."""
    if value is None or not math.isfinite(value):
        return "missing"
    a = abs(value)
    if a >= 1e6:
        return f"{value / 1e6:.3g}M"
    if a >= 1e4 or float(value).is_integer():
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:,.1f}"
    return f"{value:.3g}"


def _nice_step(span: float, count: int = 4) -> float:
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * magnitude >= raw:
            return m * magnitude
    return 10 * magnitude  # pragma: no cover


def _marker(kind: str, side: int, x: float, y: float, title: str) -> str:
    """One marker; its shape carries the kind so the chart reads without colour."""
    fill, outline = MARKER_COLOURS[kind]
    label = f"<title>{escape(title)}</title>"
    common = f'fill="{fill}" stroke="{outline}" stroke-width="1.2" class="point {kind}"'
    if kind == "common_cause":
        return f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3.5" {common}>{label}</circle>'
    if kind == "improvement":  # triangle pointing the way the signal goes
        s = 6.0
        tip, base = (y - s, y + s * 0.75) if side >= 0 else (y + s, y - s * 0.75)
        d = f"M{_num(x)} {_num(tip)}L{_num(x + s)} {_num(base)}L{_num(x - s)} {_num(base)}Z"
        shape = "triangle-up" if side >= 0 else "triangle-down"
    elif kind == "concern":  # square
        s = 4.8
        d = f"M{_num(x - s)} {_num(y - s)}H{_num(x + s)}V{_num(y + s)}H{_num(x - s)}Z"
        shape = "square"
    else:  # neutral: diamond
        s = 6.0
        d = (
            f"M{_num(x)} {_num(y - s)}L{_num(x + s)} {_num(y)}"
            f"L{_num(x)} {_num(y + s)}L{_num(x - s)} {_num(y)}Z"
        )
        shape = "diamond"
    return f'<path d="{d}" {common} data-shape="{shape}">{label}</path>'


@dataclass
class _Frame:
    dates: pd.DatetimeIndex
    y: np.ndarray
    kinds: list[str | None]
    sides: list[int]
    labels: list[str]
    groups: np.ndarray
    mean: np.ndarray
    lpl: np.ndarray
    upl: np.ndarray
    target: np.ndarray
    short: bool


def _column(points: pd.DataFrame, name: str, n: int, order: np.ndarray | None) -> np.ndarray:
    if name not in points.columns:
        return np.full(n, np.nan)
    values = points[name].to_numpy(dtype=np.float64, na_value=np.nan)
    return values if order is None else values[order]


def _texts(points: pd.DataFrame, name: str, n: int, order: np.ndarray | None) -> list[object]:
    if name not in points.columns:
        return [None] * n
    values = points[name].to_numpy(dtype=object)
    return (values if order is None else values[order]).tolist()


_SIDE_OF_LABEL = {
    label: 1 if ("Above" in label or "Increasing" in label) else -1
    for label in SPECIAL_CAUSE_TYPES
    if label != "Common Cause"
}


def marker_of(point_type: str | None, rule: str | None) -> tuple[str | None, int]:
    """The marker of a point: its kind (None when it has no value) and its side (1 high,
    -1 low, 0 unknown), from its point type and special-cause rule."""
    kind = _KIND_OF_POINT_TYPE.get(point_type) if isinstance(point_type, str) else None
    side = _SIDE_OF_LABEL.get(rule, 0) if isinstance(rule, str) else 0
    if point_type == "special_cause_neutral_low" and side == 0:
        side = -1
    return kind, side


def _frame(points: pd.DataFrame, date_col: str, value_col: str) -> _Frame:
    dates = pd.DatetimeIndex(pd.to_datetime(points[date_col]))
    n = len(dates)
    order = None if dates.is_monotonic_increasing else np.argsort(dates.asi8, kind="stable")
    if order is not None:
        dates = dates[order]
    point_type = _texts(points, "point_type", n, order)
    sct = _texts(points, "special_cause_type", n, order)
    labels = [t if isinstance(t, str) else "" for t in sct]
    markers = [
        marker_of(t if isinstance(t, str) else None, rule)
        for t, rule in zip(point_type, labels, strict=True)
    ]
    kinds = [kind for kind, _ in markers]
    sides = [side for _, side in markers]
    if "rebase_group" in points.columns:
        groups = points["rebase_group"].to_numpy()
        groups = groups if order is None else groups[order]
    else:
        groups = np.zeros(n, dtype=np.int64)
    short = bool(points["short_group_warning"].any()) if "short_group_warning" in points else False
    return _Frame(
        dates=dates,
        y=_column(points, value_col, n, order),
        kinds=kinds,
        sides=sides,
        labels=labels,
        groups=groups,
        mean=_column(points, "mean", n, order),
        lpl=_column(points, "lpl", n, order),
        upl=_column(points, "upl", n, order),
        target=_column(points, "target", n, order),
        short=short,
    )


def _segments(values: Sequence[object]) -> list[tuple[int, int]]:
    """(start, stop) index pairs of runs of equal consecutive values."""
    out: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            out.append((start, i))
            start = i
    return out


def _date_format(dates: pd.DatetimeIndex) -> str:
    return "%b %Y" if bool((dates.day == 1).all()) else "%d %b %Y"


def _month_number(d: pd.Timestamp) -> int:
    return d.year * 12 + d.month - 1


def chart_notes(
    points: pd.DataFrame, *, date_col: str = "date", value_col: str = "value"
) -> list[str]:
    """Plain-English notes on what a chart of `compute_spc` output cannot show by itself.

    Groups without limits (too few values, or no variation at all), zero-width limits,
    missing or suppressed values, and months with no row in a monthly series. Trial limits
    are marked separately.
    """
    f = _frame(points, date_col, value_col)
    notes: list[str] = []
    n = len(f.y)
    if n == 0:
        return notes
    has = np.isfinite(f.y)
    fmt = _date_format(f.dates)
    for a, b in _segments(f.groups.tolist()):
        lo, hi = f.lpl[a], f.upl[a]
        when = f" from {f.dates[a].strftime(fmt)}" if a > 0 else ""
        if not (math.isfinite(lo) and math.isfinite(hi)):
            pairs = bool((has[a + 1 : b] & has[a : b - 1]).any())
            if pairs:
                notes.append(
                    f"No limits{when}: every value equals the one before it, so there is no "
                    "variation to set limits from."
                )
            else:
                notes.append(f"No limits{when}: too few consecutive values to set limits from.")
        elif hi - lo == 0:
            notes.append(
                f"Zero-width limits{when}: the moving ranges left after screening are all zero."
            )
    gaps = int((~has).sum())
    if gaps:
        notes.append(
            f"{gaps} value{'s are' if gaps != 1 else ' is'} missing or suppressed: shown as "
            f"{'gaps' if gaps != 1 else 'a gap'}, left out of the limits and breaking runs."
        )
    if n > 1 and bool((f.dates.day == 1).all()):
        months = np.array([_month_number(d) for d in f.dates])
        step = np.diff(months)
        positive = step[step > 0]
        unit = int(positive.min()) if len(positive) else 1
        missing = [
            pd.Timestamp(year=m // 12, month=m % 12 + 1, day=1)
            for a, gap in zip(months[:-1].tolist(), step.tolist(), strict=True)
            if gap > unit
            for m in range(a + unit, a + gap, unit)
        ]
        if missing:
            listed = ", ".join(d.strftime("%b %Y") for d in missing[:4])
            more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
            notes.append(
                f"No data for {listed}{more}: the points either side are treated as "
                "consecutive, as NHSRplotthedots does."
            )
    return notes


def text_width(text: str, font_size: float = FONT_SIZE) -> float:
    """Estimated width of `text` in pixels (no font metrics are available to a string builder)."""
    return len(text) * font_size * CHAR_WIDTH_EM


def _anchor(i: int, n: int) -> str:
    """The first label starts at its point and the last ends at it, so both stay in the chart."""
    if n == 1:
        return "middle"
    return "start" if i == 0 else "end" if i == n - 1 else "middle"


def _x_label_indices(xs: Sequence[float], widths: Sequence[float]) -> list[int]:
    """Which points get an x-axis label: the first, the last and every k-th point between, with
    the smallest step k that leaves at least LABEL_GAP between any two labels' estimated extents.

    A chart too narrow for even the first and the last label side by side labels the last only.
    """
    n = len(xs)
    if n <= 1:
        return list(range(n))

    def extent(i: int) -> tuple[float, float]:
        anchor = _anchor(i, n)
        if anchor == "start":
            return xs[i], xs[i] + widths[i]
        if anchor == "end":
            return xs[i] - widths[i], xs[i]
        return xs[i] - widths[i] / 2, xs[i] + widths[i] / 2

    def apart(a: int, b: int) -> bool:
        return extent(a)[1] + LABEL_GAP <= extent(b)[0]

    pitch = (xs[-1] - xs[0]) / (n - 1)
    need = max(widths) + LABEL_GAP
    for step in (*_LABEL_STEPS, *range(24, n + 12, 12)):
        if step * pitch < need and step < n - 1:
            continue
        chosen = list(range(0, n - 1, step))
        while len(chosen) > 1 and not apart(chosen[-1], n - 1):
            chosen.pop()
        chosen.append(n - 1)
        if all(apart(a, b) for a, b in itertools.pairwise(chosen)):
            return chosen
    return [n - 1]


def xmr_chart_svg(
    points: pd.DataFrame,
    title: str,
    unit: str = "",
    width: int = 640,
    height: int = 260,
    *,
    date_col: str = "date",
    value_col: str = "value",
    notes: bool = True,
) -> str:
    """An XmR chart of one series' `compute_spc` output as a standalone inline SVG.

    Shows the values, the mean and the process limits of each rebase group (limits dashed),
    the target if there is one, and each point marked as Making Data Count marks it: grey
    circles for common cause, blue triangles (pointing up for high, down for low) for
    improvement, orange squares for concern and purple diamonds for neutral special causes.
    A "Trial limits" note appears when a group has fewer than 13 points. With `notes`, lines
    under the title explain what the chart cannot show by itself (see `chart_notes`): no
    limits, zero-width limits, missing values and months with no row.
    """
    f = _frame(points, date_col, value_col)
    n = len(f.y)
    note_lines = chart_notes(points, date_col=date_col, value_col=value_col) if notes else []
    if note_lines:
        height += NOTE_LINE * len(note_lines)
    uid = (
        "xmr-"
        + hashlib.sha1(
            f"{title}|{n}|{f.dates[0] if n else ''}".encode(), usedforsecurity=False
        ).hexdigest()[:10]
    )
    left, right, top, bottom = 64.0, 16.0, 34.0 + NOTE_LINE * len(note_lines), 62.0
    pw, ph = max(width - left - right, 10.0), max(height - top - bottom, 10.0)

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="{uid}-t {uid}-d" '
        f'font-family="{escape(FONT)}" font-size="{FONT_SIZE}" class="xmr-chart">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(" ".join([_describe(f, unit), *note_lines]))}</desc>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{_num(left)}" y="18" font-size="13" font-weight="600" fill="#1a1a1a">'
        f"{escape(title)}</text>",
    ]
    if f.short and bool(np.isfinite(f.upl).any()):
        out.append(
            f'<text x="{_num(width - right)}" y="18" text-anchor="end" fill="#1a1a1a" '
            f'class="trial-limits">Trial limits (fewer than 13 points)<title>The limits are '
            f"trial limits: a group has fewer than 13 points, so they will change as points "
            f"are added.</title></text>"
        )
    if note_lines:
        out.append('<g class="chart-notes" fill="#1a1a1a">')
        for k, line in enumerate(note_lines):
            out.append(
                f'<text x="{_num(left)}" y="{_num(32 + NOTE_LINE * k)}" class="chart-note">'
                f"{escape(line)}</text>"
            )
        out.append("</g>")
    finite = [a[np.isfinite(a)] for a in (f.y, f.mean, f.lpl, f.upl, f.target)]
    pool = np.concatenate(finite) if n else np.zeros(0)
    if len(pool) == 0:
        out.append(
            f'<text x="{_num(left + pw / 2)}" y="{_num(top + ph / 2)}" text-anchor="middle" '
            f'fill="#595959">No data</text></svg>'
        )
        return "".join(out)

    lo, hi = float(pool.min()), float(pool.max())
    pad = (hi - lo) * 0.04 if hi > lo else abs(hi) * 0.1 or 1.0
    lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo)
    lo = math.floor(lo / step) * step
    hi = math.ceil(hi / step) * step

    def sx(i: float) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def sy(v: float) -> float:
        return top + ph - (v - lo) / (hi - lo) * ph

    # grid and y axis
    out.append('<g class="y-axis" fill="#404040">')
    tick = lo
    while tick <= hi + step / 2:
        yy = sy(tick)
        out.append(
            f'<line x1="{_num(left)}" y1="{_num(yy)}" x2="{_num(left + pw)}" y2="{_num(yy)}" '
            f'stroke="#e6e6e6"/>'
            f'<text x="{_num(left - 6)}" y="{_num(yy + 4)}" text-anchor="end">'
            f"{escape(format_value(tick))}</text>"
        )
        tick += step
    out.append("</g>")
    if unit:
        out.append(
            f'<text transform="translate(14 {_num(top + ph / 2)}) rotate(-90)" '
            f'text-anchor="middle" fill="#404040" class="y-label">{escape(unit)}</text>'
        )

    # x axis: the first and last dates, and evenly stepped ones between that do not collide
    fmt = _date_format(f.dates)
    texts = list(f.dates.strftime(fmt))
    xs = [sx(i) for i in range(n)]
    axis_y = top + ph
    out.append(
        f'<g class="x-axis" fill="#404040"><line x1="{_num(left)}" y1="{_num(axis_y)}" '
        f'x2="{_num(left + pw)}" y2="{_num(axis_y)}" stroke="#8c8c8c"/>'
    )
    for i in _x_label_indices(xs, [text_width(t) for t in texts]):
        out.append(
            f'<line x1="{_num(xs[i])}" y1="{_num(axis_y)}" x2="{_num(xs[i])}" '
            f'y2="{_num(axis_y + 4)}" stroke="#8c8c8c"/>'
            f'<text x="{_num(xs[i])}" y="{_num(axis_y + 16)}" text-anchor="{_anchor(i, n)}">'
            f"{escape(texts[i])}</text>"
        )
    out.append("</g>")

    # mean and limits per rebase group; target per run of equal targets
    out.append('<g class="limits" fill="none">')
    for a, b in _segments(f.groups.tolist()):
        x1, x2 = sx(a), sx(b - 1)
        if b - a == 1:
            x1, x2 = x1 - 4, x2 + 4
        for name, values, colour, dash in (
            ("upl", f.upl, LIMIT_COLOUR, "6 4"),
            ("mean", f.mean, MEAN_COLOUR, ""),
            ("lpl", f.lpl, LIMIT_COLOUR, "6 4"),
        ):
            v = values[a]
            if not math.isfinite(v):
                continue
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(
                f'<line x1="{_num(x1)}" y1="{_num(sy(v))}" x2="{_num(x2)}" y2="{_num(sy(v))}" '
                f'stroke="{colour}" stroke-width="1.3"{dash_attr} class="{name}">'
                f"<title>{_line_title(name, v, unit)}</title></line>"
            )
    targets = [None if not math.isfinite(t) else float(t) for t in f.target]
    for a, b in _segments(targets):
        t = targets[a]
        if t is None:
            continue
        x1, x2 = sx(a), sx(b - 1)
        out.append(
            f'<line x1="{_num(x1)}" y1="{_num(sy(t))}" x2="{_num(x2)}" y2="{_num(sy(t))}" '
            f'stroke="{TARGET_COLOUR}" stroke-width="1.5" stroke-dasharray="2 3" class="target">'
            f"<title>{_line_title('target', t, unit)}</title></line>"
        )
    out.append("</g>")

    # data line, broken at missing values
    out.append(f'<g class="values" fill="none" stroke="{LINE_COLOUR}" stroke-width="1.5">')
    run: list[str] = []
    for i in range(n + 1):
        if i < n and math.isfinite(f.y[i]):
            run.append(f"{_num(sx(i))},{_num(sy(f.y[i]))}")
            continue
        if len(run) > 1:
            out.append(f'<polyline points="{" ".join(run)}"/>')
        run = []
    out.append("</g>")

    # markers
    out.append('<g class="points">')
    present: list[tuple[str, int]] = []
    for i in range(n):
        kind = f.kinds[i]
        if kind is None or not math.isfinite(f.y[i]):
            continue
        shown = (kind, 1 if kind == "common_cause" or f.sides[i] >= 0 else -1)
        if shown not in present:
            present.append(shown)
        out.append(_marker(kind, f.sides[i], sx(i), sy(f.y[i]), _point_title(f, i, texts, unit)))
    out.append("</g>")

    has_limits = bool(np.isfinite(f.lpl).any() or np.isfinite(f.upl).any())
    has_target = any(t is not None for t in targets)
    out.append(_legend(present, has_target, left, height - 14, has_limits=has_limits))
    out.append("</svg>")
    return "".join(out)


def _line_title(name: str, value: float, unit: str) -> str:
    text = {"upl": "Upper process limit", "lpl": "Lower process limit", "mean": "Mean"}.get(
        name, "Target"
    )
    suffix = f" {unit}" if unit else ""
    return escape(f"{text}: {format_value(value)}{suffix}")


def _point_title(f: _Frame, i: int, dates: Sequence[str], unit: str) -> str:
    kind = f.kinds[i] or "common_cause"
    suffix = f" {unit}" if unit else ""
    text = f"{dates[i]}: {format_value(f.y[i])}{suffix} – {marker_text(kind, f.sides[i])}"
    rule = rule_text(f.labels[i]) if kind != "common_cause" else ""
    if rule:
        text += f": {rule}"
    return text


def _describe(f: _Frame, unit: str) -> str:
    n = len(f.y)
    if n == 0:
        return "No data."
    fmt = _date_format(f.dates)
    keys = [marker_key(k, side) for k, side in zip(f.kinds, f.sides, strict=True) if k]
    counts = {key: keys.count(key) for key in VARIATION_SHORT}
    special = len(keys) - counts["common_cause"]
    parts = [
        f"XmR chart of {n} points from {f.dates[0].strftime(fmt)} to {f.dates[-1].strftime(fmt)}.",
    ]
    last = int(np.flatnonzero(np.isfinite(f.y))[-1]) if np.isfinite(f.y).any() else None
    if last is not None:
        suffix = f" {unit}" if unit else ""
        parts.append(f"Latest value {format_value(f.y[last])}{suffix}.")
        if math.isfinite(f.mean[last]) and math.isfinite(f.lpl[last] + f.upl[last]):
            parts.append(
                f"Mean {format_value(f.mean[last])}, process limits "
                f"{format_value(f.lpl[last])} to {format_value(f.upl[last])}."
            )
        elif math.isfinite(f.mean[last]):
            parts.append(f"Mean {format_value(f.mean[last])}, no process limits.")
    detail = ", ".join(
        f"{counts[k]} {VARIATION_SHORT[k].lower()}"
        for k in VARIATION_SHORT
        if k != "common_cause" and counts[k]
    )
    parts.append(f"{special} special cause points" + (f": {detail}." if detail else "."))
    if f.short and bool(np.isfinite(f.upl).any()):
        parts.append("Trial limits: a group has fewer than 13 points.")
    return " ".join(parts)


def _legend(
    shown: list[tuple[str, int]],
    has_target: bool,
    x0: float,
    y: float,
    *,
    has_limits: bool = True,
) -> str:
    """One entry per marker drawn on the chart (its kind and side), with the same shape."""
    items: list[str] = ['<g class="legend" fill="#1a1a1a">']
    x = x0
    kinds = ("common_cause", "improvement", "concern", "neutral")
    for kind, side in [(k, side) for k in kinds for side in (1, -1)]:
        if (kind, side) not in shown:
            continue
        text = marker_text(kind, side)
        items.append(_marker(kind, side, x + 6, y - 4, text))
        items.append(f'<text x="{_num(x + 16)}" y="{_num(y)}">{escape(text)}</text>')
        x += 30 + 6.8 * len(text)
    for label, colour, dash in (
        ("Mean", MEAN_COLOUR, ""),
        *((("Process limits", LIMIT_COLOUR, "6 4"),) if has_limits else ()),
        *((("Target", TARGET_COLOUR, "2 3"),) if has_target else ()),
    ):
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        items.append(
            f'<line x1="{_num(x)}" y1="{_num(y - 4)}" x2="{_num(x + 18)}" y2="{_num(y - 4)}" '
            f'stroke="{colour}" stroke-width="1.5"{dash_attr}/>'
            f'<text x="{_num(x + 22)}" y="{_num(y)}">{label}</text>'
        )
        x += 38 + 6.8 * len(label)
    items.append("</g>")
    return "".join(items)
