"""A provider pack opened in a real headless Chromium: the matrix and the charts render."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from headless import find_browser, run

from collectonce.feedback.pack import build_pack, render_pack_html

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"

# NHS England A&E statistics (NHSRdatasets `ae_attendances`), RRK type 1, Apr 2016 - Mar 2019.
RRK_ATTENDANCES = [
    9044, 10199, 9608, 9842, 9584, 9578, 10075, 9422, 9449, 9640, 8753, 10032,
    9427, 10122, 9505, 10189, 9685, 9693, 10348, 9522, 9667, 10083, 9322, 9936,
    9831, 10573, 10035, 32209, 29102, 29915, 30570, 30645, 30979, 31935, 28898, 32017,
]  # fmt: skip
RRK_BREACHES = [
    1195, 1843, 1397, 1333, 1771, 1751, 2013, 1759, 2179, 2585, 1654, 1543,
    1632, 1558, 1190, 1357, 1279, 1683, 2190, 1804, 986, 2181, 2048, 2154,
    1759, 1637, 1488, 6499, 5983, 6599, 7089, 8120, 8981, 12502, 11376, 10670,
]  # fmt: skip
# The pack shows a single test key: the measured result written by a script added to a copy.
PROBE = """<script>
document.body.setAttribute("data-probe", JSON.stringify({
  matrixRows: document.querySelectorAll("#summary-matrix tr[data-metric]").length,
  matrixWidth: document.getElementById("summary-matrix").getBoundingClientRect().width,
  charts: Array.from(document.querySelectorAll("svg.xmr-chart"))
    .map(s => Math.round(s.getBoundingClientRect().width)),
  markers: document.querySelectorAll("svg.xmr-chart .points > *").length,
  gridRows: document.querySelectorAll("#pack-mdc-matrix tr[data-variation]").length,
  gridLinks: document.querySelectorAll("#pack-mdc-matrix a[href^='#metric-']").length,
  breaches: Object.fromEntries(["common_cause", "improvement", "concern", "neutral"].map(k => [k,
    document.querySelectorAll(
      "#metric-ae_breaches_4hr_type1 svg.xmr-chart .points > ." + k).length]))
}));
</script>"""


def months(n: int, start: str = "2016-04-01") -> list:
    return [(pd.Timestamp(start) + pd.DateOffset(months=i)).date() for i in range(n)]


def rrk_unified() -> pd.DataFrame:
    """RRK's real A&E series plus a sickness rate with a target, a short and a gappy series."""
    att = np.array(RRK_ATTENDANCES, dtype=float)
    br = np.array(RRK_BREACHES, dtype=float)
    rng = np.random.default_rng(5)
    sickness = list(4.2 + rng.normal(0, 0.25, 36))
    sickness[20] = np.nan
    rows = [
        ("ae_attendances_type1", list(att)),
        ("ae_breaches_4hr_type1", list(br)),
        ("ae_4hr_performance_type1", list(100 * (att - br) / att)),
        ("staff_sickness_absence_rate", sickness),
    ]
    frames = [
        pd.DataFrame(
            {
                "provider_code": "RRK",
                "period": months(36),
                "metric_id": code,
                "value": values,
                "value_status": ["suppressed" if np.isnan(v) else "reported" for v in values],
            }
        )
        for code, values in rows
    ]
    frames.append(
        pd.DataFrame(
            {
                "provider_code": "RRK",
                "period": months(10, "2018-06-01"),
                "metric_id": "ae_emergency_admissions",
                "value": list(3000 + rng.normal(0, 120, 10).round()),
                "value_status": "reported",
            }
        )
    )
    peers = []
    for ods, scale in (("RF4", 0.9), ("R1H", 1.2)):
        peers += [f.assign(provider_code=ods, value=f["value"] * scale) for f in frames]
    out = pd.concat(frames + peers, ignore_index=True)
    return out.assign(is_derived=False, is_late=False, revision=1)


def test_pack_renders_in_headless_chromium(catalog_min, tmp_path):
    """It shows the summary matrix and every chart in Chromium, and saves a screenshot."""
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium: install the Debian package `chromium` to run this test")
    html = render_pack_html(build_pack(catalog_min, rrk_unified(), "RRK"))
    page = tmp_path / "RRK_pack.html"
    page.write_text(html, encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    OUTPUT.mkdir(exist_ok=True)
    shot = OUTPUT / "pack.png"
    shot.unlink(missing_ok=True)

    dom = run(browser, ["--dump-dom", probe.as_uri()], tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="summary-matrix"' in dom.stdout
    found = re.search(r'data-probe="([^"]*)"', dom.stdout)
    assert found, "the page did not finish loading"
    import html as html_lib
    import json

    measured = json.loads(html_lib.unescape(found.group(1)))
    assert measured["matrixRows"] == 5
    assert measured["matrixWidth"] > 600
    assert len(measured["charts"]) == 5
    assert all(width > 300 for width in measured["charts"])
    assert measured["markers"] >= 36 * 4 + 10 - 1
    assert measured["gridRows"] == 5 and measured["gridLinks"] == 5
    # what NHSRplotthedots shows for RRK's type 1 breaches (lower is better): April 2016 to
    # June 2018 sit below the mean or the lower limit (improvement) and the July 2018 merger
    # puts every later month above the upper limit (concern)
    assert measured["breaches"] == {
        "common_cause": 0,
        "improvement": 27,
        "concern": 9,
        "neutral": 0,
    }

    shotrun = run(browser, [f"--screenshot={shot}", page.as_uri()], tmp_path / "profile-shot")
    assert shotrun.returncode == 0, shotrun.stderr[-2000:]
    assert shot.exists()
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few kilobytes
