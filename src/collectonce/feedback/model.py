"""A provider's feedback pack as typed parts: the pack, one panel per metric, its peer
position and the request items that use it. Building one is `collectonce.feedback.assembly`'s
job; showing one is `render` (HTML) and `exports` (XLSX, CSV).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from collectonce.feedback.spc.series import as_period
from collectonce.feedback.wording import (
    ASSURANCE_SHORT,
    DIRECTION_TEXT,
    VARIATION_SHORT,
    domain_label,
    target_text,
    use_text,
)

if TYPE_CHECKING:
    from collectonce.catalog.models import Metric, Provider

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
        out: dict[str, np.ndarray] = {"period": as_period(pts["period"]).to_numpy()}
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
