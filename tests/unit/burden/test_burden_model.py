"""The burden model: hours and cost before and after collect-once, exactly as hand-computed."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectonce.burden.model import compute_burden
from collectonce.catalog import load_catalog

METRIC = """\
code: {code}
label: {label}
definition: {label}, counted for the whole month.
why_collected: Needed by the test requesters to check the sums.
unit: {unit}
value_type: {value_type}
grain: {{entity: provider, period: month}}
valid: {{min: 0}}
zero_is_significant: true
improvement_direction: neutral
status: {{state: active, version: 1, effective_from: 2016-04-01}}
"""


def write_tiny_catalog(root: Path) -> Path:
    """Two requesters, two collected counts, one derived percentage, three providers."""
    (root / "metrics" / "test").mkdir(parents=True)
    (root / "requests").mkdir()
    (root / "catalog.yaml").write_text(
        'name: tiny\nversion: "1.0.0"\neffective_from: 2016-04-01\nhourly_cost_gbp: 60\n'
    )
    (root / "requesters.yaml").write_text(
        "requesters:\n"
        "  - {code: body_a, name: Body A}\n"
        "  - {code: body_b, name: Body B}\n"
        "  - {code: body_c, name: Body C with no requests}\n"
    )
    (root / "providers.csv").write_text(
        "ods_code,name,peer_group,region\nP01,One,big,\nP02,Two,big,\nP03,Three,small,\n"
    )
    for code, label in (("m_count_a", "Count A"), ("m_count_b", "Count B")):
        (root / "metrics" / "test" / f"{code}.yaml").write_text(
            METRIC.format(code=code, label=label, unit="count", value_type="integer")
        )
    (root / "metrics" / "test" / "m_pct.yaml").write_text(
        METRIC.format(code="m_pct", label="B as a share of A", unit="percent", value_type="decimal")
        + "derived: {numerator: m_count_b, denominator: m_count_a, multiplier: 100}\n"
    )
    (root / "requests" / "req_a.yaml").write_text(
        "code: req_a\nrequester: body_a\ntitle: Request A\nfrequency: month\n"
        "due_days_after_period: 10\nminutes_per_item: 6\nitems:\n"
        "  - {their_code: A1, their_label: Count A, metric: m_count_a}\n"
        "  - {their_code: A2, their_label: B over A (%), metric: m_pct}\n"
        "  - {their_code: A3, their_label: Free text, unmapped_reason: Narrative}\n"
    )
    (root / "requests" / "req_b.yaml").write_text(
        "code: req_b\nrequester: body_b\ntitle: Request B\nfrequency: quarter\n"
        "due_days_after_period: 20\nminutes_per_item: 15\nrespondents: [big]\nitems:\n"
        "  - {their_code: B1, their_label: Count A, metric: m_count_a, "
        "transform: {aggregate: sum}}\n"
        "  - {their_code: B2, their_label: Count B, metric: m_count_b, "
        "transform: {aggregate: sum}}\n"
    )
    (root / "targets.yaml").write_text(
        "targets:\n"
        "  - {measure: hours_reduction_pct, value: 10}\n"
        "  - {measure: unique_items_reduction_pct, value: 50}\n"
        "  - {measure: items_served_from_catalogue_pct, value: 80}\n"
    )
    return root


@pytest.fixture
def tiny(tmp_path: Path):
    return load_catalog(write_tiny_catalog(tmp_path / "catalog"))


def test_totals_match_the_hand_computed_burden(tiny) -> None:
    """It counts every item before and each collected metric once after.

    Before (minutes/year):
      req_a: 3 providers × 12 months × 6 min × 3 items = 648
      req_b: 2 providers (big) × 4 quarters × 15 min × 2 items = 240
      total 888 min = 14.8 h = £888 at £60/h.
    After, per provider in `big` (answers req_a and req_b):
      m_count_a: needed monthly (A1, and A2 through m_pct) and quarterly (B1)
                 → 12 × min(6, 15) = 72
      m_count_b: needed monthly through m_pct (A2) and quarterly (B2) → 12 × 6 = 72
      A3 unmapped stays as before → 12 × 6 = 72; m_pct is computed, not collected.
      = 216. Per provider in `small` (req_a only): 72 + 72 + 72 = 216.
      total 3 × 216 = 648 min = 10.8 h = £648; saved 240 min = 4 h = £240 (27.03%).
    """
    d = compute_burden(tiny).to_dict()
    assert d["hours_before"] == 14.8
    assert d["hours_after"] == 10.8
    assert d["hours_saved"] == 4.0
    assert (d["cost_before_gbp"], d["cost_after_gbp"], d["cost_saved_gbp"]) == (888, 648, 240)
    assert d["reduction_pct"] == 27.0
    assert d["providers"] == 3
    assert d["per_provider_average"]["hours_before"] == pytest.approx(888 / 3 / 60, abs=0.005)


def test_unique_items_and_catalogue_share_count_each_collected_metric_once(tiny) -> None:
    """It reports 5 requested items → 2 collected metrics + 1 unmapped item = 3 unique (−40%)."""
    d = compute_burden(tiny).to_dict()
    assert d["items_requested"] == 5
    assert d["items_mapped"] == 4
    assert d["items_unmapped"] == 1
    assert d["items_derived"] == 1
    assert d["unique_metrics_collected"] == 2
    assert d["unique_items"] == 3
    assert d["unique_items_ratio"] == 0.6
    assert d["unique_items_reduction_pct"] == 40.0
    assert d["items_served_from_catalogue_pct"] == 80.0


def test_per_peer_group_and_provider_figures(tiny) -> None:
    """It gives each provider its own before and after: big 336 → 216 min, small 216 → 216.

    big before: req_a 12 × 6 × 3 = 216 + req_b 4 × 15 × 2 = 120 → 336 min = 5.6 h.
    """
    d = compute_burden(tiny).to_dict()
    groups = {g["peer_group"]: g for g in d["per_peer_group"]}
    assert groups["big"]["providers"] == 2
    assert groups["big"]["per_provider"]["hours_before"] == 5.6
    assert groups["big"]["per_provider"]["hours_after"] == 3.6
    assert groups["small"]["per_provider"]["hours_saved"] == 0.0
    providers = {p["provider"]: p for p in d["per_provider"]}
    assert set(providers) == {"P01", "P02", "P03"}
    assert providers["P01"]["hours_saved"] == 2.0
    assert providers["P01"]["metrics_after"] == 2
    assert providers["P03"]["requests"] == 1


def test_per_requester_shares_the_after_burden_in_proportion_to_use(tiny) -> None:
    """It splits each shared metric across requesters by their before-burden on it.

    In `big`, m_count_a after = 72 min; weights: body_a A1 72 + A2 72/2 = 108, body_b B1 60.
    m_count_b after = 72; weights: body_a A2 36, body_b B2 60. A3 (72) is body_a's alone.
    body_a after = 2 × (72·108/168 + 72·36/96 + 72) + 216 (small) minutes.
    body_b after = 2 × (72·60/168 + 72·60/96) minutes. Both add up to the total 648.
    """
    rows = {r["requester"]: r for r in compute_burden(tiny).to_dict()["per_requester"]}
    body_a = 2 * (72 * 108 / 168 + 72 * 36 / 96 + 72) + 216
    body_b = 2 * (72 * 60 / 168 + 72 * 60 / 96)
    assert body_a + body_b == pytest.approx(648)
    assert rows["body_a"]["hours_before"] == 10.8
    assert rows["body_b"]["hours_before"] == 4.0
    assert rows["body_a"]["hours_after"] == round(body_a / 60, 2)
    assert rows["body_b"]["hours_after"] == round(body_b / 60, 2)
    assert "body_c" not in rows


def test_targets_show_met_and_the_gap(tiny) -> None:
    """It marks each target met or not, with the gap still to close."""
    targets = {t["measure"]: t for t in compute_burden(tiny).to_dict()["targets"]}
    assert targets["hours_reduction_pct"]["met"] is True
    assert targets["hours_reduction_pct"]["actual"] == 27.0
    assert targets["unique_items_reduction_pct"] == {
        **targets["unique_items_reduction_pct"],
        "met": False,
        "gap": 10.0,
        "target": 50.0,
    }
    assert targets["items_served_from_catalogue_pct"]["met"] is True


def test_catalog_min_shows_a_reduction(catalog_min) -> None:
    """It shows fewer hours after than before on the test catalogue (2,384 → 1,208 minutes)."""
    d = compute_burden(catalog_min).to_dict()
    assert d["hours_after"] < d["hours_before"]
    assert d["hours_before"] == round(2384 / 60, 2)
    assert d["hours_after"] == round(1208 / 60, 2)


def test_a_provider_with_no_requests_carries_no_burden(tmp_path: Path) -> None:
    """It gives zero hours, not an error, to a peer group that no request asks."""
    root = write_tiny_catalog(tmp_path / "catalog")
    (root / "requests" / "req_a.yaml").write_text(
        (root / "requests" / "req_a.yaml")
        .read_text()
        .replace("minutes_per_item: 6\n", "minutes_per_item: 6\nrespondents: [big]\n")
    )
    d = compute_burden(load_catalog(root)).to_dict()
    providers = {p["provider"]: p for p in d["per_provider"]}
    assert providers["P03"]["hours_before"] == 0.0
    assert providers["P03"]["hours_after"] == 0.0


def test_an_item_on_a_draft_metric_still_costs_what_it_did(tmp_path: Path) -> None:
    """Until m_count_b is active, B2 and A2 (whose m_pct rests on it) stay on their own forms.

    After, per big provider:
      m_count_a 12 × 6 = 72; A2 12 × 6 = 72; A3 12 × 6 = 72; B2 4 × 15 = 60 → 276 min.
    Small: m_count_a 72 + A2 72 + A3 72 = 216. Total 2 × 276 + 216 = 768 min = 12.8 h.
    """
    root = write_tiny_catalog(tmp_path / "catalog")
    path = root / "metrics" / "test" / "m_count_b.yaml"
    path.write_text(path.read_text().replace("state: active", "state: draft"))
    d = compute_burden(load_catalog(root)).to_dict()
    assert d["hours_before"] == 14.8
    assert d["hours_after"] == 12.8
    assert (d["items_mapped"], d["items_unmapped"]) == (2, 3)
    assert d["unique_metrics_collected"] == 1
