"""England's pack, built from the bundled A&E data, opened in a real headless Chromium."""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path

import pytest
from headless import find_browser, run
from typer.testing import CliRunner

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CATALOG = ROOT / "catalog"
# The page is measured by a script added to a copy; the result lands in one attribute.
PROBE = """<script>
document.body.setAttribute("data-probe", JSON.stringify({
  title: document.querySelector("h1").textContent.trim(),
  matrixRows: document.querySelectorAll("#summary-matrix tr[data-metric]").length,
  matrixWidth: document.getElementById("summary-matrix").getBoundingClientRect().width,
  charts: Array.from(document.querySelectorAll("svg.xmr-chart"))
    .map(s => Math.round(s.getBoundingClientRect().width)),
  fourHourMarkers: document.querySelectorAll(
    "#metric-ae_4hr_performance_all svg.xmr-chart .points > *").length,
  leagues: document.querySelectorAll("details[id^='league-']").length,
  notRolledUp: document.querySelectorAll("#not-rolled-up li").length
}));
</script>"""


def cli(home: Path, *args: str) -> str:
    from collectonce.cli import app

    result = CliRunner().invoke(
        app, [*args, "--catalog", str(CATALOG)], env={"COLLECTONCE_HOME": str(home)}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_england_pack_renders_in_headless_chromium(tmp_path: Path) -> None:
    """The bundled data submitted and published, `collectonce pack --england` writes a page that
    Chromium renders: the summary matrix, an XmR chart per metric and the providers' league."""
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium: install the Debian package `chromium` to run this test")
    home = tmp_path / "home"
    cli(home, "submit", str(ROOT / "data" / "ae_attendances.csv"))
    cli(home, "publish")
    out = json.loads(cli(home, "pack", "--england", "--json"))
    page = Path(out["paths"]["html"])
    assert page.parent == home / "packs" / "levels"
    probe = tmp_path / "probe.html"
    probe.write_text(
        page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    dom = run(browser, ["--dump-dom", probe.as_uri()], tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'data-probe="([^"]*)"', dom.stdout)
    assert found, "the page did not finish loading"
    measured = json.loads(html_lib.unescape(found.group(1)))
    assert measured["title"] == "England"
    assert measured["matrixRows"] == 9  # the nine A&E metrics that roll up
    assert measured["matrixWidth"] > 600
    assert len(measured["charts"]) == 9 and all(w > 300 for w in measured["charts"])
    assert measured["fourHourMarkers"] >= 36  # one marker per month, April 2016 to March 2019
    assert measured["leagues"] == 9
    assert measured["notRolledUp"] == 3  # percentages sent without their counts

    OUTPUT.mkdir(exist_ok=True)
    shot = OUTPUT / "england_pack.png"
    shot.unlink(missing_ok=True)
    shotrun = run(browser, [f"--screenshot={shot}", page.as_uri()], tmp_path / "profile-shot")
    assert shotrun.returncode == 0, shotrun.stderr[-2000:]
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few kilobytes
