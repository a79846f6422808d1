"""Series ready for SPC, and SPC for many of them at once.

`prepare_series` turns rows shaped like the unified table (a provider's, or a level's) into one
row per series x period, from each series' first period to its last: values that are not
``reported`` and periods with no row become gaps. `run_spc` runs the vectorised XmR engine over
every series in one call and says, per series, which kind of limits it has. The provider packs,
the overview and the regional and England charts all prepare their series here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from collectonce.nhs_periods import MONTHS_IN

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog

SERIES_COLS = ["provider_code", "metric_id"]

STATUS_FLAG: dict[str, str] = {
    "suppressed": "suppressed",
    "missing": "missing",
    "not_submitted": "not submitted",
}


def as_period(col: pd.Series) -> pd.Series:
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
        period=as_period(df["period"]),
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
    spc = spc.assign(period=as_period(spc["period"]))
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
