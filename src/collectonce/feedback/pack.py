"""A provider's feedback pack: its own data given back with Making Data Count SPC, assurance
against targets, its position among its peers, why each figure is collected and who uses it.

The core is pure: `build_pack(catalog, unified, ods, receipts)` turns a frame shaped like the
unified table into a `Pack`; `render_pack_html`, `write_pack_xlsx` and `write_pack_csv` render
it. The wrappers `build_provider_pack`, `build_pack_html` and `build_all_packs` read the
latest publication from the data folder and write under ``settings.packs_dir``.

How awkward series are handled (and said on the page):

* Suppressed (``*``) and missing values, and periods with no row at all between a series'
  first and last period, become gaps: they stay out of the mean and limits, no moving range
  bridges them, and a run or trend does not continue across them.
* Fewer than 13 points: the limits are *trial limits* and labelled as such.
* All values equal (every moving range zero): NHSRplotthedots gives no limits, since screening
  keeps no range; the chart shows the mean only and the page explains there is no variation.
* Zero moving ranges once large jumps are screened out: zero-width limits, explained.
* Fewer than 2 values, or no two consecutive values: no limits; a table only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from collectonce.atomic import file_lock
from collectonce.errors import FeedbackError
from collectonce.feedback.wording import (
    ASSURANCE_SHORT,
    ASSURANCE_TEXT,
    DIRECTION_TEXT,
    LATE_TEXT,
    POINT_TYPE_TEXT,
    RULE_TEXT,
    VARIATION_SHORT,
    VARIATION_TEXT,
)
from collectonce.feedback.wording import format_value as format_value
from collectonce.nhs_periods import MONTHS_IN, label_of
from collectonce.publish import workbook
from collectonce.publish.exports import neutralise, safe_frame

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog
    from collectonce.catalog.models import Metric, Provider
from collectonce.settings import Settings

#: Bump when the pack's content or layout changes, so every pack is rebuilt once.
PACK_FORMAT = 3
SERIES_COLS = ["provider_code", "metric_id"]
RECENT_POINTS = 12
RECEIPTS_SHOWN = 10
TRIAL_LIMIT_POINTS = 13

#: Data sheet / CSV columns, in order.
DATA_COLUMNS = [
    "provider",
    "metric",
    "period",
    "value",
    "mean",
    "lpl",
    "upl",
    "point_type",
    "special_cause_type",
    "flags",
    "comment",
]

STATUS_FLAG: dict[str, str] = {
    "suppressed": "suppressed",
    "missing": "missing",
    "not_submitted": "not submitted",
}


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class PackError(FeedbackError, ValueError):
    """A pack cannot be built; the message is one plain-English line."""


class UnknownProvider(PackError):
    """The ODS code is not a provider in the catalogue."""


class UnknownMetric(PackError):
    """The metric code is not in the catalogue."""


class NoPublication(PackError):
    """Nothing has been published yet, so there is no data to give back."""

    def __init__(
        self, message: str = "nothing has been published yet: run `collectonce publish` first"
    ) -> None:
        super().__init__(message)


def _peer_codes(catalog: Catalog, provider: Provider) -> list[str]:
    """The provider and every other provider of its peer group."""
    return [o for o, p in catalog.providers.items() if p.peer_group == provider.peer_group]


def _provider(catalog: Catalog, ods: str) -> Provider:
    code = str(ods).strip().upper()
    provider = catalog.providers.get(code)
    if provider is None:
        raise UnknownProvider(
            f"unknown provider {str(ods)[:20]!r}: use an ODS code listed in providers.csv"
        )
    return provider


# --------------------------------------------------------------------------------------------
# The pack's parts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerPosition:
    """Where the provider's latest value sits among its peer group for the same period."""

    peer_group: str
    period: dt.date
    value: float
    rank: int  # 1 = best (or highest, when neither direction is better)
    n_peers: int  # providers of the group with a value for the period, this one included
    quartile: int  # 1 = best quarter
    peer_median: float
    direction: str

    @property
    def is_alone(self) -> bool:
        """No other provider of the group reported the period: there is nothing to compare."""
        return self.n_peers <= 1

    @property
    def higher_is_better(self) -> bool | None:
        return {"increase": True, "decrease": False}.get(self.direction)

    @property
    def rank_basis(self) -> str:
        if self.direction == "increase":
            return "1 = highest, and higher is better"
        if self.direction == "decrease":
            return "1 = lowest, and lower is better"
        return "1 = highest; neither higher nor lower is better"

    def quartile_text(self) -> str:
        if self.direction == "neutral":
            return ["highest", "second highest", "second lowest", "lowest"][self.quartile - 1]
        return ["best", "second best", "second worst", "worst"][self.quartile - 1]


@dataclass(frozen=True)
class MetricUse:
    """One request item that needs the metric (directly or through a derived metric)."""

    requester: str
    requester_name: str
    request: str
    request_title: str
    items: tuple[str, ...]
    via: str | None = None


@dataclass(frozen=True)
class MetricPanel:
    """One metric of the pack: its points with limits and signals, icons, notes and context."""

    metric: Metric
    points: pd.DataFrame  # one row per period (gaps included), oldest first
    n_values: int
    limits: str  # "limits" | "trial_limits" | "zero_width" | "no_variation" | "too_few_points"
    variation_icon: str | None
    assurance: str | None
    latest_period: dt.date | None
    latest_value: float | None
    notes: tuple[str, ...]
    peer: PeerPosition | None
    uses: tuple[MetricUse, ...]
    requesters: tuple[tuple[str, str], ...]  # (code, name)

    @property
    def code(self) -> str:
        return self.metric.code

    @property
    def has_limits(self) -> bool:
        return self.limits != "too_few_points"

    @property
    def limits_label(self) -> str:
        return {
            "limits": "Limits",
            "trial_limits": "Trial limits",
            "zero_width": "Zero-width limits",
            "no_variation": "No variation: no limits",
            "too_few_points": "Too few points for limits",
        }[self.limits]

    @property
    def signals(self) -> pd.DataFrame:
        """The points flagged as special cause."""
        pts = self.points
        return pts[pts["point_type"].notna() & (pts["point_type"] != "common_cause")]

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        """The points as plain dicts, oldest first (what the page's tables show)."""
        columns = self.columns
        names = list(columns)
        period = pd.DatetimeIndex(columns["period"]).tolist()  # Timestamps, as the page expects
        lists = [period, *(columns[c].tolist() for c in names[1:])]
        return [dict(zip(names, row, strict=True)) for row in zip(*lists, strict=True)]

    @cached_property
    def columns(self) -> dict[str, np.ndarray]:
        """The columns the page and the exports show, as arrays (numbers as float64, text as
        objects), oldest first."""
        pts = self.points
        out: dict[str, np.ndarray] = {"period": _as_period(pts["period"]).to_numpy()}
        for c in ("value", "mean", "lpl", "upl"):
            out[c] = pts[c].to_numpy(dtype="float64", na_value=np.nan)
        for c in ("point_type", "special_cause_type", "flags", "comment"):
            out[c] = pts[c].to_numpy(dtype=object)
        return out

    @property
    def n_signals(self) -> int:
        return sum(1 for r in self.records if r["point_type"] and r["point_type"] != "common_cause")


