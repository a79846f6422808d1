"""A provider's region's and England's figures, to show beside its own in its pack."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from collectonce.catalog import Catalog
from collectonce.display import format_value
from collectonce.rollup.aggregate import level_rows
from collectonce.rollup.levels import ENGLAND
from collectonce.settings import Settings


class LevelFigures:
    """The roll-ups of one publication, looked up by level code, metric and period."""

    def __init__(self, catalog: Catalog, frame: pd.DataFrame) -> None:
        self._catalog = catalog
        self._rows: dict[tuple[str, str, str, dt.date], dict[str, Any]] = {}
        periods = pd.DatetimeIndex(pd.to_datetime(frame["period"])).date
        values = frame["value"].to_numpy(dtype="float64")
        for i, row in enumerate(level_rows(frame)):
            value = values[i]
            self._rows[(row.level, row.code, row.metric_id, periods[i])] = {
                "level": row.level,
                "code": row.code,
                "value": None if np.isnan(value) else float(value),
                "providers": int(row.providers),
                "providers_expected": int(row.providers_expected),
                "partial": bool(row.partial),
            }

    def for_provider(self, ods: str, metric: str, period: dt.date | None) -> tuple[dict, ...]:
        """The provider's region's and England's figure for the metric and period (those
        that exist)."""
        if period is None:
            return ()
        region = self._catalog.region_of(ods)
        out = []
        for level, code in (("region", region), ("england", ENGLAND)):
            row = self._rows.get((level, code, metric, period))
            if row is not None and row["value"] is not None:
                out.append(row)
        return tuple(out)

    def digest(self, ods: str, latest: Mapping[str, dt.date]) -> str:
        """A digest of the figures the provider's pack shows beside its own: its region's and
        England's value, as displayed, for each metric's latest period (`latest`)."""
        parts = []
        for metric, period in sorted(latest.items()):
            known = self._catalog.metrics.get(metric)
            for row in self.for_provider(ods, metric, period):
                shown = format_value(row["value"], known)
                parts.append(
                    f"{metric}|{period}|{row['code']}|{shown}|{row['partial']}|"
                    f"{row['providers']}|{row['providers_expected']}"
                )
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def level_figures(catalog: Catalog, settings: Settings, version: int | None) -> LevelFigures | None:
    """The roll-ups of publication `version`, or None when there are none to show."""
    from collectonce.publish.errors import PublishError
    from collectonce.rollup.table import read_levels

    if version is None:
        return None
    try:
        frame, _ = read_levels(catalog, settings, version)
    except PublishError:
        return None
    return LevelFigures(catalog, frame) if len(frame) else None
