"""The overview grouped by region: each region's providers in the Making Data Count matrix,
beside the region's own rolled-up figure and its SPC verdict."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

import pandas as pd

from collectonce.feedback.overview import ASSURANCE_COLUMNS, VARIATION_ROWS, overview_matrix
from collectonce.feedback.render import render_template
from collectonce.feedback.wording import ASSURANCE_SHORT, VARIATION_SHORT

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog
    from collectonce.settings import Settings


class RegionRollup(TypedDict):
    """A region's latest rolled-up figure and its SPC verdict (the overview's ``rollup``)."""

    latest_period: str
    latest_value: float
    providers: int
    providers_expected: int
    partial: bool
    variation: str | None
    assurance: str | None


def region_rollup_verdicts(
    catalog: Catalog, settings: Settings, metric_code: str, version: int | None
) -> dict[str, RegionRollup]:
    """Each region's latest rolled-up value and SPC verdict ({} when the metric does not roll
    up)."""
    from collectonce.feedback.level_spc import level_spc, verdicts
    from collectonce.rollup.errors import RollupError
    from collectonce.rollup.levels import aggregable_metric
    from collectonce.rollup.query import select_rollups

    try:
        aggregable_metric(catalog, metric_code)
    except RollupError:
        return {}
    rows, _ = select_rollups(catalog, settings, metric=metric_code, level="region", as_of=version)
    if rows.empty:
        return {}
    _points, summary = level_spc(catalog, rows)
    found = verdicts(summary)
    out: dict[str, RegionRollup] = {}
    for code, part in rows.groupby("code", sort=True):
        valued = part[part["value"].notna()]
        if valued.empty:
            continue
        last = valued.iloc[-1]
        verdict = found.get((str(code), metric_code))
        out[str(code)] = {
            "latest_period": pd.Timestamp(last["period"]).date().isoformat(),
            "latest_value": float(last["value"]),
            "providers": int(last["providers"]),
            "providers_expected": int(last["providers_expected"]),
            "partial": bool(last["partial"]),
            "variation": verdict["variation"] if verdict else None,
            "assurance": verdict["assurance"] if verdict else None,
        }
    return out


def overview_by_region(
    catalog: Catalog, overview: pd.DataFrame, rollups: Mapping[str, RegionRollup]
) -> list[dict[str, Any]]:
    """One entry per region (Unassigned included): its providers' matrix and its roll-up."""
    label = catalog.levels.unassigned_label
    region = overview["region"].where(overview["region"].astype(bool), label)
    out = []
    for code in catalog.regions:
        part = overview[region == code]
        if part.empty and code not in rollups:
            continue
        matrix = overview_matrix(part)
        out.append(
            {
                "region": code,
                "providers": len(part),
                "variation": {r["variation"]: r["total"] for r in matrix},
                "assurance": {
                    col: sum(r["cells"][col]["count"] for r in matrix)
                    for col, _ in ASSURANCE_COLUMNS
                },
                "matrix": matrix,
                "rollup": rollups.get(code),
            }
        )
    return out


def render_overview_by_region_html(
    catalog: Catalog,
    groups: list[dict[str, Any]],
    metric_code: str,
    publication: Mapping[str, Any] | None = None,
    *,
    now: dt.datetime | None = None,
) -> str:
    metric = catalog.metrics[metric_code]
    built = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat()
    return render_template(
        "overview_regions.html.j2",
        metric=metric,
        groups=groups,
        variation_rows=VARIATION_ROWS,
        assurance_columns=ASSURANCE_COLUMNS,
        variation_short=VARIATION_SHORT,
        assurance_short=ASSURANCE_SHORT,
        publication=dict(publication or {}),
        built_at=built,
    )