@dataclass(frozen=True)
class Pack:
    """One provider's feedback pack."""

    provider: Provider
    panels: tuple[MetricPanel, ...]
    receipts: tuple[dict[str, Any], ...]
    publication_version: int | None
    published_at: str | None
    catalog_version: str
    built_at: str
    unmatched_metrics: tuple[str, ...] = field(default=())
    #: metric → its region's and England's figures for the provider's latest period
    beside: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)

    @property
    def ods(self) -> str:
        return self.provider.ods_code

    @property
    def latest_period(self) -> dt.date | None:
        periods = [p.latest_period for p in self.panels if p.latest_period is not None]
        return max(periods) if periods else None

    def by_domain(self) -> list[tuple[str, list[MetricPanel]]]:
        groups: dict[str, list[MetricPanel]] = {}
        for panel in self.panels:
            groups.setdefault(panel.metric.domain or "other", []).append(panel)
        return list(groups.items())

    def summary_frame(self) -> pd.DataFrame:
        """The MDC summary matrix: one row per metric with data."""
        rows = []
        for p in self.panels:
            peer = p.peer
            rows.append(
                {
                    "domain": domain_label(p.metric.domain),
                    "metric": p.code,
                    "label": p.metric.label,
                    "unit": p.metric.unit,
                    "latest_period": p.latest_period,
                    "latest_value": p.latest_value,
                    "variation_icon": p.variation_icon or "",
                    "variation": VARIATION_SHORT.get(p.variation_icon or "", "Not assessed"),
                    "assurance_icon": p.assurance or "",
                    "assurance": ASSURANCE_SHORT.get(p.assurance or "", "Not assessed"),
                    "target": p.metric.target.value if p.metric.target else None,
                    "target_comparison": target_text(p.metric) if p.metric.target else "",
                    "limits": p.limits_label,
                    "improvement_direction": p.metric.improvement_direction,
                    "peer_group": peer.peer_group if peer else "",
                    "peer_rank": peer.rank if peer else None,
                    "n_peers": peer.n_peers if peer else None,
                    "peer_quartile": peer.quartile if peer else None,
                    "peer_median": peer.peer_median if peer else None,
                }
            )
        return pd.DataFrame(rows)

    def mdc_grid(self) -> list[dict[str, Any]]:
        """The Making Data Count summary matrix: variation (rows) by assurance (columns), each
        cell holding the panels of the metrics that sit in it. Every row and column is kept,
        empty or not, so the grid always has the same shape."""
        from collectonce.feedback.wording import ASSURANCE_COLUMNS, VARIATION_ROWS, variation_row

        cells: dict[tuple[str, str], list[MetricPanel]] = {}
        for panel in self.panels:
            column = panel.assurance if panel.assurance in ASSURANCE_SHORT else "not_assessed"
            cells.setdefault((variation_row(panel.variation_icon), column), []).append(panel)
        return [
            {
                "variation": key,
                "label": label,
                "cells": {col: cells.get((key, col), []) for col, _ in ASSURANCE_COLUMNS},
                "total": sum(len(cells.get((key, col), [])) for col, _ in ASSURANCE_COLUMNS),
            }
            for key, label in VARIATION_ROWS
        ]

    def data_frame(self) -> pd.DataFrame:
        """Every point of every metric with its limits and flags (the Data sheet and the CSV)."""
        return self._data.copy()

    @cached_property
    def _data(self) -> pd.DataFrame:
        if not self.panels:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in DATA_COLUMNS})
        columns = [p.columns for p in self.panels]
        sizes = [len(p.points) for p in self.panels]

        def joined(name: str) -> np.ndarray:
            return np.concatenate([c[name] for c in columns])

        out: dict[str, Any] = {
            "provider": np.full(sum(sizes), self.ods, dtype=object),
            "metric": np.repeat(np.array([p.code for p in self.panels], dtype=object), sizes),
            "period": pd.DatetimeIndex(joined("period")).date.astype(object),
        }
        for name in DATA_COLUMNS[3:]:
            out[name] = joined(name)
        return pd.DataFrame(out)[DATA_COLUMNS]

    def metrics_frame(self) -> pd.DataFrame:
        """Definitions, why each metric is collected and who uses it (the Metrics sheet)."""
        rows = []
        for p in self.panels:
            m = p.metric
            rows.append(
                {
                    "metric": m.code,
                    "label": m.label,
                    "domain": domain_label(m.domain),
                    "definition": m.definition,
                    "why_collected": m.why_collected,
                    "unit": m.unit,
                    "improvement_direction": DIRECTION_TEXT[m.improvement_direction],
                    "target": target_text(m) if m.target else "",
                    "target_source": m.target.source if m.target else "",
                    "used_by": "; ".join(name for _code, name in p.requesters),
                    "requests_and_items": "; ".join(use_text(u) for u in p.uses),
                }
            )
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Formatting helpers (shared with the templates)
# --------------------------------------------------------------------------------------------


def domain_label(domain: str) -> str:
    return (domain or "other").replace("_", " ").capitalize()


def target_text(metric: Metric) -> str:
    if metric.target is None:
        return ""
    sign = "≥" if metric.target.comparison == "gte" else "≤"
    return f"{sign} {format_value(metric.target.value, metric)}"


