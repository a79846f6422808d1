"""The current accepted values, as the publish stage needs them.

`collectonce.store.submissions.current_values` owns the rule (the latest received value per
provider × period × metric, plus a `revision` count); this module only pins the columns and
dtypes the publish stage relies on.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from collectonce.settings import Settings

KEY = ["provider_code", "period", "metric_id"]
COLUMNS = [
    *KEY,
    "value",
    "value_status",
    "submission_id",
    "file_sha256",
    "source_row",
    "received_at",
    "revision",
    "comment",
]


def current_submissions(settings: Settings, as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Latest accepted value per key received at or before `as_of` (all when None), normalised.

    Values of a submission without a receipt are left out: they become publishable only
    together with their receipt."""
    from collectonce.store.submissions import current_values, unreceipted_submissions

    pending = unreceipted_submissions(settings)
    return normalise(current_values(settings, as_of=as_of, exclude_submissions=pending))


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Exactly COLUMNS with stable dtypes, whatever the reader returned."""
    if frame is None or len(frame.columns) == 0:
        frame = pd.DataFrame({c: [] for c in COLUMNS})
    src = frame.reset_index(drop=True)
    out = pd.DataFrame(index=src.index)
    for col in ("provider_code", "metric_id", "value_status", "submission_id", "file_sha256"):
        out[col] = src[col].astype(object) if col in src else None
    out["period"] = pd.to_datetime(src["period"]).astype("datetime64[s]")
    out["value"] = pd.to_numeric(src["value"], errors="coerce").astype("float64")
    out["source_row"] = src["source_row"].astype("Int64") if "source_row" in src else pd.NA
    out["source_row"] = out["source_row"].astype("Int64")
    received = pd.to_datetime(src["received_at"], utc=True)
    out["received_at"] = received.astype("datetime64[us, UTC]")
    revision = src["revision"].fillna(1) if "revision" in src else 1
    out["revision"] = pd.Series(revision, index=src.index).astype("int32")
    out["comment"] = src["comment"].astype(object) if "comment" in src else None
    return out[COLUMNS]
