"""SPC at a level: Making Data Count XmR charts of roll-ups, partial periods left out.

A partial period (fewer providers than the coverage threshold asks) is kept in the series and
shown, but it is left out of the mean and limits and carries no signal: comparing a month in
which 120 trusts reported with one in which 80 did says nothing about the process.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import pandas as pd

from collectonce.catalog import Catalog
from collectonce.feedback.spc.series import prepare_series, run_spc
from collectonce.feedback.wording import ASSURANCE_SHORT, VARIATION_SHORT


def as_series_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Level rows shaped like the unified table, with the level code as the series' name.

    A partial value gets the status ``partial`` (so SPC leaves it out); a level-period with no
    contributing provider is ``missing``."""
    status = np.where(rows["partial"], "partial", "reported")
    status = np.where(rows["value"].isna(), "missing", status)
    return pd.DataFrame(
        {
            "provider_code": rows["code"].astype(str).to_numpy(),
            "period": pd.to_datetime(rows["period"]).to_numpy(),
            "metric_id": rows["metric_id"].astype(str).to_numpy(),
            "value": rows["value"].to_numpy(dtype="float64"),
            "value_status": status,
        }
    )


def level_spc(catalog: Catalog, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(points, summary) of every code × metric series in `rows` (level table rows).

    Points are shaped as the provider pack's (``provider_code`` holds the level code) plus
    ``providers``, ``providers_expected`` and ``partial``; partial points keep their value for
    display, with no mean-breaking signal, and their flag says how many providers reported."""
    series = prepare_series(catalog, as_series_frame(rows))
    points, summary = run_spc(series)
    keys = ["provider_code", "metric_id", "period"]
    extra = rows.assign(
        provider_code=rows["code"].astype(str),
        period=pd.to_datetime(rows["period"]).astype("datetime64[ns]"),
    )[[*keys, "value", "providers", "providers_expected", "partial"]]
    extra = extra.rename(columns={"value": "_value"})
    points = points.merge(extra, on=keys, how="left")
    partial = points["partial"].fillna(False).astype(bool).to_numpy()
    points["partial"] = partial
    points["providers"] = points["providers"].fillna(0).astype("int64")
    points["providers_expected"] = points["providers_expected"].fillna(0).astype("int64")
    points.loc[partial, "value"] = points.loc[partial, "_value"]
    points = points.drop(columns="_value")
    flags = points["flags"].astype(object).to_numpy().copy()
    for i in np.flatnonzero(partial):
        note = (
            f"partial: {points['providers'].iat[int(i)]} of "
            f"{points['providers_expected'].iat[int(i)]} "
            "providers, left out of the limits"
        )
        flags[i] = note if not flags[i] else f"{flags[i]}; {note}"
    points["flags"] = flags
    return points, summary


class Verdict(TypedDict):
    """A series' SPC verdict, as code and in words (the JSON of `rollup --json`)."""

    variation: str | None
    variation_text: str
    assurance: str | None
    assurance_text: str
    limits: str | None


def verdicts(summary: pd.DataFrame) -> dict[tuple[str, str], Verdict]:
    """(code, metric) → the variation and assurance verdict, in words."""
    out: dict[tuple[str, str], Verdict] = {}
    for row in summary.to_dict("records"):
        icon = row.get("variation_icon") or None
        assurance = row.get("assurance") or None
        out[(str(row["provider_code"]), str(row["metric_id"]))] = {
            "variation": icon,
            "variation_text": VARIATION_SHORT.get(icon or "", "Not assessed"),
            "assurance": assurance,
            "assurance_text": ASSURANCE_SHORT.get(assurance or "", "Not assessed"),
            "limits": row.get("limits"),
        }
    return out
