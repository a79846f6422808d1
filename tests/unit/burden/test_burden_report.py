"""The burden report: Markdown and one self-contained HTML page."""

from __future__ import annotations

import re
from pathlib import Path

from collectonce.burden.model import compute_burden
from collectonce.burden.report import (
    render_burden_html,
    render_burden_markdown,
    write_burden_report,
)


def test_markdown_states_the_headline_targets_and_method(catalog_min) -> None:
    """It gives hours before and after, each requester, each target and the formula."""
    text = render_burden_markdown(compute_burden(catalog_min))
    assert "| Hours per year, all providers | 39.7 | 20.1 | 19.6 (49.3%) |" in text
    assert "Care Quality Commission" in text
    assert "Cut hours by a quarter" in text and "met" in text
    assert "periods_per_year(r)" in text
    assert "RF4" in text


def test_html_is_self_contained_and_escaped(catalog_min) -> None:
    """It loads nothing from the network and escapes catalogue text such as "A&E"."""
    html = render_burden_html(compute_burden(catalog_min))
    assert html.lower().startswith("<!doctype html>")
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "Integrated care board quality schedule" in html
    assert "49.3%" in html
    assert "A&E" not in re.sub(r"<style>.*?</style>", "", html, flags=re.S) or "&amp;" in html


def test_write_burden_report_writes_markdown_html_and_json(catalog_min, tmp_path: Path) -> None:
    """It writes burden.md, burden.html and burden.json into the folder, creating it."""
    paths = write_burden_report(compute_burden(catalog_min), tmp_path / "reports" / "new")
    assert {p.name for p in paths.values()} == {"burden.md", "burden.html", "burden.json"}
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
