"""Views of requests made at a level: a region's or England's figures in the request's codes.

A request whose YAML says ``level: region`` (or ``england``) asks nothing of providers: its
view is served from the roll-ups, one row per region (or England) × period × item, in the
request's own item codes and frequency. Months are combined into the request's periods by the
item's transform for summed metrics; a recomputed ratio is always recomputed from the numerator
and denominator summed over the months. Flags: ``partial`` (a month of the period had too few
providers), ``missing`` (a month of the period, or one of an item's metrics, has no value).
The ``provider_code`` column holds the region (or ``England``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from collectonce import nhs_periods
from collectonce.catalog import Catalog
from collectonce.catalog.models import Request
from collectonce.publish.periods import MONTHS_IN, parse_range
from collectonce.rollup.table import read_levels
from collectonce.settings import Settings

VIEW_COLUMNS = ["provider_code", "period", "item", "item_label", "metric", "value", "flag"]


def _month(days: pd.Series) -> np.ndarray:
    index = pd.DatetimeIndex(pd.to_datetime(days))
    return np.asarray(index.year * 12 + index.month - 1, dtype=np.int64)


def render_level_view(
    catalog: Catalog,
    settings: Settings,
    request: Request,
    period_from: str | None,
    period_to: str | None,
    as_of: int | None = None,
) -> pd.DataFrame:
    """The view of a level request (see the module docstring), columns as `VIEW_COLUMNS`."""
    start, end = parse_range(period_from, period_to)
    freq, year_start = request.frequency, request.year_start
    size = MONTHS_IN[freq]
    offset = nhs_periods.first_month_offset(freq, year_start)
    frame, version = read_levels(catalog, settings, as_of)
    frame = frame.loc[frame["level"] == request.level]
    frame = frame.assign(month=_month(frame["period"]))
    lo = nhs_periods.month_number(nhs_periods.start_of(start, freq, year_start)) if start else None
    hi = nhs_periods.month_number(nhs_periods.last_month_of(end, freq, year_start)) if end else None
    if lo is not None:
        frame = frame.loc[frame["month"] >= lo]
    if hi is not None:
        frame = frame.loc[frame["month"] <= hi]
    frame = frame.assign(bucket=frame["month"] - (frame["month"] - offset) % size)
    parts = []
    for order, item in enumerate(request.items):
        if not item.is_mapped:
            continue
        part = _item_rows(catalog, frame, item.metric_codes, item.transform, size)
        if part.empty:
            continue
        parts.append(
            part.assign(
                item=item.their_code,
                item_label=item.their_label,
                metric="+".join(item.metric_codes),
                _order=order,
            )
        )
    if not parts:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in VIEW_COLUMNS})
        out["value"] = out["value"].astype("float64")
    else:
        out = pd.concat(parts, ignore_index=True).sort_values(["code", "bucket", "_order"])
        labels = nhs_periods.labels_for_months(out["bucket"].to_numpy(), freq, year_start)
        out = pd.DataFrame(
            {
                "provider_code": out["code"].to_numpy(),
                "period": labels,
                "item": out["item"].to_numpy(),
                "item_label": out["item_label"].to_numpy(),
                "metric": out["metric"].to_numpy(),
                "value": out["value"].to_numpy(dtype="float64"),
                "flag": out["flag"].to_numpy(),
            }
        )
    out.attrs.update(publication=version, request=request.code, level=request.level)
    return out.reset_index(drop=True)


def _item_rows(
    catalog: Catalog, frame: pd.DataFrame, codes: list[str], transform: object, size: int
) -> pd.DataFrame:
    """Value and flag per level code × request period of one item."""
    rows = frame.loc[frame["metric_id"].isin(codes)]
    if rows.empty:
        return pd.DataFrame()
    keys = ["code", "bucket", "month"]
    # an item naming several metrics is their sum, month by month (all must be present)
    monthly = rows.groupby(keys, sort=True).agg(
        numerator=("numerator", lambda s: s.sum(min_count=1)),
        denominator=("denominator", lambda s: s.sum(min_count=1)),
        value=("value", lambda s: s.sum(min_count=1)),
        n=("value", "count"),
        partial=("partial", "any"),
    )
    monthly = monthly.reset_index()
    monthly["missing"] = monthly["n"] < len(codes)
    grouped = monthly.groupby(["code", "bucket"], sort=True)
    first = catalog.metrics[codes[0]]
    expected = max(1, size // MONTHS_IN[first.grain.period])
    agg = grouped.agg(
        numerator=("numerator", lambda s: s.sum(min_count=1)),
        denominator=("denominator", lambda s: s.sum(min_count=1)),
        months=("month", "count"),
        missing=("missing", "any"),
        partial=("partial", "any"),
    ).reset_index()
    how = getattr(transform, "aggregate", "sum") if transform is not None else "sum"
    scale = getattr(transform, "scale", 1.0) if transform is not None else 1.0
    if first.derived is not None and len(codes) == 1:
        with np.errstate(invalid="ignore", divide="ignore"):
            den = agg["denominator"].to_numpy(dtype="float64")
            value = np.where(
                den != 0, first.derived.multiplier * agg["numerator"].to_numpy() / den, np.nan
            )
    elif how in ("mean", "max", "min", "last"):
        reducer = {"mean": "mean", "max": "max", "min": "min", "last": "last"}[how]
        value = grouped["value"].agg(reducer).to_numpy(dtype="float64")
    else:
        value = agg["numerator"].to_numpy(dtype="float64")
    incomplete = agg["missing"].to_numpy() | (agg["months"].to_numpy() < expected)
    if how == "sum" or first.derived is not None:
        value = np.where(incomplete, np.nan, value)
    flag = np.where(incomplete, "missing", np.where(agg["partial"].to_numpy(), "partial", ""))
    return pd.DataFrame(
        {
            "code": agg["code"].to_numpy(),
            "bucket": agg["bucket"].to_numpy(),
            "value": value * scale,
            "flag": flag,
        }
    )
