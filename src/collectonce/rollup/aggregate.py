"""Roll provider values up to regions and England: sums, recomputed ratios and coverage.

A ``sum`` metric adds the reported values of the level's providers (a reported 0 counts as a
true zero; a suppressed ``*`` or blank value contributes nothing). A ``recompute`` metric (a
derived ratio) adds, over the providers whose own ratio is reported, the numerator and the
denominator of its formula, then divides: a region's 4-hour percentage is 1 − Σ breaches /
Σ attendances of its providers, never the mean of their percentages. Inputs in an
``absent_as_zero`` group that a provider does not send count as 0, as for its own ratio.

Each value carries ``providers`` (how many contributed) and ``providers_expected`` (see
`collectonce.rollup.levels`), and is ``partial`` when providers < coverage threshold ×
expected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from collectonce.catalog import Catalog
from collectonce.catalog.models import Metric
from collectonce.rollup.levels import ENGLAND, region_map, requesting_providers

LEVEL_COLUMNS = [
    "level",
    "code",
    "period",
    "metric_id",
    "value",
    "numerator",
    "denominator",
    "providers",
    "providers_expected",
    "partial",
]
MONTHS_PER_PERIOD = {"month": 1, "quarter": 3, "year": 12}


def empty_levels() -> pd.DataFrame:
    return _typed(pd.DataFrame({c: [] for c in LEVEL_COLUMNS}))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.reset_index(drop=True).index)
    src = frame.reset_index(drop=True)
    out["level"] = src["level"].astype(object)
    out["code"] = src["code"].astype(object)
    out["period"] = pd.to_datetime(src["period"]).astype("datetime64[s]")
    out["metric_id"] = src["metric_id"].astype(object)
    for col in ("value", "numerator", "denominator"):
        out[col] = pd.to_numeric(src[col], errors="coerce").astype("float64")
    out["providers"] = src["providers"].astype("int32")
    out["providers_expected"] = src["providers_expected"].astype("int32")
    out["partial"] = src["partial"].astype(bool)
    return out[LEVEL_COLUMNS]


def _month_index(periods: pd.Series) -> np.ndarray:
    days = pd.DatetimeIndex(pd.to_datetime(periods))
    return np.asarray(days.year * 12 + days.month - 1, dtype=np.int64)


def _contributions(metric: Metric, rows: pd.DataFrame, reported: pd.DataFrame) -> pd.DataFrame:
    """Per provider and period: numerator and denominator the provider adds to its levels."""
    own = reported.loc[reported["metric_id"] == metric.code, ["provider_code", "month", "value"]]
    if metric.derived is None:
        return own.assign(numerator=own["value"], denominator=np.nan).drop(columns="value")
    derived = metric.derived
    inputs = reported.loc[
        reported["metric_id"].isin(derived.inputs), ["provider_code", "month", "metric_id", "value"]
    ]
    wide = inputs.pivot_table(
        index=["provider_code", "month"], columns="metric_id", values="value", aggfunc="first"
    )
    keys = pd.MultiIndex.from_frame(own[["provider_code", "month"]])
    wide = wide.reindex(index=keys, columns=derived.inputs).fillna(0.0)

    def total(expression: object) -> np.ndarray:
        out = np.zeros(len(wide))
        for sign, code in expression.terms:  # type: ignore[attr-defined]
            out += sign * wide[code].to_numpy(dtype="float64")
        return out

    return pd.DataFrame(
        {
            "provider_code": own["provider_code"].to_numpy(),
            "month": own["month"].to_numpy(),
            "numerator": total(derived.numerator),
            "denominator": total(derived.denominator),
        }
    )


def compute_levels(catalog: Catalog, unified: pd.DataFrame) -> pd.DataFrame:
    """Every metric that rolls up, at every region and England, for every period it has data.

    `unified` is shaped like the unified table (provider_code, period, metric_id, value,
    value_status). Returns LEVEL_COLUMNS sorted by metric, level, code and period.
    """
    if unified.empty:
        return empty_levels()
    rows = unified.loc[:, ["provider_code", "period", "metric_id", "value", "value_status"]]
    rows = rows.assign(month=_month_index(rows["period"]), provider_code=rows["provider_code"])
    reported = rows.loc[rows["value_status"] == "reported"]
    regions = region_map(catalog)
    unassigned = catalog.levels.unassigned_label
    threshold = catalog.levels.coverage_threshold
    grace = catalog.levels.closed_after_periods
    present = set(rows["metric_id"].unique())
    frames: list[pd.DataFrame] = []
    for code in sorted(present):
        metric = catalog.metrics.get(code)
        if metric is None or metric.rolls_up == "none":
            continue
        frames.extend(
            _metric_levels(
                metric,
                rows.loc[rows["metric_id"] == code],
                _contributions(metric, rows, reported),
                requesting_providers(catalog, code),
                regions,
                unassigned,
                threshold,
                grace,
            )
        )
    if not frames:
        return empty_levels()
    out = _typed(pd.concat(frames, ignore_index=True))
    order = out.assign(_lvl=out["level"].map({"region": 0, "england": 1}))
    order = order.sort_values(["metric_id", "_lvl", "code", "period"], kind="stable")
    return order.drop(columns="_lvl").reset_index(drop=True)


def _metric_levels(
    metric: Metric,
    own_rows: pd.DataFrame,
    contrib: pd.DataFrame,
    requesting: set[str],
    regions: dict[str, str],
    unassigned: str,
    threshold: float,
    grace: int,
) -> list[pd.DataFrame]:
    step = MONTHS_PER_PERIOD[metric.grain.period]
    months = np.unique(own_rows["month"].to_numpy())
    span = own_rows.groupby("provider_code", sort=True)["month"].agg(["min", "max"])
    latest = int(months.max())
    last = span["max"].to_numpy()
    last_eff = np.where(last >= latest - grace * step, latest, last)
    asks = span.index.isin(list(requesting))
    # providers × periods: expected when active and asked
    grid = (span["min"].to_numpy()[:, None] <= months[None, :]) & (
        months[None, :] <= last_eff[:, None]
    )
    grid &= asks[:, None]
    providers = span.index.to_numpy(dtype=object)
    cell = pd.DataFrame(
        {
            "provider_code": np.repeat(providers, len(months)),
            "month": np.tile(months, len(providers)),
            "expected": grid.reshape(-1),
        }
    )
    cell = cell.merge(contrib, on=["provider_code", "month"], how="left")
    cell["contributed"] = cell["numerator"].notna()
    cell["expected"] |= cell["contributed"]
    cell = cell.loc[cell["expected"]]
    cell["region"] = cell["provider_code"].map(regions).fillna(unassigned)
    out = []
    for level, key in (("region", "region"), ("england", None)):
        by = [key, "month"] if key else ["month"]
        g = cell.groupby(by, sort=True).agg(
            numerator=("numerator", lambda s: s.sum(min_count=1)),
            denominator=("denominator", lambda s: s.sum(min_count=1)),
            providers=("contributed", "sum"),
            providers_expected=("expected", "sum"),
        )
        g = g.reset_index()
        codes = g[key].to_numpy(dtype=object) if key else np.full(len(g), ENGLAND, dtype=object)
        if metric.derived is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                den = g["denominator"].to_numpy(dtype="float64")
                value = np.where(
                    den != 0, metric.derived.multiplier * g["numerator"].to_numpy() / den, np.nan
                )
        else:
            value = g["numerator"].to_numpy(dtype="float64")
        month = g["month"].to_numpy()
        out.append(
            pd.DataFrame(
                {
                    "level": level,
                    "code": codes,
                    "period": pd.to_datetime(
                        {"year": month // 12, "month": month % 12 + 1, "day": 1}
                    ),
                    "metric_id": metric.code,
                    "value": value,
                    "numerator": g["numerator"].to_numpy(dtype="float64"),
                    "denominator": g["denominator"].to_numpy(dtype="float64"),
                    "providers": g["providers"].to_numpy(),
                    "providers_expected": g["providers_expected"].to_numpy(),
                    "partial": g["providers"].to_numpy()
                    < threshold * g["providers_expected"].to_numpy(),
                }
            )
        )
    return out