def use_text(use: MetricUse) -> str:
    items = ", ".join(use.items)
    via = f" (through {use.via})" if use.via else ""
    return f"{use.requester_name}: {use.request} item {items}{via}"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st ..."""
    n = int(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def format_when(value: Any) -> str:
    """A timestamp as a person reads it ("22 Nov 2026, 09:05 UTC"); other text unchanged."""
    if value is None or value == "":
        return ""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return str(value)
    if ts is pd.NaT:
        return str(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC")
    return f"{ts.day} {ts.strftime('%b %Y, %H:%M')} UTC"


def format_period(value: Any, grain: str = "month") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    ts = pd.Timestamp(value)
    if grain in ("quarter", "year"):
        return label_of(ts, grain)  # NHS quarters and financial years: 2018/19 Q1, 2018/19
    return ts.strftime("%b %Y")


# --------------------------------------------------------------------------------------------
# Series, SPC and peers for many providers at once
# --------------------------------------------------------------------------------------------


def _as_period(col: pd.Series) -> pd.Series:
    out = pd.to_datetime(col)
    if isinstance(out.dtype, pd.DatetimeTZDtype):
        out = out.dt.tz_localize(None)
    return out.astype("datetime64[ns]")


def prepare_series(
    catalog: Catalog, unified: pd.DataFrame, providers: Iterable[str] | None = None
) -> pd.DataFrame:
    """One row per provider x metric x period from the first to the last period of each series.

    Values that are not ``reported`` become NaN; periods with no row get the status
    ``not_submitted``. Adds the metric's ``direction`` and ``target``. Metrics unknown to the
    catalogue are left out. Returns a new frame sorted by provider, metric and period.
    """
    cols = ["provider_code", "period", "metric_id", "value", "value_status"]
    missing = [c for c in cols if c not in unified.columns]
    if missing:
        raise ValueError(f"the unified table lacks column(s): {', '.join(missing)}")
    extra = [c for c in ("is_late", "revision", "comment") if c in unified.columns]
    df = unified[cols + extra]
    if providers is not None:
        df = df[df["provider_code"].isin(list(providers))]
    df = df[df["metric_id"].isin(list(catalog.metrics))]
    df = df.assign(
        provider_code=df["provider_code"].astype(str),
        metric_id=df["metric_id"].astype(str),
        period=_as_period(df["period"]),
        value=pd.to_numeric(df["value"], errors="coerce").astype("float64"),
        value_status=df["value_status"].astype(str),
    )
    df = df.drop_duplicates(["provider_code", "metric_id", "period"], keep="last")

    # fill the periods missing between each series' first and last period
    step = df["metric_id"].map({c: MONTHS_IN[m.grain.period] for c, m in catalog.metrics.items()})
    step = step.astype("int64").to_numpy()
    month_index = (df["period"].dt.year * 12 + df["period"].dt.month - 1).to_numpy()
    slot = month_index // step
    keyed = df.assign(_slot=slot, _step=step, _month=month_index)
    bounds = keyed.groupby(SERIES_COLS, sort=True, observed=True).agg(
        lo=("_slot", "min"), hi=("_slot", "max"), step=("_step", "first"), first=("_month", "min")
    )
    lengths = (bounds["hi"] - bounds["lo"] + 1).to_numpy()
    if len(bounds) and int(lengths.sum()) > len(df):
        rep = np.repeat(np.arange(len(bounds)), lengths)
        offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        slots = bounds["lo"].to_numpy()[rep] + offsets
        # keep each series' own alignment (a year may start in April)
        months = bounds["first"].to_numpy()[rep] + offsets * bounds["step"].to_numpy()[rep]
        grid = pd.DataFrame(
            {
                "provider_code": bounds.index.get_level_values(0).to_numpy()[rep],
                "metric_id": bounds.index.get_level_values(1).to_numpy()[rep],
                "_slot": slots,
                "period": pd.to_datetime(
                    {"year": months // 12, "month": months % 12 + 1, "day": 1}
                ).astype("datetime64[ns]"),
            }
        )
        df = grid.merge(
            keyed.drop(columns=["period", "_step", "_month"]),
            on=["provider_code", "metric_id", "_slot"],
            how="left",
        )
        df["value_status"] = df["value_status"].fillna("not_submitted")
    else:
        df = keyed
    df = df.drop(columns=[c for c in ("_slot", "_step", "_month") if c in df.columns])
    for col, default in (("is_late", False), ("revision", 1), ("comment", "")):
        if col not in df.columns:
            df[col] = default
    df["is_late"] = df["is_late"].fillna(False).astype(bool)
    df["revision"] = pd.to_numeric(df["revision"], errors="coerce").fillna(1).astype("int64")
    df["comment"] = df["comment"].fillna("").astype(str)
    df["value"] = df["value"].where(df["value_status"] == "reported")
    directions = {c: m.improvement_direction for c, m in catalog.metrics.items()}
    targets = {c: (m.target.value if m.target else np.nan) for c, m in catalog.metrics.items()}
    df["direction"] = df["metric_id"].map(directions)
    df["target"] = df["metric_id"].map(targets).astype("float64")
    return df.sort_values(["provider_code", "metric_id", "period"], ignore_index=True)


def run_spc(series: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SPC for every series in one vectorised call; returns (points, per-series summary).

    `points` keeps the input's status, lateness, revision and comment columns and adds
    ``flags``; `summary` has one row per series with the icons, ``n_values`` and
    ``limits`` (limits | trial_limits | zero_width | no_variation | too_few_points).
    """
    from collectonce.feedback.spc import compute_spc, summarise_spc

    if series.empty:
        empty = series.assign(
            **{c: pd.Series(dtype="float64") for c in ("mean", "lpl", "upl", "nlpl", "nupl")},
            point_type=pd.Series(dtype=object),
            special_cause_type=pd.Series(dtype=object),
            short_group_warning=pd.Series(dtype=bool),
            flags=pd.Series(dtype=object),
        )
        return empty, pd.DataFrame(
            columns=[*SERIES_COLS, "variation_icon", "assurance", "n_values", "limits"]
        )
    spc = compute_spc(
        series[[*SERIES_COLS, "period", "value", "direction", "target"]],
        series_cols=SERIES_COLS,
        date_col="period",
        value_col="value",
        direction_col="direction",
        target_col="target",
    )
    spc_cols = [
        "mean",
        "lpl",
        "upl",
        "nlpl",
        "nupl",
        "point_type",
        "special_cause_type",
        "short_group_warning",
    ]
    spc = spc.assign(period=_as_period(spc["period"]))
    aligned = (
        len(spc) == len(series)
        and (spc["provider_code"].to_numpy() == series["provider_code"].to_numpy()).all()
        and (spc["metric_id"].to_numpy() == series["metric_id"].to_numpy()).all()
        and (spc["period"].to_numpy() == series["period"].to_numpy()).all()
    )
    if aligned:
        points = series.reset_index(drop=True).assign(**{c: spc[c].to_numpy() for c in spc_cols})
    else:
        points = series.merge(
            spc[[*SERIES_COLS, "period", *spc_cols]], on=[*SERIES_COLS, "period"], how="left"
        )
    for col in ("point_type", "special_cause_type"):
        text = points[col].astype(object)
        points[col] = text.where(text.notna(), None)
    points["flags"] = _flags(points)

    summary = summarise_spc(spc, series_cols=SERIES_COLS, date_col="period", value_col="value")
    summary = summary.reset_index(drop=True)
    has = points["value"].notna()
    same_series = (points[SERIES_COLS] == points[SERIES_COLS].shift()).all(axis=1)
    counts = (
        points.assign(_has=has, _pair=has & has.shift(fill_value=False) & same_series)
        .groupby(SERIES_COLS, sort=True, observed=True)
        .agg(n_values=("_has", "sum"), n_rows=("_has", "size"), _pairs=("_pair", "sum"))
        .reset_index()
    )
    summary = summary.merge(counts, on=SERIES_COLS, how="left")
    lpl = summary["lpl"].to_numpy(dtype="float64", na_value=np.nan)
    upl = summary["upl"].to_numpy(dtype="float64", na_value=np.nan)
    limits = np.where(summary["short_group_warning"].astype(bool), "trial_limits", "limits")
    limits = np.where(upl - lpl == 0, "zero_width", limits)
    # limits are missing with consecutive values only when every moving range is zero
    limits = np.where(np.isnan(lpl) | np.isnan(upl), "no_variation", limits)
    too_few = (summary["n_values"].to_numpy() < 2) | (summary["_pairs"].to_numpy() == 0)
    limits = np.where(too_few, "too_few_points", limits)
    summary = summary.drop(columns="_pairs")
    summary["limits"] = limits
    summary["variation_icon"] = summary["variation_icon"].astype(object)
    summary["assurance"] = summary["assurance"].astype(object)
    too_few = summary["limits"] == "too_few_points"
    summary.loc[too_few, ["variation_icon", "assurance"]] = None
    return points, summary


def _flags(points: pd.DataFrame) -> np.ndarray:
    """Per-point flags: suppressed | missing | not submitted, late, revised."""
    status = points["value_status"].map(STATUS_FLAG).fillna("")
    late = np.where(points["is_late"].to_numpy(dtype=bool), "late", "")
    revised = np.where(points["revision"].to_numpy() > 1, "revised", "")
    parts = np.stack([status.to_numpy(dtype=object), late, revised], axis=1)
    return np.array(["; ".join(x for x in row if x) for row in parts.tolist()], dtype=object)


def peer_positions(catalog: Catalog, series: pd.DataFrame) -> pd.DataFrame:
    """Each provider's latest reported value against its peer group for the same period.

    One row per provider x metric: ``peer_group``, ``period``, ``value``, ``rank`` (1 = best;
    1 = highest for neutral metrics; ties share the better rank), ``n_peers`` (the group's
    providers with a value for that period, this one included), ``quartile`` (1 = best) and
    ``peer_median``. Providers outside the catalogue have no peer group and are left out.
    """
    cols = [
        *SERIES_COLS,
        "peer_group",
        "period",
        "value",
        "rank",
        "n_peers",
        "quartile",
        "peer_median",
        "direction",
    ]
    groups = {ods: p.peer_group for ods, p in catalog.providers.items()}
    rep = series[series["value"].notna()][[*SERIES_COLS, "period", "value", "direction"]]
    rep = rep.assign(peer_group=rep["provider_code"].map(groups))
    rep = rep[rep["peer_group"].notna()]
    if rep.empty:
        return pd.DataFrame(columns=cols)
    keys = ["peer_group", "metric_id", "period"]
    grouped = rep.groupby(keys, sort=False, observed=True)["value"]
    desc = grouped.rank(method="min", ascending=False)
    asc = grouped.rank(method="min", ascending=True)
    rep = rep.assign(
        rank=np.where(rep["direction"] == "decrease", asc, desc).astype("int64"),
        n_peers=grouped.transform("size").astype("int64"),
        peer_median=grouped.transform("median"),
    )
    latest = rep.groupby(SERIES_COLS, sort=False, observed=True)["period"].transform("max")
    out = rep[rep["period"] == latest]
    # 0 for the best, 1 for the worst; a lone provider is in the best quarter
    spread = ((out["rank"] - 1) / (out["n_peers"] - 1).clip(lower=1)).clip(0, 1)
    quartile = np.ceil(4 * spread).clip(1, 4).astype("int64")
    out = out.assign(quartile=quartile)
    return out[cols].sort_values(SERIES_COLS, ignore_index=True)


