"""The dedupe table: which items across requests are the same metric."""

from __future__ import annotations

from collectonce.burden.overlap import OVERLAP_COLUMNS, overlap_summary, overlap_table


def test_the_shared_metric_appears_once_per_request_item(catalog_min) -> None:
    """It lists ae_attendances_type1 against the four items of three requests that ask for it."""
    table = overlap_table(catalog_min)
    assert list(table.columns) == OVERLAP_COLUMNS
    rows = table[table["metric"] == "ae_attendances_type1"]
    assert set(zip(rows["request"], rows["their_code"], strict=True)) == {
        ("nhse_ae_monthly", "A1"),
        ("icb_quality_monthly", "QS1"),
        ("icb_quality_monthly", "QS2"),
        ("cqc_uec_quarterly", "UEC01"),
    }
    assert set(rows["requester"]) == {"nhs_england", "icb_quality", "cqc"}
    assert set(rows["frequency"]) == {"month", "quarter"}


def test_a_many_to_many_item_appears_under_each_of_its_metrics(catalog_min) -> None:
    """It shows QS2 (attendances and admissions) under both metrics it needs."""
    table = overlap_table(catalog_min)
    qs2 = table[table["their_code"] == "QS2"]
    assert sorted(qs2["metric"]) == ["ae_attendances_type1", "ae_emergency_admissions"]


def test_unmapped_items_are_not_in_the_dedupe_table(catalog_min) -> None:
    """It leaves out items that map to no metric (they are for `requests suggest`)."""
    assert "UEC99" not in set(overlap_table(catalog_min)["their_code"])


def test_summary_counts_requests_and_requesters_per_metric(catalog_min) -> None:
    """It ranks the most shared metric first and counts indirect use through derived metrics."""
    summary = overlap_summary(catalog_min).set_index("metric")
    assert summary.index[0] == "ae_attendances_type1"
    assert summary.loc["ae_attendances_type1", "requesters"] == 3
    assert summary.loc["ae_attendances_type1", "requests"] == 3
    assert summary.loc["ae_attendances_type1", "items"] == 4
    assert summary.loc["ae_4hr_performance_type1", "is_derived"]
    # CQC asks for breaches directly and through the derived 4-hour percentage: still 2 bodies.
    assert summary.loc["ae_breaches_4hr_type1", "requesters_incl_derived"] == 2


def test_overlap_does_not_change_the_catalogue(catalog_min) -> None:
    """It returns a new frame each time, so callers can sort or filter it freely."""
    first = overlap_table(catalog_min)
    first.drop(first.index, inplace=True)
    assert len(overlap_table(catalog_min)) == 11
