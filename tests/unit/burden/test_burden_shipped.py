"""Contract tests on the shipped catalogue: a real reduction and a plan a provider can use."""

from __future__ import annotations

from collectonce.burden.model import compute_burden
from collectonce.burden.overlap import overlap_summary
from collectonce.burden.plan import collection_plan
from collectonce.dedupe.run import analyse
from collectonce.dedupe.suggest import suggestions


def test_burden_shows_a_real_reduction(shipped_catalog) -> None:
    """It removes hours and cost on the shipped register, for the providers as a whole."""
    d = compute_burden(shipped_catalog).to_dict()
    assert d["hours_before"] > 0
    assert d["hours_after"] < d["hours_before"]
    assert d["cost_saved_gbp"] > 0
    assert d["unique_items"] < d["items_requested"]
    assert d["providers"] == len(shipped_catalog.providers)
    per_requester_after = sum(r["hours_after"] for r in d["per_requester"])
    assert abs(per_requester_after - d["hours_after"]) < 0.05 * len(d["per_requester"])
    assert len(d["targets"]) == len(shipped_catalog.targets.targets) > 0


def test_rf4_plan_for_january_2019_lists_each_metric_once_with_requesters(shipped_catalog) -> None:
    """It lists every collected metric RF4 owes for 2019-01 once, each with who uses it."""
    plan = collection_plan(shipped_catalog, "RF4", "2019-01").to_dict()
    metrics = [item["metric"] for item in plan["items"]]
    assert metrics, "RF4 owes nothing for 2019-01"
    assert len(metrics) == len(set(metrics))
    assert "ae_attendances_type1" in metrics
    for item in plan["items"]:
        assert item["requesters"], item["metric"]
        assert item["why_collected"]
        assert not shipped_catalog.metrics[item["metric"]].is_derived


def test_the_same_a_and_e_figure_is_asked_for_by_several_bodies(shipped_catalog) -> None:
    """It finds type 1 A&E attendances shared by three or more requesters."""
    summary = overlap_summary(shipped_catalog).set_index("metric")
    assert summary.loc["ae_attendances_type1", "requesters_incl_derived"] >= 3


def test_suggestions_run_on_the_shipped_register(shipped_catalog) -> None:
    """It scores every suggestion between 0 and 1 and names a metric that exists."""
    rows = suggestions(analyse(shipped_catalog), min_score=0.0)
    assert all(0 <= r["score"] <= 1 for r in rows)
    named = {r["suggested_metric"] for r in rows if r["suggested_metric"]}
    assert named <= set(shipped_catalog.metrics)
