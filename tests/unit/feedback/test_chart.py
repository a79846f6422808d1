"""XmR chart and icon SVGs read without colour: shapes, titles and notes."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from collectonce.feedback.chart import (
    assurance_icon_svg,
    chart_notes,
    variation_icon_svg,
    xmr_chart_svg,
)
from collectonce.feedback.spc import VARIATION_ICONS, compute_spc

SVG = "{http://www.w3.org/2000/svg}"
BASE = [9.0, 11.0] * 6  # limits fixed on these: mean 10, process limits 4.68 to 15.32


def _points(values: list[float], **kwargs: object) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"date": pd.date_range("2023-04-01", periods=len(values), freq="MS"), "value": values}
    )
    return compute_spc(frame, fix_after_n_points=12, **kwargs)


def _markers(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "points")
    return list(group)


def _title(element: ET.Element) -> str:
    title = element.find(f"{SVG}title")
    assert title is not None and title.text
    return title.text


def test_markers_have_distinct_shapes_and_titles() -> None:
    """Improvement, concern and common cause points differ in shape, not just colour."""
    points = _points([*BASE, 20.0, 10.0, 0.0], direction="increase", target=12.0)
    svg = xmr_chart_svg(points, "Four-hour performance", unit="%")
    markers = _markers(svg)
    assert len(markers) == 15
    assert {m.tag for m in markers[:12]} == {f"{SVG}circle"}
    high, _, low = markers[12:]
    assert high.get("data-shape") == "triangle-up"
    assert "improvement" in high.get("class", "")
    assert low.get("data-shape") == "square"
    assert "concern" in low.get("class", "")
    assert _title(high) == "Apr 2024: 20 % – Improvement (high): above the upper limit"
    assert _title(low).startswith("Jun 2024: 0 % – Concern (low): below the lower limit")
    assert all(_title(m) for m in markers)
    legend = "".join(ET.fromstring(svg).itertext())
    assert "Improvement" in legend and "Concern" in legend and "Target" in legend


def test_chart_draws_dashed_limits_mean_and_target_per_rebase_group() -> None:
    points = _points([*BASE, 10.0, 12.0, 9.0], rebase=["2024-04-01"], target=12.0)
    root = ET.fromstring(xmr_chart_svg(points, "Rebased"))
    lines = [e for e in root.iter(f"{SVG}line") if e.get("class") in {"mean", "upl", "lpl"}]
    assert [e.get("class") for e in lines].count("mean") == 2
    assert all(e.get("stroke-dasharray") for e in lines if e.get("class") in {"upl", "lpl"})
    targets = [e for e in root.iter(f"{SVG}line") if e.get("class") == "target"]
    assert len(targets) == 1 and _title(targets[0]).startswith("Target: 12")


def test_neutral_points_are_diamonds_and_missing_values_have_no_marker() -> None:
    points = _points([*BASE, np.nan, 20.0], direction="neutral")
    svg = xmr_chart_svg(points, "Neutral")
    markers = _markers(svg)
    assert len(markers) == 13  # the missing month has no marker
    assert markers[-1].get("data-shape") == "diamond"
    root = ET.fromstring(svg)
    assert len(list(root.iter(f"{SVG}polyline"))) == 1  # the line stops at the gap


def test_trial_limits_note_and_accessible_description() -> None:
    short = xmr_chart_svg(_points([1.0, 2.0, 3.0]), "Short <series> & co")
    root = ET.fromstring(short)
    assert root.get("role") == "img"
    assert "Trial limits" in "".join(root.itertext())
    assert _title(root) == "Short <series> & co"
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "3 points" in (desc.text or "")
    long = xmr_chart_svg(_points([*BASE, 10.0]), "Long")
    assert "Trial limits" not in long
    assert "Apr 2023" in long  # dated x axis


def test_notes_explain_what_the_chart_cannot_show() -> None:
    """No limits (too few values, or none of them varying), zero-width limits, missing values
    and months with no row are each explained on the chart and in its description."""
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-05-01", "2024-06-01"]),
            "value": [3.0, np.nan, 3.0, 3.0],
        }
    )
    points = compute_spc(frame)
    notes = chart_notes(points)
    assert notes[0].startswith("No limits: every value equals the one before it")
    assert notes[1].startswith("1 value is missing or suppressed")
    assert notes[2].startswith("No data for Mar 2024, Apr 2024:")
    root = ET.fromstring(xmr_chart_svg(points, "Flat"))
    shown = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "chart-note"]
    assert shown == notes
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "no process limits" in (desc.text or "")
    assert not [e for e in root.iter(f"{SVG}line") if e.get("class") in {"upl", "lpl"}]

    alone = compute_spc(frame.assign(value=[3.0, np.nan, 4.0, np.nan]))
    assert chart_notes(alone)[0] == "No limits: too few consecutive values to set limits from."
    flat_jump = compute_spc(
        pd.DataFrame(
            {"date": pd.date_range("2024-01-01", periods=6, freq="MS"), "value": [5.0] * 5 + [6.0]}
        )
    )
    assert chart_notes(flat_jump)[0].startswith("Zero-width limits")
    assert chart_notes(_points([*BASE, 10.0])) == []
    assert "chart-note" not in xmr_chart_svg(points, "Flat", notes=False)


def test_empty_series_gives_a_no_data_chart() -> None:
    points = compute_spc(pd.DataFrame({"date": pd.to_datetime([]), "value": []}))
    assert "No data" in xmr_chart_svg(points, "Nothing yet")


@pytest.mark.parametrize("icon", VARIATION_ICONS)
def test_variation_icons_have_titles_and_letters(icon: str) -> None:
    root = ET.fromstring(variation_icon_svg(icon))
    assert _title(root).lower().startswith(("common cause", "special cause"))
    letters = [t.text for t in root.iter(f"{SVG}text")]
    if icon.endswith("_high"):
        assert letters == ["H"]
    elif icon.endswith("_low"):
        assert letters == ["L"]
    else:
        assert letters == []


@pytest.mark.parametrize(
    ("assurance", "letter"),
    [("consistent_pass", "P"), ("consistent_fail", "F"), ("inconsistent", "?")],
)
def test_assurance_icons(assurance: str, letter: str) -> None:
    root = ET.fromstring(assurance_icon_svg(assurance))
    assert _title(root).startswith("Assurance")
    assert [t.text for t in root.iter(f"{SVG}text")] == [letter]


def test_no_assurance_icon_without_a_target_and_unknown_icons_fail() -> None:
    assert assurance_icon_svg(None) == ""
    with pytest.raises(ValueError):
        variation_icon_svg("sideways")
    with pytest.raises(ValueError):
        assurance_icon_svg("maybe")


def _x_labels(svg: str) -> list[tuple[float, str, str]]:
    """The x-axis labels as (x, text-anchor, text), left to right."""
    root = ET.fromstring(svg)
    axis = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "x-axis")
    return [
        (float(t.get("x", "nan")), t.get("text-anchor", "start"), t.text or "")
        for t in axis.iter(f"{SVG}text")
    ]


def _estimated_width(text: str, font_size: float = 11.0) -> float:
    """A label's width at about 0.6 em per character."""
    return len(text) * font_size * 0.6


