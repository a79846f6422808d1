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

from collections.abc import Iterator
from typing import Protocol, cast

import numpy as np
import pandas as pd

from collectonce.catalog import Catalog
from collectonce.catalog.models import Metric
from collectonce.nhs_periods import MONTHS_IN
from collectonce.rollup.levels import ENGLAND, region_map, requesting_sets

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


class LevelRow(Protocol):
    """One row of the level table (`LEVEL_COLUMNS`), as `itertuples` gives it."""

    level: str
    code: str
    metric_id: str
    providers: int
    providers_expected: int
    partial: bool


def level_rows(frame: pd.DataFrame) -> Iterator[LevelRow]:
    """The rows of a level-table frame, typed."""
    return cast("Iterator[LevelRow]", frame.itertuples(index=False))


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


def _keys(provider: np.ndarray, month: np.ndarray, base: int, span: int) -> np.ndarray:
    """One int64 per provider x month (months counted from `base`)."""
    return provider.astype(np.int64) * span + (month - base)


def _contributions(
    metric: Metric,
    rows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    base: int,
    span: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(provider, month, numerator, denominator) the metric's reporting providers add.

    `rows` maps each metric to its reported (provider, month, value) arrays."""
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    provider, month, value = rows.get(metric.code, none)
    if metric.derived is None:
        return provider, month, value, np.full(len(value), np.nan)
    derived = metric.derived
    wanted = _keys(provider, month, base, span)
    columns: dict[str, np.ndarray] = {}
    for code in derived.inputs:
        p, m, v = rows.get(code, none)
        inside = (m >= base) & (m < base + span)
        p, m, v = p[inside], m[inside], v[inside]
        keys = _keys(p, m, base, span)
        if len(keys) != len(np.unique(keys)):  # one value per provider and month: keep the last
            last = np.unique(keys[::-1], return_index=True)[1]
            keep = np.sort(len(keys) - 1 - last)
            keys, v = keys[keep], v[keep]
        at = pd.Index(keys).get_indexer(pd.Index(wanted))
        columns[code] = (
            np.where(at >= 0, v[np.maximum(at, 0)], 0.0) if len(v) else np.zeros(len(wanted))
        )

    def total(expression: object) -> np.ndarray:
        out = np.zeros(len(value))
        for sign, code in expression.terms:  # type: ignore[attr-defined]
            out += sign * np.nan_to_num(columns[code], nan=0.0)
        return out

    return provider, month, total(derived.numerator), total(derived.denominator)


def compute_levels(catalog: Catalog, unified: pd.DataFrame) -> pd.DataFrame:
    """Every metric that rolls up, at every region and England, for every period it has data.

    `unified` is shaped like the unified table (provider_code, period, metric_id, value,
    value_status). All metrics are handled together in a few vectorised steps. Returns
    LEVEL_COLUMNS sorted by metric, level, code and period.
    """
    if unified.empty:
        return empty_levels()
    wanted = [
        code
        for code in pd.unique(unified["metric_id"].astype(str))
        if code in catalog.metrics and catalog.metrics[code].rolls_up != "none"
    ]
    rows = unified.loc[unified["metric_id"].isin(wanted)]
    if rows.empty:
        return empty_levels()
    p_idx, providers = pd.factorize(rows["provider_code"].astype(str).to_numpy())
    m_idx, metrics = pd.factorize(rows["metric_id"].astype(str).to_numpy())
    month = _month_index(rows["period"])
    value = rows["value"].to_numpy(dtype="float64")
    reported = (rows["value_status"] == "reported").to_numpy()
    n_p, n_m = len(providers), len(metrics)
    base = int(month.min())
    span = int(month.max()) - base + 1

    # each provider's region (as an index into region_names)
    regions = region_map(catalog)
    unassigned = catalog.levels.unassigned_label
    region_names = list(dict.fromkeys([*catalog.regions, unassigned]))
    region_pos = {name: i for i, name in enumerate(region_names)}
    region_of = np.array(
        [region_pos[regions.get(str(p), unassigned) or unassigned] for p in providers],
        dtype=np.int64,
    )
    # and its integrated care board, when providers.csv names any
    icb_names = list(dict.fromkeys([*catalog.icbs, unassigned]))
    icb_pos = {name: i for i, name in enumerate(icb_names)}
    icb_of = np.array([icb_pos[catalog.icb_of(str(p))] for p in providers], dtype=np.int64)

    # contributions: numerator and denominator per metric x provider x month
    by_metric: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    order = np.argsort(m_idx, kind="stable")
    bounds = np.searchsorted(m_idx[order], np.arange(n_m + 1))
    for i, code in enumerate(metrics):
        sel = order[bounds[i] : bounds[i + 1]]
        sel = sel[reported[sel]]
        by_metric[str(code)] = (p_idx[sel].astype(np.int64), month[sel], value[sel])
    # derived metrics need their inputs even when the inputs themselves do not roll up
    for metric in (catalog.metrics[c] for c in {str(c) for c in metrics}):
        for code in metric.derived.inputs if metric.derived else ():
            if code not in by_metric:
                by_metric[code] = _input_rows(unified, code, providers)
    contrib_parts = []
    for i, code in enumerate(metrics):
        p, mo, num, den = _contributions(catalog.metrics[str(code)], by_metric, base, span)
        contrib_parts.append((np.full(len(p), i, dtype=np.int64), p, mo, num, den))
    c_m, c_p, c_month, c_num, c_den = (np.concatenate(x) for x in zip(*contrib_parts, strict=True))

    # who is expected: active for the metric (first to last report, or still within the grace
    # periods of the latest) and asked by a request for it
    grace = catalog.levels.closed_after_periods
    pair = m_idx.astype(np.int64) * n_p + p_idx
    spans = pd.DataFrame({"pair": pair, "month": month}).groupby("pair", sort=True)["month"]
    first, last = spans.min(), spans.max()
    pair_key = first.index.to_numpy()
    pair_m, pair_p = pair_key // n_p, pair_key % n_p
    latest = pd.Series(month).groupby(m_idx).max().reindex(range(n_m)).to_numpy()
    step = np.array([MONTHS_IN[catalog.metrics[str(c)].grain.period] for c in metrics])
    last_v = last.to_numpy()
    last_eff = np.where(last_v >= latest[pair_m] - grace * step[pair_m], latest[pair_m], last_v)
    asked = requesting_sets(catalog)
    asks_matrix = np.zeros((n_m, n_p), dtype=bool)
    for i, code in enumerate(metrics):
        asks_matrix[i] = np.isin(providers, list(asked(str(code))))
    asks = asks_matrix[pair_m, pair_p]

    # the grid: every active pair x every period its metric has data for
    mm = pd.DataFrame({"m": m_idx, "month": month}).drop_duplicates().sort_values(["m", "month"])
    mm_m, mm_month = mm["m"].to_numpy(), mm["month"].to_numpy()
    t_start = np.searchsorted(mm_m, np.arange(n_m))
    t_count = np.bincount(mm_m, minlength=n_m)
    reps = t_count[pair_m]
    pair_rep = np.repeat(np.arange(len(pair_key)), reps)
    offset = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    g_month = mm_month[t_start[pair_m[pair_rep]] + offset]
    expected = (
        (first.to_numpy()[pair_rep] <= g_month) & (g_month <= last_eff[pair_rep]) & asks[pair_rep]
    )
    g_m, g_p = pair_m[pair_rep], pair_p[pair_rep]
    g_key = (g_m * n_p + g_p) * span + (g_month - base)
    c_key = (c_m * n_p + c_p) * span + (c_month - base)
    at = pd.Index(c_key).get_indexer(g_key)
    contributed = at >= 0
    numerator = np.where(contributed, c_num[np.maximum(at, 0)], np.nan)
    denominator = np.where(contributed, c_den[np.maximum(at, 0)], np.nan)
    keep = expected | contributed
    cells = pd.DataFrame(
        {
            "m": g_m[keep],
            "r": region_of[g_p[keep]],
            "i": icb_of[g_p[keep]],
            "month": g_month[keep],
            "numerator": numerator[keep],
            "denominator": denominator[keep],
            "contributed": contributed[keep],
            "expected": True,
        }
    )
    threshold = catalog.levels.coverage_threshold
    multiplier = np.array(
        [d.multiplier if (d := catalog.metrics[str(c)].derived) else 1.0 for c in metrics]
    )
    is_derived = np.array([catalog.metrics[str(c)].derived is not None for c in metrics])
    out = []
    levels = [("region", ["m", "r", "month"]), ("england", ["m", "month"])]
    if catalog.icbs:
        levels.insert(0, ("icb", ["m", "i", "month"]))
    for level, keys in levels:
        grouped = cells.groupby(keys, sort=True)
        g = grouped[["numerator", "denominator"]].sum(min_count=1)
        counts = grouped[["contributed", "expected"]].sum()
        g = g.reset_index()
        gm = g["m"].to_numpy()
        num = g["numerator"].to_numpy(dtype="float64")
        den = g["denominator"].to_numpy(dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(den != 0, multiplier[gm] * num / den, np.nan)
        n_contrib = counts["contributed"].to_numpy()
        n_expected = counts["expected"].to_numpy()
        mo = g["month"].to_numpy()
        if level == "region":
            codes = np.array(region_names, dtype=object)[g["r"].to_numpy()]
        elif level == "icb":
            codes = np.array(icb_names, dtype=object)[g["i"].to_numpy()]
        else:
            codes = np.full(len(g), ENGLAND, dtype=object)
        out.append(
            pd.DataFrame(
                {
                    "level": level,
                    "code": codes,
                    "period": pd.to_datetime({"year": mo // 12, "month": mo % 12 + 1, "day": 1}),
                    "metric_id": np.asarray(metrics, dtype=object)[gm],
                    "value": np.where(is_derived[gm], ratio, num),
                    "numerator": num,
                    "denominator": den,
                    "providers": n_contrib,
                    "providers_expected": n_expected,
                    "partial": n_contrib < threshold * n_expected,
                }
            )
        )
    frame = _typed(pd.concat(out, ignore_index=True))
    frame = frame.assign(_lvl=frame["level"].map({"icb": 0, "region": 1, "england": 2}))
    frame = frame.sort_values(["metric_id", "_lvl", "code", "period"], kind="stable")
    return frame.drop(columns="_lvl").reset_index(drop=True)


def _input_rows(
    unified: pd.DataFrame, code: str, providers: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reported rows of an input metric that does not itself roll up, as provider indexes."""
    rows = unified.loc[(unified["metric_id"] == code) & (unified["value_status"] == "reported")]
    at = pd.Index(providers).get_indexer(pd.Index(rows["provider_code"].astype(str)))
    keep = at >= 0
    return (
        at[keep].astype(np.int64),
        _month_index(rows["period"])[keep],
        rows["value"].to_numpy(dtype="float64")[keep],
    )
