"""The provider feedback pack: SPC per metric, notes on awkward series, peers, who uses what."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from collectonce.feedback.pack import (
    PackError,
    UnknownProvider,
    build_pack,
    peer_positions,
    prepare_series,
    render_pack_html,
)

START = dt.date(2017, 4, 1)


def months(n: int, start: dt.date = START) -> list[dt.date]:
    return [(pd.Timestamp(start) + pd.DateOffset(months=i)).date() for i in range(n)]


def unified_rows(
    ods: str,
    metric: str,
    values: list[float | None],
    *,
    statuses: list[str] | None = None,
    start: dt.date = START,
    comment: str | None = None,
) -> pd.DataFrame:
    """Rows shaped like the UNIFIED table for one series (None means suppressed)."""
    n = len(values)
    status = statuses or ["reported" if v is not None else "suppressed" for v in values]
    frame = pd.DataFrame(
        {
            "provider_code": ods,
            "period": months(n, start),
            "metric_id": metric,
            "value": [np.nan if v is None else float(v) for v in values],
            "value_status": status,
            "is_derived": False,
            "is_late": False,
            "revision": np.ones(n, dtype="int32"),
            "submission_id": f"sub-{ods.lower()}",
            "file_sha256": "0" * 64,
            "source_row": np.arange(2, n + 2),
            "received_at": pd.Timestamp("2019-05-01", tz="UTC"),
        }
    )
    if comment is not None:
        frame["comment"] = comment
    return frame


def stable(n: int, level: float = 1000.0, seed: int = 1) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(round(level + x)) for x in rng.normal(0, level * 0.03, n)]


@pytest.fixture
def four_trusts() -> pd.DataFrame:
    """RF4, RRK and R1H (acute_large) and RQM (acute_medium), 24 months of three metrics."""
    frames = []
    for i, ods in enumerate(["RF4", "RRK", "R1H", "RQM"]):
        attendances = stable(24, 9000 + 1000 * i, seed=i)
        breaches = stable(24, 1500 + 200 * i, seed=10 + i)
        frames.append(unified_rows(ods, "ae_attendances_type1", attendances))
        frames.append(unified_rows(ods, "ae_breaches_4hr_type1", breaches))
        perf = [100 * (a - b) / a for a, b in zip(attendances, breaches, strict=True)]
        frames.append(unified_rows(ods, "ae_4hr_performance_type1", perf))
    return pd.concat(frames, ignore_index=True)


def panel(pack, code):
    return next(p for p in pack.panels if p.code == code)


def test_pack_has_one_matrix_row_per_metric_with_data(catalog_min, four_trusts):
    """It lists each metric the provider has values for once in the summary matrix."""
    only_suppressed = unified_rows("RRK", "staff_sickness_absence_rate", [None, None, None])
    pack = build_pack(catalog_min, pd.concat([four_trusts, only_suppressed]), "RRK")
    html = render_pack_html(pack)

    rows = re.findall(r'<tr class="nhsuk-table__row" data-metric="([a-z0-9_]+)"', html)
    assert sorted(rows) == [
        "ae_4hr_performance_type1",
        "ae_attendances_type1",
        "ae_breaches_4hr_type1",
    ]
    assert len(pack.summary_frame()) == 3
    assert html.count('<section class="nhsuk-card" id="metric-') == 3


def test_summary_grid_places_each_metric_by_variation_and_assurance(catalog_min):
    """The MDC matrix puts every metric in exactly one variation x assurance cell."""
    rising = [*stable(16, 90.0), 99.5, 99.6, 99.7, 99.8, 99.9, 99.95, 99.99]
    rows = pd.concat(
        [
            unified_rows("RRK", "ae_4hr_performance_type1", rising),  # higher is better, >= 95
            unified_rows("RRK", "ae_attendances_type1", stable(24, 9000)),  # no target
            unified_rows("RRK", "ae_breaches_4hr_type1", [800.0]),  # one point: no limits
        ]
    )
    pack = build_pack(catalog_min, rows, "RRK")
    grid = {row["variation"]: row for row in pack.mdc_grid()}
    placed = {
        (variation, column): [p.code for p in cell]
        for variation, row in grid.items()
        for column, cell in row["cells"].items()
        if cell
    }
    assert placed == {
        ("improvement", panel(pack, "ae_4hr_performance_type1").assurance): [
            "ae_4hr_performance_type1"
        ],
        ("common_cause", "not_assessed"): ["ae_attendances_type1"],
        ("no_limits", "not_assessed"): ["ae_breaches_4hr_type1"],
    }
    html = render_pack_html(pack)
    table = html[
        html.index('id="pack-mdc-matrix"') : html.index(
            "</table>", html.index('id="pack-mdc-matrix"')
        )
    ]
    assert table.count("data-variation=") == 5
    assert table.count('href="#metric-') == 3


def test_pack_page_is_self_contained_and_accessible(catalog_min, four_trusts):
    """It renders one offline page: inline styles, no scripts or remote URLs, en-GB, one h1."""
    html = render_pack_html(build_pack(catalog_min, four_trusts, "RRK"))

    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en-GB">' in html
    assert html.count("<h1") == 1
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "@font-face{" not in html
    assert "url(https:" not in html
    assert "nhsuk-frontend v10" in html  # the vendored stylesheet, with its licence header
    assert "How to read this page" in html
    assert "Your latest submissions" in html
    assert '<th scope="col"' in html


def test_unknown_provider_is_refused(catalog_min, four_trusts):
    """It refuses an ODS code that is not in the catalogue with a ValueError naming it."""
    with pytest.raises(UnknownProvider, match="ZZZ") as info:
        build_pack(catalog_min, four_trusts, "ZZZ")
    assert isinstance(info.value, PackError)
    assert isinstance(info.value, ValueError)


def test_provider_without_data_gets_an_explanation(catalog_min, four_trusts):
    """It builds a pack for a known provider with no data that says so instead of failing."""
    pack = build_pack(catalog_min, four_trusts[four_trusts["provider_code"] != "RQM"], "RQM")
    assert pack.panels == ()
    assert "no published data for RQM yet" in render_pack_html(pack)


def test_run_above_the_mean_is_marked_as_special_cause(catalog_min):
    """It marks 8 points above the mean as special-cause concern (lower is better) in words."""
    values = [100, 104, 97, 101, 99, 103, 98, 102, 100, 96, 101, 99] + [112] * 4 + [113] * 4
    pack = build_pack(catalog_min, unified_rows("RRK", "ae_breaches_4hr_type1", values), "RRK")
    p = panel(pack, "ae_breaches_4hr_type1")

    flagged = p.points[p.points["point_type"] == "special_cause_concern"]
    assert len(flagged) >= 8
    assert p.variation_icon == "concern_high"
    html = render_pack_html(pack)
    card = html[html.index('id="metric-ae_breaches_4hr_type1"') :]
    assert "Concern</strong>" in card
    assert (
        "7 or more points above the mean" in card
        or "above the upper limit" in card
        or "2 of 3 points close to the upper limit" in card
    )


def test_ten_points_get_trial_limits(catalog_min):
    """It labels limits from 10 points as trial limits, in the matrix and on the card."""
    pack = build_pack(catalog_min, unified_rows("RRK", "ae_attendances_type1", stable(10)), "RRK")
    p = panel(pack, "ae_attendances_type1")
    assert p.limits == "trial_limits"
    html = render_pack_html(pack)
    assert "Trial limits" in html
    assert "fewer than 13" in html


def test_all_equal_values_are_explained_not_crashed(catalog_min):
    """It charts 15 equal values with the mean only, as NHSRplotthedots (which draws no limits
    when every moving range is zero), and says there is no variation."""
    pack = build_pack(catalog_min, unified_rows("RRK", "ae_attendances_type1", [500] * 15), "RRK")
    p = panel(pack, "ae_attendances_type1")
    assert p.limits == "no_variation"
    assert p.variation_icon == "common_cause"
    assert p.signals.empty
    assert p.points["lpl"].isna().all() and (p.points["mean"] == 500).all()
    html = render_pack_html(pack)
    card = html[html.index('id="metric-ae_attendances_type1"') :]
    assert "All 15 values are equal" in card
    assert "no process limits (no variation)" in card
    assert 'class="mean"' in card and 'class="upl"' not in card


def test_one_screened_jump_in_flat_values_gives_zero_width_limits(catalog_min):
    """It explains zero-width limits: the one jump is screened out, the other ranges are 0."""
    rows = unified_rows("RRK", "ae_attendances_type1", [500] * 14 + [501])
    p = panel(build_pack(catalog_min, rows, "RRK"), "ae_attendances_type1")
    assert p.limits == "zero_width"
    assert p.points["lpl"].iloc[0] == p.points["upl"].iloc[0] == p.points["mean"].iloc[0]
    assert any("Zero-width limits" in note for note in p.notes)


def test_single_value_is_shown_as_a_table_without_limits(catalog_min):
    """It shows a one-point series as a table saying there are too few points for limits."""
    pack = build_pack(catalog_min, unified_rows("RRK", "ae_attendances_type1", [9000]), "RRK")
    p = panel(pack, "ae_attendances_type1")
    assert p.limits == "too_few_points"
    assert p.variation_icon is None
    html = render_pack_html(pack)
    card = html[html.index('id="metric-ae_attendances_type1"') :]
    assert "Too few points for limits" in card
    assert "<figure" not in card
    assert "9,000" in card


def test_suppressed_and_absent_months_are_gaps_outside_the_limits(catalog_min):
    """It keeps suppressed and unsubmitted months out of the limits and flags them as gaps."""
    values = stable(20)
    with_gaps = unified_rows("RRK", "ae_attendances_type1", [*values[:5], None, *values[5:]])
    with_gaps = with_gaps[with_gaps["period"] != months(21)[10]]  # a month never submitted
    pack = build_pack(catalog_min, with_gaps, "RRK")
    p = panel(pack, "ae_attendances_type1")

    assert len(p.points) == 21
    flags = dict(zip(p.points["period"].dt.date, p.points["flags"], strict=True))
    assert flags[months(21)[5]] == "suppressed"
    assert flags[months(21)[10]] == "not submitted"
    reported = p.points["value"].dropna()
    assert p.points["mean"].iloc[0] == pytest.approx(reported.mean())
    assert p.points.loc[p.points["value"].isna(), "point_type"].isna().all()
    assert any("2 periods have no value" in note for note in p.notes)
    html = render_pack_html(pack)
    assert "2 periods have no value: Sep 2017 (suppressed), Feb 2018 (not submitted)" in html
    data = pack.data_frame()
    assert set(data.loc[data["value"].isna(), "flags"]) == {"suppressed", "not submitted"}


def test_quarterly_gaps_are_found_at_the_metrics_grain(catalog_min):
    """It finds a missing quarter of a quarterly metric without inventing months."""
    frame = unified_rows("RRK", "staff_ffp_recommend", [61.0, 63.0, 62.0])
    frame["period"] = [dt.date(2017, 4, 1), dt.date(2017, 7, 1), dt.date(2018, 1, 1)]
    points = prepare_series(catalog_min, frame)
    assert points["period"].dt.date.tolist() == [
        dt.date(2017, 4, 1),
        dt.date(2017, 7, 1),
        dt.date(2017, 10, 1),
        dt.date(2018, 1, 1),
    ]
    assert points["value_status"].tolist()[2] == "not_submitted"
    html = render_pack_html(build_pack(catalog_min, frame, "RRK"))
    assert "2017/18 Q3 (not submitted)" in html  # October to December 2017, an NHS quarter


def test_assurance_only_for_metrics_with_a_target(catalog_min, four_trusts):
    """It gives an assurance icon to the 4-hour % (target 95) and none to attendances."""
    pack = build_pack(catalog_min, four_trusts, "RRK")
    perf = panel(pack, "ae_4hr_performance_type1")
    assert perf.assurance in {"consistent_pass", "consistent_fail", "inconsistent"}
    assert panel(pack, "ae_attendances_type1").assurance is None
    assert any("No target" in n for n in panel(pack, "ae_attendances_type1").notes)


def test_peer_position_compares_only_the_peer_group_for_the_same_period(catalog_min):
    """It ranks the latest value within the peer group (1 = best; lower is better here)."""
    frames = [
        unified_rows("RF4", "ae_breaches_4hr_type1", [300, 310, 100]),
        unified_rows("RRK", "ae_breaches_4hr_type1", [200, 190, 150]),
        unified_rows("R1H", "ae_breaches_4hr_type1", [250, 260, 400]),
        unified_rows("RQM", "ae_breaches_4hr_type1", [1, 1, 1]),  # another peer group
        unified_rows("R1H", "ae_attendances_type1", [9000, 9100]),  # older latest period
    ]
    unified = pd.concat(frames, ignore_index=True)
    pack = build_pack(catalog_min, unified, "RRK")
    peer = panel(pack, "ae_breaches_4hr_type1").peer
    assert (peer.rank, peer.n_peers, peer.peer_median) == (2, 3, 150.0)
    assert peer.higher_is_better is False
    assert peer.period == months(3)[2]

    everyone = peer_positions(catalog_min, prepare_series(catalog_min, unified))
    breaches = everyone[everyone["metric_id"] == "ae_breaches_4hr_type1"].set_index("provider_code")
    assert breaches.loc["RF4", "rank"] == 1
    assert breaches.loc["RF4", "quartile"] == 1
    assert breaches.loc["R1H", "quartile"] == 4
    assert breaches.loc["RQM", "n_peers"] == 1


def test_each_metric_says_why_it_is_collected_and_who_uses_it(catalog_min, four_trusts):
    """It names the requesters and their request items, including use through derived metrics."""
    pack = build_pack(catalog_min, four_trusts, "RRK")
    attendances = panel(pack, "ae_attendances_type1")
    names = [name for _code, name in attendances.requesters]
    assert "NHS England" in names
    assert "Care Quality Commission" in names
    items = {(u.request, u.items, u.via) for u in attendances.uses}
    assert ("nhse_ae_monthly", ("A1",), None) in items
    assert ("cqc_uec_quarterly", ("UEC03",), "ae_4hr_performance_type1") in items
    html = render_pack_html(pack)
    why = catalog_min.metrics["ae_attendances_type1"].why_collected
    assert why.replace("&", "&amp;") in html
    assert "A&amp;E monthly return" in html


def test_latest_receipts_are_listed(catalog_min, four_trusts):
    """It lists the latest receipts with status, rows accepted and rejected and findings."""
    receipts = [
        {
            "submission_id": "sub-2",
            "status": "partially_accepted",
            "rows_read": 10,
            "rows_accepted": 8,
            "rows_rejected": 2,
            "findings": [{"severity": "error"}, {"severity": "error"}, {"severity": "warning"}],
            "original_name": "rrk_march.csv",
            "received_at": "2019-04-10T09:00:00+00:00",
            "providers": ["RRK"],
        },
        {
            "submission_id": "sub-1",
            "status": "accepted",
            "rows_read": 5,
            "rows_accepted": 5,
            "rows_rejected": 0,
            "findings": [],
            "original_name": "rrk_feb.csv",
            "received_at": "2019-03-10T09:00:00+00:00",
            "providers": ["RRK"],
        },
    ]
    pack = build_pack(catalog_min, four_trusts, "RRK", receipts)
    assert [r["submission_id"] for r in pack.receipts] == ["sub-2", "sub-1"]
    assert pack.receipts[0]["errors"] == 2
    html = render_pack_html(pack)
    section = html[html.index('id="submissions"') :]
    assert "partially accepted" in section
    assert "rrk_march.csv" in section
    assert "2 errors, 1 warning" in section


def test_input_frame_is_not_modified(catalog_min, four_trusts):
    """It leaves the unified frame it was given untouched."""
    before = four_trusts.copy()
    build_pack(catalog_min, four_trusts, "RRK")
    pd.testing.assert_frame_equal(four_trusts, before)