def _extent(x: float, anchor: str, width: float) -> tuple[float, float]:
    if anchor == "end":
        return x - width, x
    if anchor == "middle":
        return x - width / 2, x + width / 2
    return x, x + width


@pytest.mark.parametrize(
    ("n", "freq", "width"),
    [
        (3, "MS", 640),
        (12, "MS", 640),
        (60, "MS", 640),
        (48, "MS", 640),
        (12, "MS", 240),
        (90, "D", 640),
    ],
)
def test_x_axis_labels_never_overlap_and_show_first_and_last(n: int, freq: str, width: int) -> None:
    """Short and long series label the first and last dates and keep labels a width apart."""
    dates = pd.date_range("2019-04-01", periods=n, freq=freq)
    frame = pd.DataFrame({"date": dates, "value": [10.0 + (i % 7) for i in range(n)]})
    svg = xmr_chart_svg(compute_spc(frame), "Monthly series", width=width)
    labels = _x_labels(svg)
    fmt = "%b %Y" if freq == "MS" else "%d %b %Y"
    assert labels[0][2] == dates[0].strftime(fmt)
    assert labels[-1][2] == dates[-1].strftime(fmt)
    shown = [pd.Timestamp(text) for _, _, text in labels]
    assert shown == sorted(shown)
    extents = [_extent(x, anchor, _estimated_width(text)) for x, anchor, text in labels]
    assert all(lo >= 0 and hi <= width for lo, hi in extents)  # inside the chart
    for (x1, _, t1), (x2, _, t2) in itertools.pairwise(labels):
        assert x2 - x1 >= max(_estimated_width(t1), _estimated_width(t2)), (t1, t2)
    for (_, right), (left, _) in itertools.pairwise(extents):
        assert right < left


def _legend_markers(svg: str) -> list[tuple[str | None, str]]:
    """(shape, text) of each legend entry: the marker and the label that follows it."""
    root = ET.fromstring(svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    out = []
    children = list(group)
    for element, label in itertools.pairwise(children):
        if element.tag in {f"{SVG}circle", f"{SVG}path"} and label.tag == f"{SVG}text":
            shape = "circle" if element.tag == f"{SVG}circle" else element.get("data-shape")
            out.append((shape, label.text or ""))
    return out


def test_legend_draws_each_marker_shape_that_the_points_use() -> None:
    """A falling improvement is a downward triangle on the chart and in the legend, named as
    the pack names it."""
    points = _points([*BASE, 2.0], direction="decrease")
    svg = xmr_chart_svg(points, "Breaches")
    shapes = {m.get("data-shape") or "circle" for m in _markers(svg)}
    assert "triangle-down" in shapes
    legend = _legend_markers(svg)
    assert ("triangle-down", "Improvement (low)") in legend
    assert all(shape != "triangle-up" for shape, _ in legend)
    assert {shape for shape, _ in legend} == shapes
