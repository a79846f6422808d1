"""Great Expectations suites generated from the catalogue (committed under schemas/gx/).

Two suites, each in the shape in which Great Expectations is fast:

``canonical_rows``
    Column expectations on the canonical long rows: required columns, no blank keys, known
    providers, known and active metrics, known value statuses, and no period in the future.
    Every one of them is a statement about each *value* of a column ("every provider_code is in
    the provider list"), so it holds for the rows exactly when it holds for the column's distinct
    values. The runner therefore validates a frame of distinct values (a few hundred rows however
    large the file) and maps the unexpected values back onto the rows.

``provider_period``
    One row per file × provider × period and one column per collected metric (the wide pivot),
    plus one *bound column* per distinct valid minimum or maximum in the catalogue: the lowest
    (or highest) value, in that row, of the metrics sharing that bound (see `bound_columns`).
    Each bound is one ``expect_column_values_to_be_between`` and each cross-metric rule one
    column-pair expectation: a catalogue of 66 collected metrics costs about 30 whole-column
    expectations. Great Expectations spends roughly 30 ms of fixed work per expectation per run,
    so one expectation per metric (about 90) tripled the cost; one ``row_condition`` expectation
    per metric on the long rows costs 60 times the floor.

Each expectation carries ``meta.rule`` (the finding's rule), ``meta.severity`` and, where it
applies, ``meta.metric``; the runner turns results into findings from that alone. The period
check takes the current period as the suite parameter ``current_period``.
"""

from __future__ import annotations

import json
from typing import Any

from collectonce.catalog import Catalog
from collectonce.contracts import VALUE_STATUSES
from collectonce.validate.gx_import import load_gx

LONG_SUITE = "canonical_rows"
WIDE_SUITE = "provider_period"
#: Columns every canonical row has (the reader refuses a file without their sources).
REQUIRED_COLUMNS = ("provider_code", "period", "metric_id", "value_status")
#: The suite parameter holding the first day of the current month.
CURRENT_PERIOD = "current_period"

_PAIR_OPS: dict[str, tuple[str, bool, bool]] = {
    # op: (expectation, this metric is column_A, or_equal)
    "lte": ("expect_column_pair_values_a_to_be_greater_than_b", False, True),
    "lt": ("expect_column_pair_values_a_to_be_greater_than_b", False, False),
    "gte": ("expect_column_pair_values_a_to_be_greater_than_b", True, True),
    "gt": ("expect_column_pair_values_a_to_be_greater_than_b", True, False),
    "eq": ("expect_column_pair_values_to_be_equal", True, False),
}


def _expectation(
    kind: str, kwargs: dict[str, Any], rule: str, severity: str = "error", **meta: Any
) -> dict[str, Any]:
    return {
        "type": kind,
        "kwargs": kwargs,
        "meta": {"rule": rule, "severity": severity, **meta},
    }


def long_expectations(catalog: Catalog) -> list[dict[str, Any]]:
    """Expectations on canonical long rows (validated on their distinct values)."""
    providers = sorted(catalog.providers)
    metrics = sorted(catalog.metrics)
    collected = sorted(m.code for m in catalog.collected_metrics)
    out = [
        _expectation("expect_column_to_exist", {"column": column}, "required_column")
        for column in REQUIRED_COLUMNS
    ]
    out += [
        _expectation("expect_column_values_to_not_be_null", {"column": column}, "required_value")
        for column in REQUIRED_COLUMNS
    ]
    out += [
        _expectation(
            "expect_column_values_to_be_in_set",
            {"column": "provider_code", "value_set": providers},
            "known_provider",
        ),
        _expectation(
            "expect_column_values_to_be_in_set",
            {"column": "metric_id", "value_set": metrics},
            "known_metric",
        ),
        _expectation(
            "expect_column_values_to_be_in_set",
            {"column": "metric_id", "value_set": collected},
            "metric_active",
        ),
        _expectation(
            "expect_column_values_to_be_in_set",
            {"column": "value_status", "value_set": list(VALUE_STATUSES)},
            "value_status",
        ),
        _expectation(
            "expect_column_values_to_be_between",
            {"column": "period", "max_value": {"$PARAMETER": CURRENT_PERIOD}},
            "future_period",
        ),
    ]
    return out


