"""Locked periods and late-change exceptions.

"On time" and "locked" are different things:

- *late* (`is_late` in the unified table) means a value arrived after its request deadline. A
  late value is still published, flagged.
- *locked* means a period's published figures are frozen. ``lock_periods(up_to="2018-12")``
  locks every period that starts in or before December 2018 and records when. From then on,
  each locked provider × period × metric is published as it stood in the submissions received
  up to the moment of locking. A later submission that changes such a value (or adds one that
  was absent) stays in the submissions table but is *held back* from publication, and
  `late_changes` lists it. Lock right after publishing, so the frozen figures are the published
  ones.
- An *exception* (``grant_exception(provider, period, reason, by)``) admits every change for that
  provider and locked period. The admitted value is published with ``revision > 1`` and the
  views flag it "revised".

The state lives in ``settings.root / "locks.json"``, written atomically.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from collectonce.atomic import file_lock
from collectonce.catalog.models import ODS_PATTERN
from collectonce.publish._current import KEY, current_submissions
from collectonce.publish.errors import BadParameter
from collectonce.publish.periods import month_label, parse_month
from collectonce.publish.versions import latest_version
from collectonce.settings import Settings

ODS_RE = re.compile(ODS_PATTERN)
CHANGE_COLUMNS = [
    *KEY,
    "locked_value",
    "locked_status",
    "new_value",
    "new_status",
    "submission_id",
    "received_at",
    "locked_at",
    "decision",
]


@dataclass(frozen=True)
class Lock:
    """Every period starting in or before `up_to` (YYYY-MM) is locked since `locked_at`."""

    up_to: str
    locked_at: dt.datetime
    by: str
    publication: int | None = None
    created: bool = True

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["locked_at"] = self.locked_at.isoformat()
        return out


@dataclass(frozen=True)
class LateException:
    """Changes by `provider` to the locked period `period` (YYYY-MM) are admitted."""

    provider: str
    period: str
    reason: str
    by: str
    granted_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["granted_at"] = self.granted_at.isoformat()
        return out


@dataclass(frozen=True)
class LockState:
    locks: tuple[Lock, ...] = ()
    exceptions: tuple[LateException, ...] = ()

    def locked_at(self, period: dt.date) -> dt.datetime | None:
        """When `period` (its first day) was first locked, or None."""
        times = [lock.locked_at for lock in self.locks if parse_month(lock.up_to) >= period]
        return min(times) if times else None

    def has_exception(self, provider: str, period: dt.date) -> bool:
        label = month_label(period)
        return any(e.provider == provider and e.period == label for e in self.exceptions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "locks": [{k: v for k, v in x.to_dict().items() if k != "created"} for x in self.locks],
            "exceptions": [x.to_dict() for x in self.exceptions],
        }


def locks_file(settings: Settings) -> Path:
    return settings.root / "locks.json"


def load_locks(settings: Settings) -> LockState:
    """The locks and exceptions recorded so far (none when the file does not exist)."""
    path = locks_file(settings)
    if not path.exists():
        return LockState()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        locks = tuple(
            Lock(
                up_to=str(x["up_to"]),
                locked_at=dt.datetime.fromisoformat(x["locked_at"]),
                by=str(x.get("by", "")),
                publication=x.get("publication"),
            )
            for x in data.get("locks", [])
        )
        exceptions = tuple(
            LateException(
                provider=str(x["provider"]),
                period=str(x["period"]),
                reason=str(x.get("reason", "")),
                by=str(x.get("by", "")),
                granted_at=dt.datetime.fromisoformat(x["granted_at"]),
            )
            for x in data.get("exceptions", [])
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BadParameter(f"{path.name} is damaged ({exc}): restore it from a backup") from None
    return LockState(locks=locks, exceptions=exceptions)


@contextlib.contextmanager
def _locked_file(settings: Settings) -> Iterator[None]:
    with file_lock(settings.root / "locks.json.lock"):
        yield


def _save(settings: Settings, state: LockState) -> None:
    path = locks_file(settings)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _when(now: dt.datetime | None) -> dt.datetime:
    stamp = now or dt.datetime.now(dt.UTC)
    return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)


def _who(by: str) -> str:
    by = (by or "").strip()
    if not by:
        raise BadParameter("say who is doing this (by): a name or team")
    return by


def lock_periods(
    settings: Settings, up_to: str, by: str, *, now: dt.datetime | None = None
) -> Lock:
    """Lock every period starting in or before `up_to` (YYYY-MM).

    Idempotent: when an existing lock already covers `up_to`, that lock is returned with
    ``created=False`` and nothing is written.
    """
    period = parse_month(up_to, "up_to")
    who = _who(by)
    with _locked_file(settings):
        state = load_locks(settings)
        for lock in state.locks:
            if parse_month(lock.up_to) >= period:
                return Lock(lock.up_to, lock.locked_at, lock.by, lock.publication, created=False)
        lock = Lock(month_label(period), _when(now), who, latest_version(settings))
        _save(settings, LockState((*state.locks, lock), state.exceptions))
    return lock


def grant_exception(
    settings: Settings,
    provider: str,
    period: str,
    reason: str,
    by: str,
    *,
    now: dt.datetime | None = None,
) -> LateException:
    """Admit `provider`'s changes to the locked `period` (YYYY-MM) at the next publication."""
    provider = (provider or "").strip().upper()
    if not ODS_RE.match(provider):
        raise BadParameter(f"provider {provider!r} is not an ODS code (3 to 5 letters or digits)")
    day = parse_month(period, "period")
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise BadParameter("give a reason for the exception (it is kept for audit)")
    who = _who(by)
    with _locked_file(settings):
        state = load_locks(settings)
        if state.locked_at(day) is None:
            raise BadParameter(
                f"period {month_label(day)} is not locked, so changes to it need no exception"
            )
        grant = LateException(provider, month_label(day), reason, who, _when(now))
        _save(settings, LockState(state.locks, (*state.exceptions, grant)))
    return grant


