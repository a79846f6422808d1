"""A provider's feedback pack: its own data given back with Making Data Count SPC, assurance
against targets, its position among its peers, why each figure is collected and who uses it.

Assembly is pure: `build_pack(catalog, unified, ods, receipts)` turns a frame shaped like the
unified table into a `Pack` (`collectonce.feedback.model`), with each provider's place among
its peers and who uses each figure.

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
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from collectonce.feedback.errors import UnknownProvider
from collectonce.feedback.frames import frame_records, frames_by
from collectonce.feedback.model import MetricPanel, MetricUse, Pack, PeerPosition
from collectonce.feedback.spc.series import (
    SERIES_COLS,
    STATUS_FLAG,
    prepare_series,
    run_spc,
)
from collectonce.feedback.wording import format_period, format_value

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog
    from collectonce.catalog.models import Metric, Provider

RECEIPTS_SHOWN = 10
TRIAL_LIMIT_POINTS = 13


def peer_codes(catalog: Catalog, provider: Provider) -> list[str]:
    """The provider and every other provider of its peer group."""
    return [o for o, p in catalog.providers.items() if p.peer_group == provider.peer_group]


def provider_of(catalog: Catalog, ods: str) -> Provider:
    code = str(ods).strip().upper()
    provider = catalog.providers.get(code)
    if provider is None:
        raise UnknownProvider(
            f"unknown provider {str(ods)[:20]!r}: use an ODS code listed in providers.csv"
        )
    return provider


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


def receipt_dicts(receipts: Iterable[Any] | None) -> list[dict[str, Any]]:
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
    items = [summarise_receipt(r) for r in receipt_dicts(receipts) if not r.get("dry_run")]
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


def build_panels(
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


def assemble_pack(
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
    panels = build_panels(catalog, by_metric, summary, peers)
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
    provider = provider_of(catalog, ods)
    code = provider.ods_code
    if spc_points is None or spc_summary is None:
        own = prepare_series(catalog, unified, providers=[code])
        spc_points, spc_summary = run_spc(own)
    if peers is None:
        group = peer_codes(catalog, provider)
        peers = peer_positions(catalog, prepare_series(catalog, unified, providers=group))
    points = spc_points[spc_points["provider_code"] == code]
    summary = spc_summary[spc_summary["provider_code"] == code]
    own_peers = peers[peers["provider_code"] == code]
    unmatched: tuple[str, ...] = ()
    if "metric_id" in unified.columns:
        mine = unified.loc[unified["provider_code"] == code, "metric_id"].astype(str).unique()
        unmatched = tuple(sorted(set(mine) - set(catalog.metrics)))
    return assemble_pack(
        catalog,
        provider,
        frames_by(points, "metric_id"),
        frame_records(summary),
        frame_records(own_peers),
        receipts,
        publication,
        now,
        unmatched,
    )