def _num(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def _bound_text(value: float) -> str:
    number = _num(value)
    return f"minus{-number}" if number is not None and number < 0 else str(number)


def bound_columns(catalog: Catalog) -> dict[str, tuple[str, float, list[str]]]:
    """The pivot's bound columns: name → ("min" | "max", bound, metrics sharing that bound).

    ``min__ge_0`` holds, per provider and period, the lowest value of every metric whose valid
    minimum is 0; ``max__le_100`` the highest value of every metric whose maximum is 100. One
    expectation per bound then checks every metric that shares it.
    """
    lower: dict[float, list[str]] = {}
    upper: dict[float, list[str]] = {}
    for metric in sorted(catalog.collected_metrics, key=lambda m: m.code):
        if metric.valid.min is not None:
            lower.setdefault(float(metric.valid.min), []).append(metric.code)
        if metric.valid.max is not None:
            upper.setdefault(float(metric.valid.max), []).append(metric.code)
    out: dict[str, tuple[str, float, list[str]]] = {}
    for bound, codes in sorted(lower.items()):
        out[f"min__ge_{_bound_text(bound)}"] = ("min", bound, codes)
    for bound, codes in sorted(upper.items()):
        out[f"max__le_{_bound_text(bound)}"] = ("max", bound, codes)
    return out


def wide_expectations(catalog: Catalog) -> list[dict[str, Any]]:
    """Expectations on the provider × period pivot: valid ranges and cross-metric rules."""
    collected = {m.code for m in catalog.collected_metrics}
    out: list[dict[str, Any]] = []
    for column, (side, bound, codes) in bound_columns(catalog).items():
        key = "min_value" if side == "min" else "max_value"
        out.append(
            _expectation(
                "expect_column_values_to_be_between",
                {"column": column, key: _num(bound)},
                "value_range",
                bound=side,
                metrics=codes,
            )
        )
    for metric in sorted(catalog.collected_metrics, key=lambda m: m.code):
        for rule in metric.rules:
            if rule.other not in collected:
                continue  # a rule on a derived or inactive metric is checked when publishing
            kind, this_is_a, or_equal = _PAIR_OPS[rule.op]
            a, b = (metric.code, rule.other) if this_is_a else (rule.other, metric.code)
            kwargs: dict[str, Any] = {
                "column_A": a,
                "column_B": b,
                "ignore_row_if": "either_value_is_missing",
            }
            if kind.endswith("greater_than_b"):
                kwargs["or_equal"] = or_equal
            out.append(
                _expectation(
                    kind,
                    kwargs,
                    "cross_metric_rule",
                    metric=metric.code,
                    other=rule.other,
                    op=rule.op,
                )
            )
    return out


def suite_definitions(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """Both suites as plain dictionaries (the committed JSON), keyed by suite name."""
    meta = {"catalog_version": catalog.version, "generated_from": "catalog/"}
    return {
        LONG_SUITE: {
            "name": LONG_SUITE,
            "meta": {
                **meta,
                "shape": "canonical long rows, validated on the distinct values of each column",
                "parameters": [CURRENT_PERIOD],
            },
            "expectations": long_expectations(catalog),
        },
        WIDE_SUITE: {
            "name": WIDE_SUITE,
            "meta": {
                **meta,
                "shape": "one row per file, provider and period; one column per collected metric",
                "key": "the frame's index is the file × provider × period group",
            },
            "expectations": wide_expectations(catalog),
        },
    }


def suite_files(catalog: Catalog) -> dict[str, str]:
    """The suites as JSON files for schemas/ (picked up by `collectonce catalog generate`)."""
    return {
        f"gx/{name}.json": json.dumps(suite, indent=2, sort_keys=True) + "\n"
        for name, suite in suite_definitions(catalog).items()
    }


def build_suites(catalog: Catalog) -> dict[str, Any]:
    """Great Expectations `ExpectationSuite` objects for both suites, keyed by suite name."""
    gx = load_gx()
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    suites: dict[str, Any] = {}
    for name, definition in suite_definitions(catalog).items():
        expectations = [
            ExpectationConfiguration(
                type=e["type"], kwargs=e["kwargs"], meta=e["meta"]
            ).to_domain_obj()
            for e in definition["expectations"]
        ]
        suites[name] = gx.ExpectationSuite(
            name=name, expectations=expectations, meta=definition["meta"]
        )
    return suites
