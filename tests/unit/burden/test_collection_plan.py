"""The collection plan: what a provider owes for a month, each collected metric once."""

from __future__ import annotations

import pytest

from collectonce.burden.plan import collection_plan
from collectonce.burden.plan_model import (
    BadPeriod,
    PlanError,
    UnknownProvider,
    is_due,
    reporting_period,
)


def _items(plan) -> dict[str, dict]:
    return {item["metric"]: item for item in plan.to_dict()["items"]}


def test_rf4_march_lists_every_metric_once_with_its_requesters(catalog_min) -> None:
    """It lists each collected metric once for RF4 in 2019-03, with every body that uses it."""
    plan = collection_plan(catalog_min, "RF4", "2019-03")
    metrics = [item["metric"] for item in plan.to_dict()["items"]]
    assert len(metrics) == len(set(metrics))
    items = _items(plan)
    assert set(items) == {
        "ae_attendances_type1",
        "ae_breaches_4hr_type1",
        "ae_emergency_admissions",
        "staff_sickness_absence_rate",
    }
    assert [r["code"] for r in items["ae_attendances_type1"]["requesters"]] == [
        "cqc",
        "icb_quality",
        "nhs_england",
    ]
    assert {r["name"] for r in items["ae_attendances_type1"]["requesters"]} >= {"NHS England"}
    assert all(item["why_collected"] and item["requesters"] for item in items.values())


def test_derived_metrics_are_replaced_by_their_collected_inputs(catalog_min) -> None:
    """It never asks for ae_4hr_performance_type1; CQC's percentage item rests on its inputs."""
    items = _items(collection_plan(catalog_min, "RF4", "2019-03"))
    assert "ae_4hr_performance_type1" not in items
    for code in ("ae_attendances_type1", "ae_breaches_4hr_type1"):
        uses = items[code]["requests"]
        assert {"request": "cqc_uec_quarterly", "their_code": "UEC03"}.items() <= next(
            u for u in uses if u["their_code"] == "UEC03"
        ).items()
        assert any(u["via"] == "ae_4hr_performance_type1" for u in uses)
    assert (
        collection_plan(catalog_min, "RF4", "2019-03").to_dict()["summary"][
            "items_computed_from_derived_metrics"
        ]
        == 1
    )


def test_quarterly_requests_are_due_in_the_last_month_of_the_quarter(catalog_min) -> None:
    """It includes CQC's quarterly return in March (2018/19 Q4) but not in January."""
    march = collection_plan(catalog_min, "RF4", "2019-03").to_dict()
    january = collection_plan(catalog_min, "RF4", "2019-01").to_dict()
    assert {r["request"]: r["reporting_period"] for r in march["requests_due"]}[
        "cqc_uec_quarterly"
    ] == "2018/19 Q4"
    assert "cqc_uec_quarterly" not in {r["request"] for r in january["requests_due"]}
    assert "ae_breaches_4hr_type1" in _items(collection_plan(catalog_min, "RF4", "2019-01"))


def test_requesters_include_later_returns_that_add_the_month_in(catalog_min) -> None:
    """January's breaches serve NHS England now and CQC's 2018/19 Q4 sum later; both are listed."""
    item = _items(collection_plan(catalog_min, "RF4", "2019-01"))["ae_breaches_4hr_type1"]
    assert [r["code"] for r in item["requesters"]] == ["cqc", "nhs_england"]
    later = [u for u in item["requests"] if not u["due_now"]]
    assert {(u["request"], u["reporting_period"], u["due"]) for u in later} == {
        ("cqc_uec_quarterly", "2018/19 Q4", "2019-04-30")
    }
    assert {u["their_code"] for u in later} == {"UEC02", "UEC03"}  # UEC03 via the percentage
    assert item["due"] == "2019-02-15"  # NHS England's deadline: the one due now


def test_a_period_end_snapshot_is_not_credited_to_an_earlier_month(
    catalog_min_dir, tmp_path
) -> None:
    """A quarterly item taking the quarter's last value does not use January's figure."""
    import shutil

    from collectonce.catalog import load_catalog

    root = tmp_path / "catalog"
    shutil.copytree(catalog_min_dir, root)
    path = root / "requests" / "cqc_uec_quarterly.yaml"
    path.write_text(
        path.read_text().replace(
            "metric: ae_breaches_4hr_type1, transform: {aggregate: sum}",
            "metric: ae_breaches_4hr_type1, transform: {aggregate: last}",
        )
    )
    item = _items(collection_plan(load_catalog(root), "RF4", "2019-01"))["ae_breaches_4hr_type1"]
    assert {u["request"] for u in item["requests"]} == {"nhse_ae_monthly", "cqc_uec_quarterly"}
    assert all(u["their_code"] != "UEC02" for u in item["requests"])


