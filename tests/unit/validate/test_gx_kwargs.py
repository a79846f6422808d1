"""GX's keyword lookups, built on one configuration a call, answer as GX's own do."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from collectonce.validate import gx_kwargs
from collectonce.validate.gx_import import load_gx

RUNTIME = (
    None,
    {},
    {"result_format": "BASIC"},
    {"result_format": {"result_format": "COMPLETE", "partial_unexpected_count": 5}},
    {"catch_exceptions": True, "include_config": False},
)


@pytest.fixture(scope="module")
def installed() -> bool:
    load_gx()
    if not gx_kwargs.install():
        pytest.skip("this GX release keeps its own methods")
    return True


def expectations(catalog: Any) -> list[Any]:
    """Every expectation of the catalogue's suites, as GX validates them (its parameters set)."""
    from collectonce.validate.suites import CURRENT_PERIOD, build_suites

    found = []
    for suite in build_suites(catalog).values():
        for expectation in suite.expectations:
            config = expectation.configuration
            config.process_suite_parameters({CURRENT_PERIOD: pd.Timestamp(2026, 11, 1)})
            found.append(config.to_domain_obj())
    assert found
    return found


def test_every_expectation_of_the_suites_gets_the_same_keywords(
    installed: bool, shipped_catalog: Any, catalog_min: Any
) -> None:
    original = gx_kwargs.ORIGINALS
    for expectation in [*expectations(shipped_catalog), *expectations(catalog_min)]:
        assert gx_kwargs.get_domain_kwargs(expectation) == original["_get_domain_kwargs"](
            expectation
        )
        assert gx_kwargs.get_success_kwargs(expectation) == original["_get_success_kwargs"](
            expectation
        )
        for runtime in RUNTIME:
            ours = gx_kwargs.get_runtime_kwargs(expectation, runtime)
            theirs = original["_get_runtime_kwargs"](expectation, runtime)
            assert ours == theirs, (type(expectation).__name__, runtime)
            assert list(ours) == list(theirs)


def test_a_changed_expectation_is_seen_as_it_is(installed: bool) -> None:
    gx = load_gx()
    expectation = gx.expectations.ExpectColumnValuesToBeBetween(column="a", min_value=0)
    assert expectation._get_success_kwargs()["min_value"] == 0
    expectation.min_value = 5
    expectation.column = "b"
    assert expectation._get_success_kwargs()["min_value"] == 5
    assert expectation._get_domain_kwargs()["column"] == "b"
    assert expectation._get_runtime_kwargs({"result_format": "BOOLEAN_ONLY"})["result_format"][
        "result_format"
    ] == ("BOOLEAN_ONLY")


def test_validation_finds_the_same_failures_with_either(
    installed: bool, catalog_min: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The long suite over values with an unknown provider, metric and status and a future
    period fails the same expectations on the same values with GX's methods and with these."""
    from great_expectations.expectations.expectation import Expectation

    from collectonce.validate.gx_runner import run_long_suite

    distinct = pd.DataFrame(
        {
            "provider_code": pd.Series(["RF4", "ZZZ9", "RRK"], dtype=object),
            "period": pd.to_datetime(["2018-04-01", "2031-01-01", "2018-05-01"]),
            "metric_id": pd.Series(["ae_attendances_type1", "nope", "nope"], dtype=object),
            "value_status": pd.Series(["reported", "guessed", "reported"], dtype=object),
        }
    )
    today = dt.date(2026, 12, 1)
    ours = run_long_suite(catalog_min, distinct, today)
    with monkeypatch.context() as patched:
        for name, method in gx_kwargs.ORIGINALS.items():
            patched.setattr(Expectation, name, method)
        theirs = run_long_suite(catalog_min, distinct, today)
    assert len(ours) >= 3
    assert [(f.rule, f.kwargs, sorted(map(str, f.values))) for f in ours] == [
        (f.rule, f.kwargs, sorted(map(str, f.values))) for f in theirs
    ]


def test_only_the_releases_compared_get_them() -> None:
    assert gx_kwargs.applies_to("1.24.1")
    assert not gx_kwargs.applies_to("1.25.0")
    assert not gx_kwargs.applies_to("2.0.0")