# --------------------------------------------------------------------------------------------
# Building one pack
# --------------------------------------------------------------------------------------------


def metric_uses(catalog: Catalog, code: str) -> tuple[MetricUse, ...]:
    """Request items that need the metric, directly or through derived metrics built on it."""
    found: list[MetricUse] = []

    def add(metric_code: str, via: str | None) -> None:
        by_request: dict[str, list[str]] = {}
        for request, item in catalog.items_by_metric.get(metric_code, []):
            by_request.setdefault(request.code, []).append(item.their_code)
        for request_code, items in by_request.items():
            request = catalog.requests[request_code]
            requester = catalog.requesters.get(request.requester)
            found.append(
                MetricUse(
                    requester=request.requester,
                    requester_name=requester.name if requester else request.requester,
                    request=request_code,
                    request_title=request.title,
                    items=tuple(items),
                    via=via,
                )
            )

    add(code, None)
    for other in sorted(catalog.metrics):
        if (
            other != code
            and catalog.metrics[other].is_derived
            and code in catalog.collected_inputs(other)
        ):
            add(other, other)
    return tuple(found)


_CONTEXT: dict[int, tuple[Any, dict[str, Any]]] = {}


def _metric_context(catalog: Catalog, code: str) -> tuple[Any, Any]:
    """(uses, requesters) of a metric, remembered per catalogue object."""
    entry = _CONTEXT.get(id(catalog))
    if entry is None or entry[0] is not catalog:
        if len(_CONTEXT) > 8:
            _CONTEXT.clear()
        entry = (catalog, {})
        _CONTEXT[id(catalog)] = entry
    known = entry[1]
    if code not in known:
        requesters = tuple(
            (r, catalog.requesters[r].name if r in catalog.requesters else r)
            for r in catalog.requesters_of(code)
        )
        known[code] = (metric_uses(catalog, code), requesters)
    return known[code]


def _receipt_dicts(receipts: Iterable[Any] | None) -> list[dict[str, Any]]:
    out = []
    for r in receipts or []:
        d = r.to_dict() if hasattr(r, "to_dict") else dict(r)
        out.append(d)
    return out


def summarise_receipt(receipt: Mapping[str, Any]) -> dict[str, Any]:
    """The few fields of a receipt a pack shows (no other provider's details)."""
    findings = receipt.get("findings") or []
    errors = sum(1 for f in findings if isinstance(f, Mapping) and f.get("severity") == "error")
    return {
        "submission_id": str(receipt.get("submission_id") or ""),
        "received_at": str(receipt.get("received_at") or ""),
        "original_name": str(receipt.get("original_name") or ""),
        "status": str(receipt.get("status") or ""),
        "rows_read": receipt.get("rows_read"),
        "rows_accepted": receipt.get("rows_accepted"),
        "rows_rejected": receipt.get("rows_rejected"),
        "findings": len(findings),
        "errors": errors,
        "warnings": len(findings) - errors,
        "periods": ", ".join(str(p) for p in (receipt.get("periods") or [])),
        # a file carrying several providers' rows: its counts are for the whole file
        "shared": len(receipt.get("providers") or []) > 1,
    }


def _latest_receipts(receipts: Iterable[Any] | None) -> tuple[dict[str, Any], ...]:
    items = [summarise_receipt(r) for r in _receipt_dicts(receipts) if not r.get("dry_run")]
    items.sort(key=lambda r: r["received_at"], reverse=True)
    return tuple(items[:RECEIPTS_SHOWN])


def _panel_notes(
    metric: Metric, points: pd.DataFrame, limits: str, n_values: int
) -> tuple[str, ...]:
    notes: list[str] = []
    grain = metric.grain.period
    if limits == "too_few_points" and n_values >= 2:
        notes.append(
            f"Too few points for limits: none of the {n_values} values follows another "
            "period with a value, so there is no moving range to set limits from. The values "
            "are shown as a table only."
        )
    elif limits == "too_few_points":
        notes.append(
            f"Too few points for limits: {n_values} value{'s' if n_values != 1 else ''} so far. "
            "Limits need at least 2 values (Making Data Count recommends 15 to 20), so the "
            "values are shown as a table only."
        )
    elif limits == "trial_limits":
        notes.append(
            f"Trial limits: the limits rest on {len(points)} points, fewer than "
            f"{TRIAL_LIMIT_POINTS}. Treat signals with care; the limits will settle as more "
            "data arrives."
        )
    if limits == "no_variation":
        values = points["value"].dropna()
        if values.nunique() == 1:
            head = f"All {n_values} values are equal ({format_value(values.iloc[0], metric)})"
        else:
            head = "Every value equals the one before it"
        notes.append(
            f"{head}, so there is no variation and no process limits: every moving range is "
            "zero, and NHSRplotthedots draws no limits in this case. The chart shows the mean "
            "only; no point can be outside limits, though runs and trends still count."
        )
    elif limits == "zero_width":
        notes.append(
            "Zero-width limits: once the large jumps are screened out, every remaining moving "
            "range is zero, so both limits equal the mean and every value off the mean counts "
            "as outside them (as NHSRplotthedots computes it)."
        )
    gaps = points[points["value"].isna()] if n_values < len(points) else points.iloc[:0]
    if len(gaps) and limits != "too_few_points":
        listed = ", ".join(
            f"{format_period(p, grain)} ({STATUS_FLAG.get(s, s)})"
            for p, s in zip(gaps["period"].head(6), gaps["value_status"].head(6), strict=True)
        )
        more = f" and {len(gaps) - 6} more" if len(gaps) > 6 else ""
        notes.append(
            f"{len(gaps)} period{'s have' if len(gaps) != 1 else ' has'} no value: {listed}{more}. "
            "They are left out of the mean and limits and shown as gaps; a run or trend does "
            "not continue across a gap."
        )
    if metric.target is None:
        notes.append("No target is set for this metric, so there is no assurance icon.")
    elif metric.improvement_direction == "neutral":
        notes.append(
            "The metric has a target but neither direction is better, so assurance is not assessed."
        )
    return tuple(notes)


def _to_date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    return pd.Timestamp(value).date()


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _float_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _panels(
    catalog: Catalog,
    by_metric: Mapping[str, pd.DataFrame],
    summary: Iterable[Mapping[str, Any]],
    peers: Iterable[Mapping[str, Any]],
) -> tuple[MetricPanel, ...]:
    """The metric panels of one provider from its per-metric points and summary records."""
    panels: list[MetricPanel] = []
    summary_by = {row["metric_id"]: row for row in summary}
    peers_by = {row["metric_id"]: row for row in peers}
    order = sorted(
        (c for c in by_metric if c in catalog.metrics),
        key=lambda c: (catalog.metrics[c].domain or "~", catalog.metrics[c].label.lower(), c),
    )
    for code in order:
        metric = catalog.metrics[code]
        pts = by_metric[code].reset_index(drop=True)
        values = pts["value"].to_numpy(dtype="float64", na_value=np.nan)
        present = np.flatnonzero(~np.isnan(values))
        n_values = len(present)
        if n_values == 0:
            continue
        s = summary_by.get(code, {})
        limits = str(s.get("limits") or ("too_few_points" if n_values < 2 else "limits"))
        peer_row = peers_by.get(code)
        peer = None
        if peer_row is not None:
            peer = PeerPosition(
                peer_group=str(peer_row["peer_group"]),
                period=pd.Timestamp(peer_row["period"]).date(),
                value=float(peer_row["value"]),
                rank=int(peer_row["rank"]),
                n_peers=int(peer_row["n_peers"]),
                quartile=int(peer_row["quartile"]),
                peer_median=float(peer_row["peer_median"]),
                direction=str(peer_row["direction"]),
            )
        uses, requesters = _metric_context(catalog, code)
        last = int(present[-1])
        panels.append(
            MetricPanel(
                metric=metric,
                points=pts,
                n_values=n_values,
                limits=limits,
                variation_icon=_text_or_none(s.get("variation_icon")),
                assurance=_text_or_none(s.get("assurance")),
                latest_period=_to_date(pts["period"].iloc[last]),
                latest_value=float(values[last]),
                notes=_panel_notes(metric, pts, limits, n_values),
                peer=peer,
                uses=uses,
                requesters=requesters,
            )
        )
    return tuple(panels)


