"""The Great Expectations suites are generated from the catalogue, in the fast shape."""

from __future__ import annotations

import json


def test_it_derives_one_range_per_bound_and_one_pair_per_rule(catalog_min) -> None:
    """It checks every metric sharing a valid bound with one expectation on that bound's column
    of the provider × period pivot, and each cross-metric rule with one pair expectation."""
    from collectonce.validate.suites import WIDE_SUITE, bound_columns, suite_definitions

    wide = suite_definitions(catalog_min)[WIDE_SUITE]["expectations"]
    ranges = {e["kwargs"]["column"]: e for e in wide if e["meta"]["rule"] == "value_range"}
    assert set(ranges) == {"min__ge_0", "max__le_100", "max__le_100000"}
    assert ranges["min__ge_0"]["kwargs"] == {"column": "min__ge_0", "min_value": 0}
    assert ranges["max__le_100000"]["meta"]["metrics"] == ["ae_attendances_type1"]
    assert ranges["max__le_100"]["meta"]["metrics"] == ["staff_sickness_absence_rate"]
    lower = bound_columns(catalog_min)["min__ge_0"]
    assert "ae_4hr_performance_type1" not in lower[2]  # derived: computed, never submitted
    pairs = [e for e in wide if e["meta"]["rule"] == "cross_metric_rule"]
    assert len(pairs) == 1
    (pair,) = pairs
    assert pair["type"] == "expect_column_pair_values_a_to_be_greater_than_b"
    assert pair["kwargs"]["column_A"] == "ae_attendances_type1"
    assert pair["kwargs"]["column_B"] == "ae_breaches_4hr_type1"
    assert pair["kwargs"]["or_equal"] is True


def test_it_lists_known_providers_and_active_metrics_in_the_long_suite(catalog_min) -> None:
    """It checks canonical rows against the catalogue's providers and active metrics, and periods
    against a `current_period` parameter (so the committed file does not change every day)."""
    from collectonce.validate.suites import LONG_SUITE, suite_definitions

    long = suite_definitions(catalog_min)[LONG_SUITE]["expectations"]
    by_rule = {e["meta"]["rule"]: e for e in long}
    assert by_rule["known_provider"]["kwargs"]["value_set"] == ["R1H", "RF4", "RQM", "RRK"]
    active = by_rule["metric_active"]["kwargs"]["value_set"]
    assert "staff_ffp_recommend" not in active  # draft
    assert "ae_4hr_performance_type1" not in active  # derived
    assert by_rule["future_period"]["kwargs"]["max_value"] == {"$PARAMETER": "current_period"}
    assert {e["meta"]["rule"] for e in long} >= {"required_column", "known_metric", "value_status"}


def test_suite_files_are_stable_json_without_row_conditions(catalog_min) -> None:
    """It writes the same JSON every time and never uses a per-metric row_condition (the slow
    shape)."""
    from collectonce.validate.suites import suite_files

    first, second = suite_files(catalog_min), suite_files(catalog_min)
    assert first == second
    assert sorted(first) == ["gx/canonical_rows.json", "gx/provider_period.json"]
    for text in first.values():
        assert "row_condition" not in text
        assert json.loads(text)["meta"]["catalog_version"] == "0.0.1"


def test_build_suites_gives_great_expectations_suites(catalog_min) -> None:
    """It builds real GX ExpectationSuite objects carrying the rule of each expectation."""
    from collectonce.validate.suites import LONG_SUITE, WIDE_SUITE, build_suites, suite_definitions

    suites = build_suites(catalog_min)
    plain = suite_definitions(catalog_min)
    for name in (LONG_SUITE, WIDE_SUITE):
        assert len(suites[name].expectations) == len(plain[name]["expectations"])
        assert all("rule" in e.meta for e in suites[name].expectations)
