"""RRK's type 1 four-hour breaches: the pack's chart marks exactly the SPC signals."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from collectonce.feedback.pack import build_pack, render_pack_html
from collectonce.feedback.spc import compute_spc

# NHS England A&E attendances and emergency admissions (NHSRdatasets `ae_attendances`),
# org RRK, type 1 breaches, April 2016 to March 2019.
RRK_BREACHES = [
    1195, 1843, 1397, 1333, 1771, 1751, 2013, 1759, 2179, 2585, 1654, 1543,
    1632, 1558, 1190, 1357, 1279, 1683, 2190, 1804, 986, 2181, 2048, 2154,
    1759, 1637, 1488, 6499, 5983, 6599, 7089, 8120, 8981, 12502, 11376, 10670,
]  # fmt: skip
DATES = [(pd.Timestamp("2016-04-01") + pd.DateOffset(months=i)).date() for i in range(36)]
MARK = re.compile(
    r'class="point (improvement|concern|neutral)"[^>]*><title>([A-Z][a-z]{2} \d{4}): '
)


def rrk_unified(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "provider_code": "RRK",
            "period": DATES[:n],
            "metric_id": "ae_breaches_4hr_type1",
            "value": [float(v) for v in RRK_BREACHES[:n]],
            "value_status": "reported",
            "is_derived": False,
            "is_late": False,
            "revision": 1,
        }
    )


def marked_points(html: str) -> dict[str, str]:
    card = html[html.index('id="metric-ae_breaches_4hr_type1"') :]
    start = card.index('class="xmr-chart"')
    chart = card[start : card.index("</svg>", start)]
    return {when: kind for kind, when in MARK.findall(chart)}


def expected_marks(n: int) -> dict[str, str]:
    spc = compute_spc(
        pd.DataFrame({"date": pd.to_datetime(DATES[:n]), "value": RRK_BREACHES[:n]}),
        direction="decrease",
    )
    special = spc[spc["point_type"] != "common_cause"]
    kinds = special["point_type"].astype(str).str.removeprefix("special_cause_")
    return dict(zip(special["date"].dt.strftime("%b %Y"), kinds, strict=True))


def test_vignette_period_marks_eight_improvement_points(catalog_min):
    """It marks the 8 consecutive improvement points NHSRplotthedots shows for 2016-18."""
    html = render_pack_html(build_pack(catalog_min, rrk_unified(24), "RRK"))
    marks = marked_points(html)

    improvement = [d for d, kind in marks.items() if kind == "improvement"]
    assert improvement == [
        pd.Timestamp(2017, m, 1).strftime("%b %Y") for m in range(2, 10)
    ]  # Feb to Sep 2017: 7 or more points below the mean
    assert marks == expected_marks(24)


def test_full_three_years_mark_exactly_the_engine_signals(catalog_min):
    """It marks on the chart exactly the points compute_spc flags over all 36 months."""
    pack = build_pack(catalog_min, rrk_unified(36), "RRK")
    marks = marked_points(render_pack_html(pack))

    assert marks == expected_marks(36)
    assert len(marks) == 36  # the July 2018 merger shifts the level: every point signals
    assert marks["Jul 2018"] == "concern"
    panel = pack.panels[0]
    assert panel.variation_icon == "concern_high"
    assert panel.latest_period == dt.date(2019, 3, 1)