def _assemble_pack(
    catalog: Catalog,
    provider: Provider,
    by_metric: Mapping[str, pd.DataFrame],
    summary: Iterable[Mapping[str, Any]],
    peers: Iterable[Mapping[str, Any]],
    receipts: Iterable[Any] | None,
    publication: Mapping[str, Any] | None,
    now: dt.datetime | None,
    unmatched: tuple[str, ...] = (),
) -> Pack:
    publication = dict(publication or {})
    built = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    panels = _panels(catalog, by_metric, summary, peers)
    figures = publication.get("levels")
    return Pack(
        beside={
            p.code: figures.for_provider(provider.ods_code, p.code, p.latest_period) for p in panels
        }
        if figures is not None
        else {},
        provider=provider,
        panels=panels,
        receipts=_latest_receipts(receipts),
        publication_version=publication.get("version"),
        published_at=str(publication["published_at"]) if publication.get("published_at") else None,
        catalog_version=catalog.version,
        built_at=built.isoformat(),
        unmatched_metrics=unmatched,
    )


def build_pack(
    catalog: Catalog,
    unified: pd.DataFrame,
    ods: str,
    receipts: Sequence[Any] | None = None,
    *,
    spc_points: pd.DataFrame | None = None,
    spc_summary: pd.DataFrame | None = None,
    peers: pd.DataFrame | None = None,
    publication: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Pack:
    """The pack of provider `ods` from a frame shaped like the unified table.

    `unified` may hold every provider (peers are compared within the provider's peer group);
    only `ods`'s own values end up in the pack. `spc_points`/`spc_summary`/`peers` (from
    `run_spc` and `peer_positions` over many providers) skip recomputing them.
    `publication` may give ``version`` and ``published_at`` for the header.

    Raises:
        UnknownProvider: `ods` is not in the catalogue.
    """
    provider = _provider(catalog, ods)
    code = provider.ods_code
    if spc_points is None or spc_summary is None:
        own = prepare_series(catalog, unified, providers=[code])
        spc_points, spc_summary = run_spc(own)
    if peers is None:
        group = _peer_codes(catalog, provider)
        peers = peer_positions(catalog, prepare_series(catalog, unified, providers=group))
    points = spc_points[spc_points["provider_code"] == code]
    summary = spc_summary[spc_summary["provider_code"] == code]
    own_peers = peers[peers["provider_code"] == code]
    unmatched: tuple[str, ...] = ()
    if "metric_id" in unified.columns:
        mine = unified.loc[unified["provider_code"] == code, "metric_id"].astype(str).unique()
        unmatched = tuple(sorted(set(mine) - set(catalog.metrics)))
    return _assemble_pack(
        catalog,
        provider,
        dict(tuple(points.groupby("metric_id", sort=False, observed=True))),
        summary.to_dict("records"),
        own_peers.to_dict("records"),
        receipts,
        publication,
        now,
        unmatched,
    )


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: The shared base page of every HTML output (see `collectonce.web`).
WEB_TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """The vendored NHS.UK frontend CSS plus the pack's own few rules, for inlining."""
    css = (TEMPLATES / "nhsuk-frontend.min.css").read_text(encoding="utf-8")
    extra = (TEMPLATES / "pack.css").read_text(encoding="utf-8")
    return css + "\n" + extra


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(TEMPLATES), str(WEB_TEMPLATES)]),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["value"] = format_value
    env.filters["period"] = format_period
    env.filters["domain"] = domain_label
    env.filters["when"] = format_when
    env.globals.update(
        VARIATION_TEXT=VARIATION_TEXT,
        VARIATION_SHORT=VARIATION_SHORT,
        ASSURANCE_TEXT=ASSURANCE_TEXT,
        ASSURANCE_SHORT=ASSURANCE_SHORT,
        POINT_TYPE_TEXT=POINT_TYPE_TEXT,
        RULE_TEXT=RULE_TEXT,
        DIRECTION_TEXT=DIRECTION_TEXT,
        LATE_TEXT=LATE_TEXT,
        target_text=target_text,
        use_text=use_text,
        variation_icon=_variation_icon,
        assurance_icon=_assurance_icon,
        tag_class=tag_class,
        ordinal=ordinal,
        isnan=lambda v: v is None or (isinstance(v, float) and math.isnan(v)),
    )
    return env


def render_template(name: str, **context: Any) -> str:
    return str(_environment().get_template(name).render(css=stylesheet(), **context))


@lru_cache(maxsize=32)
def _variation_icon(icon: str | None) -> str:
    from markupsafe import Markup

    from collectonce.feedback.chart import variation_icon_svg

    if not icon:
        return Markup("")
    return Markup(variation_icon_svg(icon))


@lru_cache(maxsize=32)
def _assurance_icon(assurance: str | None) -> str:
    from markupsafe import Markup

    from collectonce.feedback.chart import assurance_icon_svg

    if not assurance:
        return Markup("")
    return Markup(assurance_icon_svg(assurance))


def tag_class(kind: str | None) -> str:
    """The NHS.UK tag colour that Making Data Count uses for an icon or point type."""
    k = kind if isinstance(kind, str) else ""
    if "improvement" in k or k == "consistent_pass":
        return "nhsuk-tag--blue"
    if "concern" in k or k == "consistent_fail":
        return "nhsuk-tag--orange"
    if "neutral" in k:
        return "nhsuk-tag--purple"
    return "nhsuk-tag--grey"


def _chart(panel: MetricPanel) -> str:
    from markupsafe import Markup

    from collectonce.feedback.chart import xmr_chart_svg

    if not panel.has_limits:
        return Markup("")
    unit = "%" if panel.metric.unit == "percent" else ""
    # the card's notes explain gaps and missing limits, so the chart does not repeat them
    svg = xmr_chart_svg(panel.points, panel.metric.label, unit=unit, date_col="period", notes=False)
    return Markup(svg)


def render_pack_html(pack: Pack) -> str:
    """A static, self-contained HTML page (NHS.UK styles inlined; no scripts, no network)."""
    from collectonce.feedback.wording import ASSURANCE_COLUMNS

    charts = {p.code: _chart(p) for p in pack.panels}
    return render_template(
        "pack.html.j2",
        pack=pack,
        charts=charts,
        recent=RECENT_POINTS,
        grid_columns=ASSURANCE_COLUMNS,
    )


# --------------------------------------------------------------------------------------------
# XLSX and CSV
# --------------------------------------------------------------------------------------------