def test_a_draft_metric_is_not_asked_for(catalog_min_dir, tmp_path) -> None:
    """An item mapped to a draft metric stays on the request's own form, with the reason."""
    import shutil

    from collectonce.catalog import load_catalog

    root = tmp_path / "catalog"
    shutil.copytree(catalog_min_dir, root)
    path = root / "requests" / "cqc_uec_quarterly.yaml"
    path.write_text(
        path.read_text()
        + '  - {their_code: "UEC08", their_label: Staff FFP, metric: staff_ffp_recommend}\n'
    )
    plan = collection_plan(load_catalog(root), "RF4", "2019-03").to_dict()
    assert "staff_ffp_recommend" not in {i["metric"] for i in plan["items"]}
    (row,) = [u for u in plan["unmapped_items"] if u["their_code"] == "UEC08"]
    assert "draft" in row["reason"]


def test_a_metric_only_a_quarterly_request_needs_is_owed_for_each_month_of_the_quarter(
    catalog_min,
) -> None:
    """It asks RQM (no commissioner schedule) for sickness absence for January to March."""
    items = _items(collection_plan(catalog_min, "RQM", "2019-03"))
    assert items["staff_sickness_absence_rate"]["periods"] == ["2019-01", "2019-02", "2019-03"]
    assert items["ae_attendances_type1"]["periods"] == ["2019-03"]
    assert "staff_sickness_absence_rate" not in _items(
        collection_plan(catalog_min, "RQM", "2019-02")
    )


def test_respondents_limit_who_owes_a_request(catalog_min) -> None:
    """It leaves the commissioner schedule (acute_large only) out of RQM's plan."""
    due = collection_plan(catalog_min, "RQM", "2019-01").to_dict()["requests_due"]
    assert [r["request"] for r in due] == ["nhse_ae_monthly"]


def test_each_metric_is_due_at_the_earliest_deadline(catalog_min) -> None:
    """It dates attendances to the commissioner's 10-day deadline, not NHS England's 15."""
    items = _items(collection_plan(catalog_min, "RF4", "2019-03"))
    assert items["ae_attendances_type1"]["due"] == "2019-04-10"
    assert items["ae_breaches_4hr_type1"]["due"] == "2019-04-15"


def test_unmapped_items_are_listed_apart(catalog_min) -> None:
    """It tells the provider which items are still on a request's own form."""
    plan = collection_plan(catalog_min, "RF4", "2019-03").to_dict()
    assert [u["their_code"] for u in plan["unmapped_items"]] == ["UEC99"]


def test_lower_case_ods_codes_are_accepted(catalog_min) -> None:
    """It treats rf4 as RF4."""
    assert collection_plan(catalog_min, " rf4 ", "2019-01").provider.ods_code == "RF4"


def test_it_refuses_an_unknown_provider(catalog_min) -> None:
    """It raises a ValueError naming providers.csv for an ODS code not in the catalogue."""
    with pytest.raises(UnknownProvider, match=r"unknown provider 'ZZZ'.*providers\.csv"):
        collection_plan(catalog_min, "ZZZ", "2019-03")
    assert issubclass(UnknownProvider, ValueError)


@pytest.mark.parametrize("period", ["2019-3", "2019-13", "2019-00", "March 2019", "2019-03-01", ""])
def test_it_refuses_a_period_that_is_not_yyyy_mm(catalog_min, period: str) -> None:
    """It raises BadPeriod saying to write the month as YYYY-MM."""
    with pytest.raises(BadPeriod, match="YYYY-MM") as info:
        collection_plan(catalog_min, "RF4", period)
    assert isinstance(info.value, PlanError)
    assert info.value.exit_code == 2


def test_yearly_requests_are_due_in_march_for_the_financial_year() -> None:
    """It makes a yearly request due in March, reporting on the financial year (2018/19)."""
    assert [m for m in range(1, 13) if is_due("year", m)] == [3]
    assert [m for m in range(1, 13) if is_due("quarter", m)] == [3, 6, 9, 12]
    assert reporting_period("year", 2019, 3) == "2018/19"
    assert reporting_period("quarter", 2019, 12) == "2019/20 Q3"
    assert reporting_period("quarter", 2019, 12, "january") == "2019-Q4"
    assert [m for m in range(1, 13) if is_due("year", m, "january")] == [12]
