"""Ask for roll-ups: one metric at one level, a range of periods, any publication."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from collectonce.catalog import Catalog
from collectonce.publish.periods import parse_range
from collectonce.rollup.aggregate import level_rows
from collectonce.rollup.errors import UnknownLevel
from collectonce.rollup.levels import aggregable_metric, check_level
from collectonce.rollup.table import read_levels
from collectonce.settings import Settings

ROW_KEYS = ("level", "code", "period", "value", "providers", "providers_expected", "partial")


def period_label(day: pd.Timestamp, grain: str) -> str:
    """A period written as views write it: ``2019-01``, an NHS quarter ``2018/19 Q4`` or a
    financial year ``2018/19``."""
    from collectonce.nhs_periods import label_of

    return label_of(day, grain)


def select_rollups(
    catalog: Catalog,
    settings: Settings,
    *,
    metric: str | None,
    level: str,
    period_from: str | None = None,
    period_to: str | None = None,
    as_of: int | None = None,
    codes: Iterable[str] | None = None,
    metrics: Iterable[str] | None = None,
) -> tuple[pd.DataFrame, int]:
    """Level rows of one metric (or of `metrics`) at `level`, optionally only some codes.

    Raises `NotAggregable` for a metric that cannot be rolled up, `UnknownLevel`, `BadParameter`
    for a malformed range and `UnknownPublication`."""
    check_level(level)
    if level == "icb" and not catalog.icbs:
        raise UnknownLevel(
            "providers.csv names no integrated care board: add an icb column to roll up by ICB"
        )
    wanted = [metric] if metric is not None else list(metrics or [])
    for code in wanted:
        aggregable_metric(catalog, code)
    start, end = parse_range(period_from, period_to)
    frame, version = read_levels(catalog, settings, as_of)
    keep = (frame["level"] == level).to_numpy() & frame["metric_id"].isin(wanted).to_numpy()
    if codes is not None:
        keep &= frame["code"].isin(list(codes)).to_numpy()
    if start is not None:
        keep &= (frame["period"] >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (frame["period"] <= pd.Timestamp(end)).to_numpy()
    out = frame.loc[keep].reset_index(drop=True)
    out.attrs["publication"] = version
    return out, version


def rows_to_dicts(catalog: Catalog, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The JSON rows: level, code, period (as views write it), value (a whole number for a
    count), providers, expected, partial; ``value`` is null when no provider contributed."""
    out: list[dict[str, Any]] = []
    days = pd.DatetimeIndex(pd.to_datetime(rows["period"]))
    grains = [catalog.metrics[str(c)].grain.period for c in rows["metric_id"]]
    values = rows["value"].to_numpy(dtype="float64")
    counts = {
        code: m.value_type == "integer" and m.rolls_up == "sum"
        for code, m in catalog.metrics.items()
    }
    for i, row in enumerate(level_rows(rows)):
        value = values[i]
        shown: float | int | None = None if np.isnan(value) else round(float(value), 6)
        if shown is not None and counts.get(row.metric_id) and float(shown).is_integer():
            shown = int(shown)  # a count is written as a whole number
        out.append(
            {
                "level": row.level,
                "code": row.code,
                "period": period_label(days[i], grains[i]),
                "value": shown,
                "providers": int(row.providers),
                "providers_expected": int(row.providers_expected),
                "partial": bool(row.partial),
            }
        )
    return out