def neutralise_text(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (the export
    rule of `collectonce.publish.exports`); anything else is returned as it is."""
    return neutralise(value) if isinstance(value, str) else value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A new frame whose text cells cannot be read as formulas; numbers stay numbers."""
    return safe_frame(df)


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = _atomic_target(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


#: Decimals kept in the CSV, by number kind: as in the workbook, but rates and other
#: fractions keep four places (a CSV is read by programs as well as people).
CSV_DECIMALS = {"count": 0, "count_stat": 1, "percent": 2, "decimal": 4}


def write_pack_csv(pack: Pack, path: Path | str) -> Path:
    """The Data sheet as CSV (UTF-8): numbers rounded by kind and never in exponent form
    (1234567, not 1.23457e+06), whole numbers as integers, text cells neutralised against
    formula injection."""
    from collectonce.publish.exports import iter_csv_chunks

    path = Path(path)
    data = pack.data_frame()
    metrics = {p.code: p.metric for p in pack.panels}
    for column, kinds in _number_kinds(data, metrics, DATA_NUMBERS).items():
        values = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=np.float64)
        decimals = np.array([CSV_DECIMALS.get(k or "", 4) for k in kinds], dtype=np.int64)
        rounded = values.copy()
        for places in np.unique(decimals).tolist():
            rows = decimals == places
            rounded[rows] = np.round(values[rows], places)
        data[column] = rounded
    _atomic_write_bytes(path, b"".join(iter_csv_chunks(data)))
    return path


def write_pack_xlsx(pack: Pack, path: Path | str) -> Path:
    """A workbook with Summary, Data and Metrics sheets; every text cell is neutralised."""
    import xlsxwriter

    path = Path(path)
    tmp = _atomic_target(path)
    try:
        book = xlsxwriter.Workbook(
            str(tmp),
            {
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "nan_inf_to_errors": False,
                "in_memory": True,
            },
        )
        formats = {
            "head": book.add_format(
                {
                    "bold": True,
                    "bg_color": "#005EB8",
                    "font_color": "#FFFFFF",
                    "text_wrap": True,
                    "valign": "top",
                }
            ),
            "date": book.add_format({"num_format": "yyyy-mm-dd"}),
            "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
            **{
                key: book.add_format({"num_format": fmt})
                for key, (fmt, _) in NUMBER_FORMATS.items()
            },
        }
        tables: set[str] = set()
        summary = pack.summary_frame()
        title = f"{pack.provider.name or pack.ods} ({pack.ods}) feedback pack"
        version = pack.publication_version
        source = f"Publication {version}" if version is not None else "Unversioned data"
        notes = [
            title,
            f"{source}{' of ' + pack.published_at if pack.published_at else ''}; "
            f"catalogue {pack.catalog_version}; built {pack.built_at}",
        ]
        metrics = {p.code: p.metric for p in pack.panels}
        _write_sheet(
            book,
            "Summary",
            summary,
            formats,
            notes=notes,
            widths={"label": 45, "variation": 22, "assurance": 22},
            number_kinds=_number_kinds(summary, metrics, SUMMARY_NUMBERS),
            tables=tables,
        )
        data = pack.data_frame()
        _write_sheet(
            book,
            "Data",
            data,
            formats,
            widths={"metric": 30, "special_cause_type": 26, "flags": 22},
            number_kinds=_number_kinds(data, metrics, DATA_NUMBERS),
            tables=tables,
        )
        _write_sheet(
            book,
            "Metrics",
            pack.metrics_frame(),
            formats,
            widths={
                "label": 40,
                "definition": 60,
                "why_collected": 60,
                "used_by": 40,
                "requests_and_items": 60,
            },
            wrap=True,
            tables=tables,
        )
        receipts = pd.DataFrame(list(pack.receipts))
        if not receipts.empty:
            _write_sheet(
                book,
                "Submissions",
                receipts,
                formats,
                widths={"original_name": 30},
                tables=tables,
            )
        _pack_charts(book, pack)
        _pack_readme(book, pack, tables)
        book.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


#: Number formats of the workbook (Excel format, decimals kept): counts as whole numbers,
#: percentages with a % sign (values are already 0 to 100), other figures to two decimals.
NUMBER_FORMATS: dict[str, tuple[str, int]] = {
    "count": ("#,##0", 0),
    "count_stat": ("#,##0.0", 1),
    "percent": ('0.0"%"', 2),
    "decimal": ("#,##0.00", 2),
}
#: Columns holding a metric's values (True) or a statistic of them (False), per sheet.
DATA_NUMBERS = {"value": True, "mean": False, "lpl": False, "upl": False}
SUMMARY_NUMBERS = {"latest_value": True, "target": True, "peer_median": False}


def number_kind(metric: Metric, is_value: bool) -> str:
    """How a metric's figures are shown in a workbook: count, count_stat, percent or decimal."""
    if metric.unit == "percent":
        return "percent"
    if metric.value_type == "integer":
        return "count" if is_value else "count_stat"
    return "decimal"


def _number_kinds(
    df: pd.DataFrame, metrics: Mapping[str, Metric], columns: Mapping[str, bool]
) -> dict[str, list[str | None]]:
    """For each numeric column in `columns`, the number kind of each row (by its metric)."""
    if "metric" not in df.columns:
        return {}
    codes = df["metric"].tolist()
    return {
        column: [number_kind(metrics[c], is_value) if c in metrics else None for c in codes]
        for column, is_value in columns.items()
        if column in df.columns
    }


def _pack_charts(book: Any, pack: Pack) -> None:
    """A Charts sheet: a native Excel line chart per metric (value, mean and process limits)
    over its rows of the Data sheet."""
    sheet = book.add_worksheet("Charts")
    sheet.write_string(0, 0, "One chart per metric, from the Data sheet: values, mean and limits.")
    columns = {name: DATA_COLUMNS.index(name) for name in ("period", "value", "mean", "lpl", "upl")}
    styles = {
        "value": {"color": "#005EB8", "width": 2},
        "mean": {"color": "#231F20", "width": 1.25},
        "lpl": {"color": "#768692", "dash_type": "dash", "width": 1},
        "upl": {"color": "#768692", "dash_type": "dash", "width": 1},
    }
    names = {"value": "value", "mean": "mean", "lpl": "lower limit", "upl": "upper limit"}
    first = 1  # the Data sheet's header is row 0
    for i, panel in enumerate(pack.panels):
        size = len(panel.points)
        if size:
            wanted = ["value"] + (["mean", "lpl", "upl"] if panel.has_limits else [])
            percent = panel.metric.unit == "percent"
            chart = workbook.line_chart(
                book,
                title=str(neutralise_text(panel.metric.label))[:250],
                sheet_name="Data",
                category_column=columns["period"],
                series=[(names[k], columns[k], styles[k]) for k in wanted],
                first_row=first,
                last_row=first + size - 1,
                y_title="%" if percent else str(panel.metric.unit),
                y_format=workbook.NUMBER_FORMATS["percent" if percent else "number"],
            )
            sheet.insert_chart(2 + i * 17, 0, chart)
        first += size


def _pack_readme(book: Any, pack: Pack, tables: set[str]) -> None:
    fmts = workbook.formats(book)
    about = [
        ("Provider", f"{pack.provider.name or pack.ods} ({pack.ods})"),
        ("Publication version", pack.publication_version),
        ("As of", pack.published_at or f"publication {pack.publication_version}"),
        ("Catalogue version", pack.catalog_version),
        ("Built", pack.built_at),
        ("Method", "Making Data Count XmR charts: mean ± 2.66 × mean moving range."),
    ]
    definitions = [
        ("Summary", "Each metric's latest value, variation and assurance icons, target and peers."),
        ("Data", "Every point of every metric: value, mean, process limits (lpl, upl), signals."),
        ("Metrics", "Each metric's definition, why it is collected and who uses it."),
        ("Charts", "A line chart per metric, drawn from the Data sheet."),
        ("lpl / upl", "Lower and upper process limits."),
        ("point_type", "common_cause, or a special cause read as improvement, concern or neutral."),
    ]
    workbook.readme_sheet(book, fmts, f"Feedback pack: {pack.ods}", about, definitions, used=tables)


def _write_sheet(
    book: Any,
    name: str,
    df: pd.DataFrame,
    formats: dict[str, Any],
    *,
    notes: Sequence[str] = (),
    widths: Mapping[str, int] | None = None,
    wrap: bool = False,
    number_kinds: Mapping[str, Sequence[str | None]] | None = None,
    tables: set[str] | None = None,
) -> None:
    sheet = book.add_worksheet(name)
    row0 = 0
    for note in notes:
        sheet.write_string(row0, 0, str(neutralise_text(note)))
        row0 += 1
    if notes:
        row0 += 1
    for j, col in enumerate(df.columns):
        sheet.write_string(row0, j, str(neutralise_text(str(col))), formats["head"])
        sheet.set_column(j, j, (widths or {}).get(str(col), 14), formats["wrap"] if wrap else None)
    for j, col in enumerate(df.columns):
        kinds = (number_kinds or {}).get(str(col))
        _write_column(sheet, row0 + 1, j, df[col], formats, kinds)
    workbook.table_over(
        sheet,
        [str(neutralise_text(str(c))) for c in df.columns],
        row0,
        len(df),
        name=workbook.table_name(name, tables),
        head=formats["head"],
    )


def _write_column(
    sheet: Any,
    row0: int,
    col: int,
    values: pd.Series,
    formats: dict[str, Any],
    kinds: Sequence[str | None] | None = None,
) -> None:
    """One column from `row0` down: numbers as numbers (blank when missing), rounded and
    formatted by their `kinds` (see `NUMBER_FORMATS`) when given; anything else cell by cell
    (`_write_cell`)."""
    dtype = values.dtype
    if kinds is not None and not (isinstance(dtype, np.dtype) and dtype.kind in "iuf"):
        values = pd.to_numeric(values, errors="coerce")
        dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        numbers = values.to_numpy(dtype=np.float64)
        finite = np.isfinite(numbers)
        for i, (number, ok) in enumerate(zip(numbers.tolist(), finite.tolist(), strict=True)):
            kind = kinds[i] if kinds is not None else None
            if not ok:
                sheet.write_blank(row0 + i, col, None)
            elif kind is None:
                sheet.write_number(row0 + i, col, number)
            else:
                digits = NUMBER_FORMATS[kind][1]
                sheet.write_number(row0 + i, col, round(number, digits), formats[kind])
        return
    for i, value in enumerate(values.tolist()):
        _write_cell(sheet, row0 + i, col, value, formats)


def _write_cell(sheet: Any, row: int, col: int, value: Any, formats: dict[str, Any]) -> None:
    if value is None or value is pd.NaT or value is pd.NA:
        sheet.write_blank(row, col, None)
    elif isinstance(value, bool | np.bool_):
        sheet.write_boolean(row, col, bool(value))
    elif isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            sheet.write_blank(row, col, None)
        else:
            sheet.write_number(row, col, number)
    elif isinstance(value, dt.datetime | pd.Timestamp):
        sheet.write_datetime(row, col, pd.Timestamp(value).to_pydatetime(), formats["date"])
    elif isinstance(value, dt.date):
        sheet.write_datetime(
            row, col, dt.datetime(value.year, value.month, value.day), formats["date"]
        )
    else:
        sheet.write_string(row, col, str(neutralise_text(str(value))))


# --------------------------------------------------------------------------------------------
# Reading the latest publication and writing packs into the data folder
# --------------------------------------------------------------------------------------------


def load_publication(
    settings: Settings,
    *,
    providers: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The latest published unified table (optionally only some providers or metrics) and the
    publication's version and date.

    Raises:
        NoPublication: nothing has been published yet.
    """
    try:
        from collectonce.publish import unified as published
    except ImportError as exc:  # the publish stage is not installed
        raise NoPublication() from exc
    version = published.latest_version(settings)
    if version is None:
        raise NoPublication()
    if (providers is not None or metrics is not None) and hasattr(published, "read_unified_table"):
        import pyarrow.compute as pc

        condition = None
        for column, wanted in (("provider_code", providers), ("metric_id", metrics)):
            if wanted is not None:
                term = pc.field(column).isin(list(wanted))
                condition = term if condition is None else condition & term
        unified = published.read_unified_table(settings, version, filter=condition).to_pandas()
    else:
        unified = published.read_unified(settings, as_of=version)
    info: dict[str, Any] = {"version": version, "published_at": None}
    if hasattr(published, "list_publications"):
        for pub in published.list_publications(settings):
            if pub.get("version") == version:
                info["published_at"] = pub.get("published_at")
    return unified, info


def load_receipts(settings: Settings, provider: str | None = None) -> list[dict[str, Any]]:
    """Receipts from the ingest stage (none when it is not installed)."""
    try:
        from collectonce.ingest.service import list_receipts
    except ImportError:
        return []
    return _receipt_dicts(list_receipts(settings, provider=provider))


def pack_paths(directory: Path, ods: str) -> dict[str, Path]:
    return {
        "html": directory / f"{ods}_pack.html",
        "xlsx": directory / f"{ods}_pack.xlsx",
        "csv": directory / f"{ods}_pack.csv",
    }


def write_pack(pack: Pack, directory: Path) -> dict[str, Path]:
    """Write the HTML, XLSX and CSV of a pack into `directory` (each file atomically)."""
    paths = pack_paths(directory, pack.ods)
    _atomic_write_bytes(paths["html"], render_pack_html(pack).encode("utf-8"))
    write_pack_xlsx(pack, paths["xlsx"])
    write_pack_csv(pack, paths["csv"])
    return paths


def build_provider_pack(
    catalog: Catalog, settings: Settings, ods: str, out_dir: Path | str | None = None
) -> dict[str, Path]:
    """Build one provider's pack from the latest publication; returns the paths written.

    Raises:
        UnknownProvider: the ODS code is not in the catalogue.
        NoPublication: nothing has been published yet.
    """
    provider = _provider(catalog, ods)
    unified, info = load_publication(settings, providers=_peer_codes(catalog, provider))
    info = _with_levels(catalog, settings, info)
    pack = build_pack(
        catalog,
        unified,
        provider.ods_code,
        load_receipts(settings, provider.ods_code),
        publication=info,
    )
    directory = Path(out_dir) if out_dir is not None else settings.packs_dir / provider.ods_code
    return write_pack(pack, directory)


def build_pack_html(catalog: Catalog, settings: Settings, ods: str) -> str:
    """The HTML pack of one provider from the latest publication (for the API)."""
    provider = _provider(catalog, ods)
    unified, info = load_publication(settings, providers=_peer_codes(catalog, provider))
    info = _with_levels(catalog, settings, info)
    pack = build_pack(
        catalog,
        unified,
        provider.ods_code,
        load_receipts(settings, provider.ods_code),
        publication=info,
    )
    return render_pack_html(pack)


def _index_path(settings: Settings) -> Path:
    return settings.packs_dir / "index.json"


def read_index(settings: Settings) -> dict[str, Any]:
    try:
        data = json.loads(_index_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("providers", {}) if isinstance(data, dict) else {}


def content_hashes(
    catalog: Catalog,
    series: pd.DataFrame,
    peers: pd.DataFrame,
    receipts_by_provider: Mapping[str, Sequence[Mapping[str, Any]]],
    providers: Iterable[str],
) -> dict[str, str]:
    """A digest per provider of everything its pack shows, computed for all at once."""
    row_cols = [*SERIES_COLS, "period", "value", "value_status", "is_late", "revision", "comment"]
    row_hash = pd.util.hash_pandas_object(series[row_cols], index=False).to_numpy()
    own = pd.Series(row_hash, index=series["provider_code"].to_numpy()).groupby(level=0).sum()
    peer_cols = [*SERIES_COLS, "period", "rank", "n_peers", "peer_median"]
    if len(peers):
        ph = pd.util.hash_pandas_object(peers[peer_cols], index=False).to_numpy()
        peer_sum = pd.Series(ph, index=peers["provider_code"].to_numpy()).groupby(level=0).sum()
    else:
        peer_sum = pd.Series(dtype="uint64")
    base = f"{PACK_FORMAT}|{catalog.fingerprint}"
    out = {}
    for ods in providers:
        receipts = json.dumps(
            [r.get("submission_id") for r in receipts_by_provider.get(ods, [])], default=str
        )
        text = f"{base}|{own.get(ods, 0)}|{peer_sum.get(ods, 0)}|{receipts}"
        out[ods] = hashlib.sha256(text.encode()).hexdigest()[:32]
    return out


def build_all_packs(
    catalog: Catalog,
    settings: Settings,
    providers: Iterable[str] | None = None,
    changed_only: bool = True,
    *,
    unified: pd.DataFrame | None = None,
    publication: Mapping[str, Any] | None = None,
    receipts: Sequence[Any] | None = None,
    progress: Callable[[str, bool], None] | None = None,
) -> list[str]:
    """Rebuild the packs of providers whose data changed since the last build.

    SPC for every provider's series runs in one vectorised call, then each pack is rendered.
    A content digest per provider is kept in ``settings.packs_dir / "index.json"``; with
    `changed_only` a provider whose digest is unchanged (and whose files exist) is skipped.
    `unified`, `publication` and `receipts` default to the latest publication and the
    ingest stage's receipts. `progress(ods, built)` is called once per provider considered.
    Returns the ODS codes built.

    Raises:
        UnknownProvider: a listed ODS code is not in the catalogue.
        NoPublication: nothing has been published yet (and `unified` was not given).
    """
    if unified is None:
        unified, info = load_publication(settings)
        publication = {**info, **(publication or {})}
    publication = _with_levels(catalog, settings, publication)
    wanted = _wanted_providers(catalog, unified, providers)
    by_provider = _receipts_by_provider(
        load_receipts(settings) if receipts is None else _receipt_dicts(receipts)
    )

    series = prepare_series(catalog, unified)
    peers = peer_positions(catalog, series)
    hashes = content_hashes(catalog, series, peers, by_provider, wanted)
    hashes = _level_hashes(hashes, publication, series)
    index = read_index(settings)
    if changed_only:
        wanted = [ods for ods in wanted if not _up_to_date(settings, index, ods, hashes[ods])]
    skipped = set(hashes) - set(wanted)
    if progress:
        for ods in sorted(skipped):
            progress(ods, False)
    # one vectorised SPC run over every series of the providers to build
    points, summary = run_spc(series[series["provider_code"].isin(wanted)])

    # split once: (provider, metric) -> points; provider -> summary and peer records
    points_by: dict[str, dict[str, pd.DataFrame]] = {}
    for (ods, metric), frame in points.groupby(SERIES_COLS, sort=False, observed=True):
        points_by.setdefault(str(ods), {})[str(metric)] = frame
    summary_by: dict[str, list[dict[str, Any]]] = {}
    for row in summary.to_dict("records"):
        summary_by.setdefault(str(row["provider_code"]), []).append(row)
    peers_by: dict[str, list[dict[str, Any]]] = {}
    for row in peers.to_dict("records"):
        peers_by.setdefault(str(row["provider_code"]), []).append(row)
    built: list[str] = []
    entries: dict[str, dict[str, Any]] = {}
    for ods in wanted:
        directory = settings.packs_dir / ods
        pack = _assemble_pack(
            catalog,
            catalog.providers[ods],
            points_by.get(ods, {}),
            summary_by.get(ods, []),
            peers_by.get(ods, []),
            by_provider.get(ods, []),
            publication,
            None,
        )
        write_pack(pack, directory)
        entries[ods] = {
            "hash": hashes[ods],
            "built_at": pack.built_at,
            "publication_version": pack.publication_version,
        }
        built.append(ods)
        if progress:
            progress(ods, True)
        if len(entries) >= 50:  # keep the index current during long runs
            _update_index(settings, entries)
            entries = {}
    _update_index(settings, entries)
    return built


def providers_needing_packs(
    catalog: Catalog,
    settings: Settings,
    providers: Iterable[str] | None = None,
    changed_only: bool = True,
    *,
    unified: pd.DataFrame | None = None,
    receipts: Sequence[Any] | None = None,
) -> list[str]:
    """The ODS codes whose pack `build_all_packs` would build now (no SPC, nothing written).

    Raises:
        UnknownProvider: a listed ODS code is not in the catalogue.
        NoPublication: nothing has been published yet (and `unified` was not given).
    """
    info: dict[str, Any] = {}
    if unified is None:
        unified, info = load_publication(settings)
    wanted = _wanted_providers(catalog, unified, providers)
    if not changed_only:
        return wanted
    by_provider = _receipts_by_provider(
        load_receipts(settings) if receipts is None else _receipt_dicts(receipts)
    )
    series = prepare_series(catalog, unified)
    hashes = content_hashes(catalog, series, peer_positions(catalog, series), by_provider, wanted)
    hashes = _level_hashes(hashes, _with_levels(catalog, settings, info), series)
    index = read_index(settings)
    return [ods for ods in wanted if not _up_to_date(settings, index, ods, hashes[ods])]


def _with_levels(
    catalog: Catalog, settings: Settings, publication: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The publication's details plus its roll-ups (``levels``), so each pack can show its
    region's and England's figures beside its own."""
    info = dict(publication or {})
    version = info.get("version")
    if version is None:
        from collectonce.publish.unified import latest_version

        version = latest_version(settings)
    try:
        from collectonce.rollup.beside import level_figures
    except ImportError:  # the roll-up stage is not installed
        return info
    info["levels"] = level_figures(catalog, settings, version)
    return info


def _level_hashes(
    hashes: dict[str, str], publication: Mapping[str, Any] | None, series: pd.DataFrame
) -> dict[str, str]:
    """Pack digests that also change when the region's or England's figures that the pack
    shows beside the provider's latest values change."""
    figures = (publication or {}).get("levels")
    if figures is None:
        return hashes
    valued = series.loc[series["value"].notna(), ["provider_code", "metric_id", "period"]]
    latest = valued.groupby(["provider_code", "metric_id"], sort=False, observed=True)["period"]
    by_provider: dict[str, dict[str, Any]] = {}
    for (ods, metric), period in latest.max().items():
        by_provider.setdefault(str(ods), {})[str(metric)] = pd.Timestamp(period).date()
    return {
        ods: hashlib.sha256(
            f"{digest}|{figures.digest(ods, by_provider.get(ods, {}))}".encode()
        ).hexdigest()[:32]
        for ods, digest in hashes.items()
    }


def _wanted_providers(
    catalog: Catalog, unified: pd.DataFrame, providers: Iterable[str] | None
) -> list[str]:
    if providers is None:
        present = set(unified["provider_code"].astype(str).unique())
        return sorted(p for p in catalog.providers if p in present)
    return list(dict.fromkeys(_provider(catalog, p).ods_code for p in providers))


def _receipts_by_provider(receipts: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Receipts of each provider: those it sent and those carrying its rows (no dry runs)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in receipts:
        if r.get("dry_run"):
            continue
        owners = {str(p) for p in r.get("providers") or []}
        if r.get("as_provider"):
            owners.add(str(r["as_provider"]))
        for ods in owners:
            out.setdefault(ods, []).append(r)
    return out


def _up_to_date(settings: Settings, index: Mapping[str, Any], ods: str, digest: str) -> bool:
    entry = index.get(ods) or {}
    return entry.get("hash") == digest and all(
        p.exists() for p in pack_paths(settings.packs_dir / ods, ods).values()
    )


def _update_index(settings: Settings, entries: Mapping[str, dict[str, Any]]) -> None:
    """Merge entries into index.json under a lock (batches may build packs concurrently)."""
    with file_lock(settings.packs_dir / ".index.lock"):
        index = read_index(settings)
        index.update(entries)
        data = {"format": PACK_FORMAT, "providers": dict(sorted(index.items()))}
        _atomic_write_bytes(_index_path(settings), json.dumps(data, indent=1, default=str).encode())
