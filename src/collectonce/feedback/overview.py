"""The regulators' overview: one metric across every provider, as a Making Data Count matrix.

Rows of the matrix say whether something has changed (variation: improvement, common cause,
concern, neutral, or no limits yet); columns say whether the target will be met (assurance:
consistently passing, hit and miss, consistently failing, or not assessed). Measurement for
improvement and measurement for judgement in one table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from collectonce.feedback.errors import UnknownMetric
from collectonce.feedback.render import render_template
from collectonce.feedback.sources import load_publication
from collectonce.feedback.spc.series import prepare_series, run_spc
from collectonce.feedback.wording import ASSURANCE_COLUMNS as ASSURANCE_COLUMNS
from collectonce.feedback.wording import DIRECTION_TEXT, target_text
from collectonce.feedback.wording import VARIATION_ROWS as VARIATION_ROWS
from collectonce.feedback.wording import variation_row as variation_row

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog
    from collectonce.settings import Settings

OVERVIEW_COLUMNS = [
    "provider_code",
    "provider_name",
    "peer_group",
    "region",
    "latest_period",
    "latest_value",
    "n_values",
    "limits",
    "mean",
    "lpl",
    "upl",
    "variation_icon",
    "assurance",
    "target",
    "variation_row",
    "assurance_column",
]


def metric_overview(catalog: Catalog, unified: pd.DataFrame, metric_code: str) -> pd.DataFrame:
    """The MDC matrix rows for one metric: one row per provider with data for it.

    SPC runs once, vectorised over every provider's series. Columns: provider_code,
    provider_name, peer_group, region, latest_period, latest_value, n_values, limits, mean,
    lpl, upl, variation_icon, assurance, target, variation_row, assurance_column.

    Raises:
        UnknownMetric: the code is not in the catalogue.
    """
    metric = catalog.metrics.get(metric_code)
    if metric is None:
        raise UnknownMetric(
            f"unknown metric {str(metric_code)[:60]!r}: use a code from catalog/metrics/"
        )
    rows = unified[unified["metric_id"].astype(str) == metric_code]
    series = prepare_series(catalog, rows)
    points, summary = run_spc(series)
    if summary.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OVERVIEW_COLUMNS})
    reported = points[points["value"].notna()]
    last = reported.groupby("provider_code", sort=False)[["period", "value"]].last()
    out = summary[
        ["provider_code", "n_values", "limits", "mean", "lpl", "upl", "variation_icon", "assurance"]
    ].copy()
    out["latest_period"] = (
        out["provider_code"]
        .map(last["period"])
        .map(lambda v: None if pd.isna(v) else pd.Timestamp(v).date())
    )
    out["latest_value"] = out["provider_code"].map(last["value"]).astype("float64")
    out = out[out["n_values"] > 0]
    providers = catalog.providers
    out["provider_name"] = out["provider_code"].map(
        lambda c: providers[str(c)].name if c in providers else ""
    )
    out["peer_group"] = out["provider_code"].map(
        lambda c: providers[str(c)].peer_group if c in providers else ""
    )
    out["region"] = out["provider_code"].map(
        lambda c: providers[str(c)].region if c in providers else ""
    )
    out["target"] = metric.target.value if metric.target else None
    out["variation_icon"] = (
        out["variation_icon"].astype(object).where(out["variation_icon"].notna(), None)
    )
    out["assurance"] = out["assurance"].astype(object).where(out["assurance"].notna(), None)
    out["variation_row"] = out["variation_icon"].map(variation_row)
    out["assurance_column"] = out["assurance"].map(
        lambda a: a if isinstance(a, str) and a else "not_assessed"
    )
    row_order = {k: i for i, (k, _) in enumerate(VARIATION_ROWS)}
    col_order = {k: i for i, (k, _) in enumerate(ASSURANCE_COLUMNS)}
    out = out.assign(
        _r=out["variation_row"].map(row_order), _c=out["assurance_column"].map(col_order)
    ).sort_values(["_r", "_c", "provider_code"])
    return out[OVERVIEW_COLUMNS].reset_index(drop=True)


def overview_matrix(overview: pd.DataFrame) -> list[dict[str, Any]]:
    """The matrix cells: one entry per variation row with, per assurance column, the count
    and the provider codes. The counts add up to the number of providers in `overview`."""
    cells: list[dict[str, Any]] = []
    for key, label in VARIATION_ROWS:
        in_row = overview[overview["variation_row"] == key]
        columns = {}
        for col, _col_label in ASSURANCE_COLUMNS:
            codes = sorted(in_row.loc[in_row["assurance_column"] == col, "provider_code"])
            columns[col] = {"count": len(codes), "providers": codes}
        cells.append({"variation": key, "label": label, "total": len(in_row), "cells": columns})
    return cells


def overview_to_dict(
    catalog: Catalog,
    overview: pd.DataFrame,
    metric_code: str,
    publication: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON-ready description of the overview (for `--json` and the API)."""
    metric = catalog.metrics[metric_code]
    records = []
    for rec in overview.to_dict("records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, float) and v != v:
                v = None
            elif isinstance(v, dt.date):
                v = v.isoformat()
            clean[k] = v
        records.append(clean)
    return {
        "metric": metric_code,
        "label": metric.label,
        "improvement_direction": metric.improvement_direction,
        "target": metric.target.value if metric.target else None,
        "target_comparison": metric.target.comparison if metric.target else None,
        "publication_version": (publication or {}).get("version"),
        "providers": len(overview),
        "matrix": overview_matrix(overview),
        "rows": records,
    }


def render_overview_html(
    catalog: Catalog,
    overview: pd.DataFrame,
    metric_code: str,
    publication: Mapping[str, Any] | None = None,
    *,
    now: dt.datetime | None = None,
) -> str:
    """A static, self-contained HTML page: the MDC matrix and the per-provider table."""
    metric = catalog.metrics[metric_code]
    built = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat()
    with_data = set(overview["provider_code"])
    matrix = overview_matrix(overview)
    # the 3x3 core always shows; other rows and columns only when someone sits in them
    neutral = metric.improvement_direction == "neutral"
    core_rows = (
        {"common_cause", "neutral"} if neutral else {"improvement", "common_cause", "concern"}
    )
    assessed = metric.target is not None and not neutral
    core_cols = {"consistent_pass", "inconsistent", "consistent_fail"} if assessed else set()
    rows = [r for r in matrix if r["variation"] in core_rows or r["total"]]
    columns = [
        (key, label)
        for key, label in ASSURANCE_COLUMNS
        if key in core_cols
        or (
            key == "not_assessed"
            and (not assessed or any(r["cells"][key]["count"] for r in matrix))
        )
    ]
    return render_template(
        "overview.html.j2",
        metric=metric,
        overview=overview.to_dict("records"),
        matrix=rows,
        columns=columns,
        publication=dict(publication or {}),
        built_at=built,
        n_providers=len(overview),
        n_without=len([p for p in catalog.providers if p not in with_data]),
        direction_text=DIRECTION_TEXT[metric.improvement_direction],
        target=target_text(metric) if metric.target else "",
    )


def build_overview(
    catalog: Catalog, settings: Settings, metric_code: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The overview of one metric from the latest publication, and the publication's details.

    Raises:
        UnknownMetric: the code is not in the catalogue.
        NoPublication: nothing has been published yet.
    """
    if metric_code not in catalog.metrics:
        raise UnknownMetric(
            f"unknown metric {str(metric_code)[:60]!r}: use a code from catalog/metrics/"
        )
    unified, info = load_publication(settings, metrics=[metric_code])
    return metric_overview(catalog, unified, metric_code), info