def is_locked(settings: Settings, period: str | dt.date) -> bool:
    """Whether `period` (YYYY-MM or a date in it) is locked."""
    day = parse_month(period) if isinstance(period, str) else dt.date(period.year, period.month, 1)
    return load_locks(settings).locked_at(day) is not None


def _empty_changes() -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in CHANGE_COLUMNS})


def apply_locks(
    current: pd.DataFrame, settings: Settings, state: LockState | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split current values into what may be published and the changes to locked periods.

    Returns ``(admitted, changes)``. `admitted` has one row per key, like `current`, with each
    locked key (without an exception) at its value as of the lock. `changes` lists every key of
    a locked period whose value or status differs from the frozen one (or that is new), with
    ``decision`` "held_back" or "admitted" (an exception covers it).
    """
    state = state if state is not None else load_locks(settings)
    if not state.locks or current.empty:
        return current, _empty_changes()
    periods = current["period"].drop_duplicates()
    lock_time = {p: state.locked_at(p.date()) for p in periods}
    locked_at = current["period"].map(lock_time)
    locked_rows = current.loc[locked_at.notna()].assign(locked_at=locked_at.dropna())
    if locked_rows.empty:
        return current, _empty_changes()
    frozen_parts = []
    for when, rows in locked_rows.groupby("locked_at", sort=True):
        frozen = current_submissions(settings, as_of=cast(pd.Timestamp, when).to_pydatetime())
        keys = rows[KEY]
        frozen_parts.append(keys.merge(frozen, on=KEY, how="inner"))
    frozen = pd.concat(frozen_parts, ignore_index=True)
    merged = locked_rows.merge(frozen, on=KEY, how="left", suffixes=("", "_frozen"))
    same = (merged["value_status"] == merged["value_status_frozen"]) & (
        (merged["value"] == merged["value_frozen"])
        | (merged["value"].isna() & merged["value_frozen"].isna())
    )
    excepted = _excepted(merged, state)
    changed = merged.loc[~same.to_numpy()]
    changes = pd.DataFrame(
        {
            **{k: changed[k].to_numpy() for k in KEY},
            "locked_value": changed["value_frozen"].to_numpy(),
            "locked_status": changed["value_status_frozen"].to_numpy(),
            "new_value": changed["value"].to_numpy(),
            "new_status": changed["value_status"].to_numpy(),
            "submission_id": changed["submission_id"].to_numpy(),
            "received_at": changed["received_at"].to_numpy(),
            "locked_at": changed["locked_at"].to_numpy(),
            "decision": np.where(excepted[~same.to_numpy()], "admitted", "held_back"),
        }
    )
    # Keys to replace by their frozen row: locked, no exception. Same-valued keys also keep the
    # frozen row, so a resubmission of an unchanged value does not alter the publication.
    use_frozen = ~excepted
    replace = merged.loc[use_frozen, KEY]
    keep = current.merge(replace.assign(_drop=True), on=KEY, how="left")
    kept = current.loc[keep["_drop"].isna().to_numpy()]
    frozen_rows = frozen.merge(replace, on=KEY, how="inner")[current.columns]
    admitted = pd.concat([kept, frozen_rows], ignore_index=True)
    return admitted, changes.reset_index(drop=True)


def _excepted(rows: pd.DataFrame, state: LockState) -> np.ndarray:
    """For each row, whether an exception covers its provider and period (vectorised)."""
    if not state.exceptions:
        return np.zeros(len(rows), dtype=bool)
    grants = pd.DataFrame(
        {
            "provider_code": [e.provider for e in state.exceptions],
            "period": pd.to_datetime([e.period + "-01" for e in state.exceptions]),
        }
    ).drop_duplicates()
    grants = grants.assign(period=grants["period"].astype(rows["period"].dtype), _hit=True)
    on = ["provider_code", "period"]
    hits = rows[on].merge(grants, on=on, how="left")
    return hits["_hit"].notna().to_numpy()


def late_changes(settings: Settings) -> pd.DataFrame:
    """Changes to locked periods since they were locked, each "held_back" or "admitted"."""
    current = current_submissions(settings)
    return apply_locks(current, settings)[1]
