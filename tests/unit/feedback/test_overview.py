"""The regulators' overview: one metric's variation x assurance matrix across providers."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from collectonce.feedback.overview import (
    metric_overview,
    overview_matrix,
    overview_to_dict,
    render_overview_html,
)
from collectonce.feedback.pack import UnknownMetric

METRIC = "ae_4hr_performance_type1"  # increase is better, target >= 95


def series(ods: str, values: list[float], metric: str = METRIC) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "provider_code": ods,
            "period": [
                (pd.Timestamp("2017-04-01") + pd.DateOffset(months=i)).date() for i in range(n)
            ],
            "metric_id": metric,
            "value": values,
            "value_status": "reported",
            "is_derived": True,
            "is_late": False,
            "revision": 1,
        }
    )


def noisy(level: float, spread: float, n: int = 24, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(level + rng.normal(0, spread, n))


@pytest.fixture
def five_trusts() -> pd.DataFrame:
    """RF4 passes, RRK fails, R1H hits and misses, RQM improves, RXX has one month."""
    step_up = noisy(90, 0.8, 16, seed=4) + noisy(93.5, 0.8, 8, seed=5)
    return pd.concat(
        [
            series("RF4", noisy(98.5, 0.4, seed=1)),
            series("RRK", noisy(80, 1.5, seed=2)),
            series("R1H", noisy(95, 2.0, seed=3)),
            series("RQM", step_up),
            series("RXX", [91.0]),
            series("RF4", noisy(9000, 300, seed=6), metric="ae_attendances_type1"),
        ],
        ignore_index=True,
    )


def test_matrix_counts_add_up_to_the_providers_with_data(catalog_min, five_trusts):
    """It places each provider with data for the metric in exactly one cell."""
    table = metric_overview(catalog_min, five_trusts, METRIC)
    assert sorted(table["provider_code"]) == ["R1H", "RF4", "RQM", "RRK", "RXX"]
    matrix = overview_matrix(table)
    assert sum(row["total"] for row in matrix) == 5
    assert sum(c["count"] for row in matrix for c in row["cells"].values()) == 5

    where = table.set_index("provider_code")[["variation_row", "assurance_column"]]
    assert tuple(where.loc["RF4"]) == ("common_cause", "consistent_pass")
    assert tuple(where.loc["RRK"]) == ("common_cause", "consistent_fail")
    assert tuple(where.loc["R1H"]) == ("common_cause", "inconsistent")
    assert where.loc["RQM", "variation_row"] == "improvement"
    assert tuple(where.loc["RXX"]) == ("no_limits", "not_assessed")


def test_overview_of_a_metric_without_target_is_not_assessed(catalog_min, five_trusts):
    """It puts every provider in the 'not assessed' column for a metric with no target."""
    table = metric_overview(catalog_min, five_trusts, "ae_attendances_type1")
    assert table["provider_code"].tolist() == ["RF4"]
    assert table["assurance_column"].tolist() == ["not_assessed"]


def test_unknown_metric_is_refused(catalog_min, five_trusts):
    """It refuses a metric code that is not in the catalogue with a ValueError."""
    with pytest.raises(UnknownMetric, match="no_such_metric"):
        metric_overview(catalog_min, five_trusts, "no_such_metric")
    with pytest.raises(ValueError):
        metric_overview(catalog_min, five_trusts, "no_such_metric")


def test_overview_page_shows_the_matrix_and_every_provider(catalog_min, five_trusts):
    """It renders the 3x3-style matrix with counts and codes, and one row per provider."""
    table = metric_overview(catalog_min, five_trusts, METRIC)
    html = render_overview_html(catalog_min, table, METRIC, {"version": 7})

    assert '<html lang="en-GB">' in html
    assert 'id="mdc-matrix"' in html
    counts = [int(c) for c in re.findall(r'data-count="(\d+)"', html)]
    assert sum(counts) == 5
    assert len(re.findall(r'data-provider="[A-Z0-9]+"', html)) == 5
    assert "Consistently failing" in html
    assert "Version 7" in html
    assert "<script" not in html


def test_overview_dict_is_json_ready(catalog_min, five_trusts):
    """It describes the overview as plain JSON values (no NaN, dates as text)."""
    import json

    table = metric_overview(catalog_min, five_trusts, METRIC)
    data = overview_to_dict(catalog_min, table, METRIC, {"version": 1})
    text = json.dumps(data, allow_nan=False)
    assert data["providers"] == 5
    assert '"latest_period": "2019-03-01"' in text


def test_overview_does_not_modify_its_input(catalog_min, five_trusts):
    """It leaves the unified frame untouched."""
    before = five_trusts.copy()
    metric_overview(catalog_min, five_trusts, METRIC)
    pd.testing.assert_frame_equal(five_trusts, before)
