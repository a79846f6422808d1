"""Publish once: the unified table as one atomic, versioned Delta Lake commit.

A publication is one commit of the Delta table at ``settings.tables_dir / "unified"``, holding one
row per provider × period × metric (derived metrics included) with the schema
`collectonce.contracts.UNIFIED`.

Why Delta Lake: a commit is a single JSON file in ``_delta_log/`` written after every data file
is complete, so a crash mid-publish leaves only unreferenced Parquet files and the previous
version stays intact; every version stays readable ("as of" any publication); and Spark, DuckDB
(``delta_scan``) and Polars (``read_delta``) read it without help. The table is not partitioned:
a partition column would be stored in folder names rather than in the Parquet files, so readers
that open the files directly would lose it. Rows are sorted by metric, period and provider, so
the Parquet row-group statistics let any reader skip what a filtered query does not need.

Each commit carries custom metadata: ``collectonce.published_at``,
``collectonce.catalog_version``, ``collectonce.catalog_fingerprint``, ``collectonce.counts``
(JSON) and ``collectonce.content_hash`` (sha256 of the table's content). Re-publishing content
whose hash equals the latest commit's writes nothing, even when only the catalogue version
changed: a publication is about the data that requesters pull.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from collectonce.atomic import file_lock
from collectonce.catalog import Catalog
from collectonce.contracts import UNIFIED
from collectonce.publish._current import current_submissions
from collectonce.publish.errors import NothingToPublish, UnknownPublication
from collectonce.publish.history import META, Publication, history_entry

# re-exported: the API, the CLI and the pages read publications from here
from collectonce.publish.history import PublishedVersion as PublishedVersion
from collectonce.publish.history import list_publications as list_publications
from collectonce.publish.history import publications as publications
from collectonce.publish.periods import next_period_start
from collectonce.publish.versions import latest_version, open_table, unified_path
from collectonce.settings import Settings
from collectonce.store.faults import fault_point

STATUS_CODES = {"reported": 0, "suppressed": 1, "missing": 2}
STATUS_NAMES = np.array(["reported", "suppressed", "missing"], dtype=object)
COLUMNS = [f.name for f in UNIFIED]
SORT_KEY = ["metric_id", "period", "provider_code"]


# --------------------------------------------------------------------------- building the table


def _metrics_used(catalog: Catalog, request: Any) -> set[str]:
    """The metrics a request's items need, collected inputs of derived ones included."""
    used: set[str] = set()
    for item in request.items:
        for code in item.metric_codes:
            if code in catalog.metrics:
                used |= {code, *catalog.collected_inputs(code)}
    return used


#: No deadline (later than any real one), in days since 1970.
_NO_DEADLINE = np.iinfo(np.int64).max


def collection_start(catalog: Catalog) -> dt.date:
    """When collecting under this catalogue began: the earliest date in its notice of change
    (or its own effective date). A deadline before it was not a deadline of this collection,
    so values for those periods (a back-filled history) are never late."""
    dates = [change.effective_from for change in catalog.info.changes]
    return min([catalog.info.effective_from, *dates])


def late_flags(catalog: Catalog, rows: pd.DataFrame) -> pd.Series:
    """Whether each collected value arrived after its deadline (vectorised).

    The deadline of a value is the earliest over every request that uses its metric (directly
    or through a derived metric) and that its provider answers (the request's respondents;
    a `level:` request for regions, boards or England asks nothing of providers):
    the first day after that request's period holding the value's period (month, NHS quarter
    or financial year, or a calendar quarter or year where the request says
    ``year_start: january``), plus the request's ``due_days_after_period`` days, at 00:00 UTC.
    In words: due by the end of day ``N`` after the period ends. A value received at or after
    that instant is late. A value no request asks of its provider has no deadline and is never
    late, and nor is a value whose deadline fell before collecting began (`collection_start`:
    history loaded afterwards was due under the old returns, not this collection). "Late" is
    about the deadline only; whether the period is locked is a separate matter (see
    `collectonce.publish.locks`).
    """
    if rows.empty:
        return pd.Series(np.zeros(0, dtype=bool), index=rows.index)
    metric_idx, metric_names = pd.factorize(rows["metric_id"])
    groups_of = {code: p.peer_group for code, p in catalog.providers.items()}
    provider_idx, provider_names = pd.factorize(rows["provider_code"])
    group_of_provider, group_names = pd.factorize(
        pd.Series([groups_of.get(code) for code in provider_names], dtype=object)
    )
    group_idx = (
        group_of_provider[provider_idx] if len(provider_names) else np.zeros(0, dtype=np.int64)
    )
    group_idx = np.where(provider_idx < 0, -1, group_idx)
    metric_pos = {code: i for i, code in enumerate(metric_names)}
    n_groups = len(group_names) + 1  # the last column: providers outside the catalogue
    group_idx = np.where(group_idx < 0, n_groups - 1, group_idx)
    group_pos = {group: i for i, group in enumerate(group_names)}
    # fewest days allowed, per (frequency, year start) × metric × peer group
    days: dict[tuple[str, str], np.ndarray] = {}
    for request in catalog.requests.values():
        if request.level != "provider":
            continue  # a regional or national request asks nothing of providers
        key = (request.frequency, request.year_start)
        table = days.setdefault(key, np.full((len(metric_names), n_groups), -1, dtype=np.int64))
        cols = (
            list(range(n_groups))
            if request.respondents == "all"
            else [group_pos[g] for g in request.respondents if g in group_pos]
        )
        for code in _metrics_used(catalog, request):
            i = metric_pos.get(code)
            if i is None or not cols:
                continue
            current = table[i, cols]
            due = request.due_days_after_period
            table[i, cols] = np.where((current < 0) | (current > due), due, current)
    deadline = np.full(len(rows), _NO_DEADLINE, dtype=np.int64)
    # period ends are worked out once per distinct period, then spread over the rows
    period_days = rows["period"].to_numpy().astype("datetime64[D]")
    distinct, period_of_row = np.unique(period_days, return_inverse=True)
    distinct_periods = pd.Series(distinct.astype("datetime64[ns]"))
    for (frequency, year_start), table in days.items():
        allowed = table[metric_idx, group_idx]
        if not (allowed >= 0).any():
            continue
        ends = next_period_start(distinct_periods, frequency, year_start)
        end_days = ends.to_numpy().astype("datetime64[D]").astype(np.int64)[period_of_row]
        candidate = np.where(allowed >= 0, end_days + allowed, _NO_DEADLINE)
        deadline = np.minimum(deadline, candidate)
    received = pd.to_datetime(rows["received_at"], utc=True).dt.tz_localize(None)
    received_us = received.to_numpy().astype("datetime64[us]").astype(np.int64)
    start = (np.datetime64(collection_start(catalog), "D") - np.datetime64(0, "D")).astype(int)
    has_deadline = (deadline != _NO_DEADLINE) & (deadline >= start)
    due_us = np.where(has_deadline, deadline, 0) * 86_400_000_000
    late = has_deadline & received.notna().to_numpy() & (received_us >= due_us)
    return pd.Series(late, index=rows.index, dtype=bool)


def derive_metrics(catalog: Catalog, collected: pd.DataFrame) -> pd.DataFrame:
    """Rows of every derived metric, computed from the catalogue's formulas (vectorised).

    For each provider and period where at least one input exists:

    - value = (Σ sign × numerator inputs) / (Σ sign × denominator inputs) × multiplier;
    - status ``missing`` (value null) when any input is missing or absent, except that a group
      of inputs named in ``absent_as_zero`` that a provider sent none of counts as 0 (a type of
      department it does not run adds nothing to an all-types total);
    - otherwise ``suppressed`` (value null) when any input is suppressed: a ratio could
      disclose the small number;
    - otherwise ``missing`` (value null) when the denominator is 0;
    - lineage: ``received_at``, ``submission_id`` and ``file_sha256`` of the input received last,
      ``source_row`` null; ``revision`` the highest input revision; ``is_late`` when any input
      was late.

    Derived metrics built on derived metrics work because `Catalog.derived_order` lists inputs
    first. `collected` must carry ``is_late``.
    """
    derived = catalog.derived_order
    if not derived or collected.empty:
        return _empty_frame()
    derived_codes = {m.code for m in derived}
    formulas = [(m, m.derived) for m in derived if m.derived is not None]
    needed = sorted({code for _, f in formulas for code in f.inputs} - derived_codes)
    sub = collected.loc[collected["metric_id"].isin(needed)].reset_index(drop=True)
    if sub.empty:
        return _empty_frame()
    # one slot per provider × period; one plane (a 1-D array over slots) per metric
    provider_codes, providers = pd.factorize(sub["provider_code"])
    period_codes, periods = pd.factorize(sub["period"])
    slot_codes, slot_keys = pd.factorize(provider_codes * len(periods) + period_codes)
    n = len(slot_keys)
    slot_provider = providers.to_numpy(dtype=object)[slot_keys // len(periods)]
    slot_period = periods.to_numpy()[slot_keys % len(periods)]
    metric_col = sub["metric_id"].to_numpy(dtype=object)
    status_all = sub["value_status"].map(STATUS_CODES).to_numpy(dtype=float)
    received_all = sub["received_at"].astype("int64").to_numpy(dtype=np.int64)
    received_all = received_all.astype(float)  # microseconds since 1970, exact in a float
    planes: dict[str, dict[str, np.ndarray]] = {
        "value": {},
        "status": {},
        "revision": {},
        "received": {},
        "late": {},
        "source": {},
    }
    for code in needed:
        rows = np.flatnonzero(metric_col == code)
        slots = slot_codes[rows]
        for name, values, fill in (
            ("value", sub["value"].to_numpy(dtype=float), np.nan),
            ("status", status_all, np.nan),
            ("revision", sub["revision"].to_numpy(dtype=float), np.nan),
            ("received", received_all, np.nan),
        ):
            filled = np.full(n, fill)
            filled[slots] = values[rows]
            planes[name][code] = filled
        late = np.zeros(n, dtype=bool)
        late[slots] = sub["is_late"].to_numpy(dtype=bool)[rows]
        planes["late"][code] = late
        source = np.full(n, -1, dtype=np.int64)
        source[slots] = rows
        planes["source"][code] = source
    no_source = np.array([None], dtype=object)  # the slot of a value with no input row
    submission_ids = np.concatenate([sub["submission_id"].to_numpy(dtype=object), no_source])
    file_hashes = np.concatenate([sub["file_sha256"].to_numpy(dtype=object), no_source])
    nan = np.full(n, np.nan)
    out_frames = []
    for metric, formula in formulas:
        inputs = formula.inputs

        def plane(name: str, code: str, default: np.ndarray = nan) -> np.ndarray:
            return planes[name].get(code, default)

        # a group of inputs a provider sends none of (a service it does not run) counts as 0
        as_zero = {code: np.zeros(n, dtype=bool) for code in inputs}
        for group in formula.absent_as_zero:
            none_sent = np.logical_and.reduce([np.isnan(plane("status", c)) for c in group])
            for code in group:
                as_zero[code] |= none_sent

        def entered(name: str, code: str, as_zero: dict[str, np.ndarray] = as_zero) -> np.ndarray:
            zero = STATUS_CODES["reported"] if name == "status" else 0.0
            return np.where(as_zero[code], zero, plane(name, code))

        raw_status = np.stack([plane("status", c) for c in inputs])
        present = (~np.isnan(raw_status)).any(axis=0)
        status = np.stack([entered("status", c) for c in inputs])
        any_suppressed = (status == STATUS_CODES["suppressed"]).any(axis=0)
        any_missing = (np.isnan(status) | (status == STATUS_CODES["missing"])).any(axis=0)
        numerator = sum(sign * entered("value", code) for sign, code in formula.numerator.terms)
        denominator = sum(sign * entered("value", code) for sign, code in formula.denominator.terms)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = numerator / denominator * formula.multiplier
        zero_den = ~any_missing & ~any_suppressed & (denominator == 0)
        code_out = np.select(
            [any_missing, any_suppressed, zero_den],
            [STATUS_CODES["missing"], STATUS_CODES["suppressed"], STATUS_CODES["missing"]],
            default=STATUS_CODES["reported"],
        )
        value = np.where(code_out == STATUS_CODES["reported"], value, np.nan)
        received = np.stack([plane("received", c) for c in inputs])
        filled = np.where(np.isnan(received), -np.inf, received)
        last = filled.argmax(axis=0)
        received_last = filled.max(axis=0)
        revision = np.fmax.reduce(np.stack([plane("revision", c, np.ones(n)) for c in inputs]))
        late = np.zeros(n, dtype=bool)
        for code in inputs:
            late |= plane("late", code, np.zeros(n, dtype=bool))
        sources = np.stack([plane("source", c, np.full(n, -1, dtype=np.int64)) for c in inputs])
        source = sources[last, np.arange(n)]
        keep = np.flatnonzero(present)
        out_frames.append(
            pd.DataFrame(
                {
                    "provider_code": pd.Series(slot_provider[keep], dtype=object),
                    "period": slot_period[keep],
                    "metric_id": pd.Series([metric.code] * len(keep), dtype=object),
                    "value": value[keep],
                    "value_status": pd.Series(STATUS_NAMES[code_out[keep]], dtype=object),
                    "is_derived": True,
                    "is_late": late[keep],
                    "revision": np.nan_to_num(revision[keep], nan=1).astype("int32"),
                    "submission_id": pd.Series(submission_ids[source[keep]], dtype=object),
                    "file_sha256": pd.Series(file_hashes[source[keep]], dtype=object),
                    "source_row": pd.array([pd.NA] * len(keep), dtype="Int64"),
                    "received_at": pd.to_datetime(received_last[keep], unit="us", utc=True),
                }
            )
        )
        # make this derived metric available to derived metrics built on it
        planes["value"][metric.code] = np.where(present, value, np.nan)
        planes["status"][metric.code] = np.where(present, code_out, np.nan).astype(float)
        planes["revision"][metric.code] = np.where(present, revision, np.nan)
        planes["received"][metric.code] = np.where(present, received_last, np.nan)
        planes["late"][metric.code] = late & present
        planes["source"][metric.code] = np.where(present, source, -1)
    return _typed(pd.concat(out_frames, ignore_index=True))


def build_unified(catalog: Catalog, current: pd.DataFrame) -> pd.DataFrame:
    """The unified table from current values: collected rows, lateness and derived metrics.

    Submitted rows for metrics the catalogue does not know, or for derived metrics (which are
    always computed), are left out. Returns a new frame sorted by metric, period and provider.
    """
    known = {code for code, m in catalog.metrics.items() if not m.is_derived}
    collected = current.loc[current["metric_id"].isin(known)]
    collected = collected.assign(is_derived=False, is_late=late_flags(catalog, collected))
    collected = _typed(collected[COLUMNS])
    derived = derive_metrics(catalog, collected)
    frames = [f for f in (collected, derived) if not f.empty]
    if not frames:
        return _empty_frame()
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return _typed(out.sort_values(SORT_KEY, kind="stable").reset_index(drop=True))


def _empty_frame() -> pd.DataFrame:
    return _typed(pd.DataFrame({c: [] for c in COLUMNS}))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Stable dtypes for UNIFIED columns, so equal content always hashes equally."""
    src = frame.reset_index(drop=True)
    out = pd.DataFrame(index=src.index)
    for col in ("provider_code", "metric_id", "value_status", "submission_id", "file_sha256"):
        out[col] = src[col].astype(object)
    out["period"] = src["period"].astype("datetime64[s]")
    out["value"] = src["value"].astype("float64")
    out["is_derived"] = src["is_derived"].astype(bool)
    out["is_late"] = src["is_late"].astype(bool)
    out["revision"] = src["revision"].astype("int32")
    out["source_row"] = src["source_row"].astype("Int64")
    out["received_at"] = pd.to_datetime(src["received_at"], utc=True).astype("datetime64[us, UTC]")
    out["comment"] = src["comment"].astype(object) if "comment" in src else None
    return out[COLUMNS]


def content_hash(frame: pd.DataFrame) -> str:
    """sha256 of the table's content (column names, then every row in table order)."""
    digest = hashlib.sha256(json.dumps(list(frame.columns)).encode())
    if len(frame):
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def count_rows(frame: pd.DataFrame) -> dict[str, int]:
    status = frame["value_status"]
    return {
        "rows": len(frame),
        "collected": int((~frame["is_derived"]).sum()),
        "derived": int(frame["is_derived"].sum()),
        "providers": int(frame["provider_code"].nunique()),
        "metrics": int(frame["metric_id"].nunique()),
        "periods": int(frame["period"].nunique()),
        "reported": int((status == "reported").sum()),
        "suppressed": int((status == "suppressed").sum()),
        "missing": int((status == "missing").sum()),
        "late": int(frame["is_late"].sum()),
        "revised": int((frame["revision"] > 1).sum()),
    }


# --------------------------------------------------------------------------- committing


@contextlib.contextmanager
def _publish_lock(settings: Settings) -> Iterator[None]:
    """One publisher at a time on this data folder (released by the OS if the process dies)."""
    with file_lock(settings.root / "publish.lock"):
        yield


#: What runs after a new publication is committed, still under the publish lock: the caller
#: hands the published frame on (the roll-ups, `collectonce.rollup.publishing`).
AfterCommit = Callable[[Catalog, Settings, int | None, pd.DataFrame], object]


def publish(
    catalog: Catalog,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    after_commit: AfterCommit | None = None,
) -> Publication:
    """Publish the current accepted values (and derived metrics) as one atomic Delta commit.

    `after_commit` receives the new version and its rows before the publish lock is released,
    so whatever it writes (the regional and England roll-ups) is in place before another
    publication can start. Publishing at every level is `collectonce.rollup.publishing`.

    Changes to locked periods without an exception are held back (see
    `collectonce.publish.locks.apply_locks`). When the content equals the latest publication's,
    nothing is written and the result has ``created=False``. Raises `NothingToPublish` when no
    value has been accepted yet.
    """
    import pyarrow as pa
    from deltalake import CommitProperties, WriterProperties, write_deltalake

    from collectonce.publish.locks import apply_locks

    published_at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    with _publish_lock(settings):
        current = current_submissions(settings)
        if current.empty:
            raise NothingToPublish(
                "there are no accepted submissions to publish: submit files first"
            )
        admitted, changes = apply_locks(current, settings)
        frame = build_unified(catalog, admitted)
        digest = content_hash(frame)
        counts = count_rows(frame)
        counts["held_back"] = int((changes["decision"] == "held_back").sum())
        counts["dropped_unknown_metric"] = int(
            (~current["metric_id"].isin(list(catalog.metrics))).sum()
        )
        latest = _latest_commit(settings)
        if latest is not None and latest.content_hash == digest:
            # nothing new; report this run's diagnostics beside the current publication's counts
            run_counts = {k: counts[k] for k in ("held_back", "dropped_unknown_metric")}
            return replace(latest, counts={**latest.counts, **run_counts})
        table = pa.Table.from_pandas(frame, schema=UNIFIED, preserve_index=False)
        table = table.replace_schema_metadata(UNIFIED.metadata)
        metadata = {
            f"{META}published_at": published_at.isoformat(),
            f"{META}catalog_version": catalog.version,
            f"{META}catalog_fingerprint": catalog.fingerprint,
            f"{META}counts": json.dumps(counts, sort_keys=True),
            f"{META}content_hash": digest,
        }
        path = unified_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        fault_point("publish:before_commit")
        write_deltalake(
            path,
            table,
            mode="overwrite",
            schema_mode="overwrite",
            writer_properties=WriterProperties(compression="ZSTD", max_row_group_size=131_072),
            commit_properties=CommitProperties(custom_metadata=metadata),
        )
        fault_point("publish:committed")
        version = latest_version(settings)
        with _LATEST_LOCK:
            _LATEST.pop(str(path / "_delta_log"), None)
        if after_commit is not None:
            after_commit(catalog, settings, version, frame)
    return Publication(
        version=version,
        created=True,
        published_at=published_at,
        catalog_version=catalog.version,
        counts=counts,
        content_hash=digest,
    )


# --------------------------------------------------------------------------- reading


_LATEST: dict[str, tuple[int, float, int]] = {}
_LATEST_LOCK = threading.Lock()
_LATEST_MAX_AGE_S = 1.0


def _latest_cached(settings: Settings, *, force: bool = False) -> int | None:
    """The latest version, re-read when the Delta log folder changes (or after a second).

    Folder times are coarse, so another process's commit may go unseen for up to a second.
    """
    log = unified_path(settings) / "_delta_log"
    try:
        stamp = log.stat().st_mtime_ns
    except OSError:
        return None
    key = str(log)
    with _LATEST_LOCK:
        hit = _LATEST.get(key)
    now = time.monotonic()
    if not force and hit and hit[0] == stamp and now - hit[1] < _LATEST_MAX_AGE_S:
        return hit[2]
    version = latest_version(settings)
    if version is not None:
        with _LATEST_LOCK:
            _LATEST[key] = (stamp, now, version)
    return version


def resolve_version(settings: Settings, as_of: int | None = None) -> int:
    """`as_of` checked against the published versions (latest when None).

    Fast: the latest version is remembered until the Delta log changes. Raises
    `UnknownPublication` when nothing is published or the version does not exist.
    """
    if as_of is not None and (isinstance(as_of, bool) or not isinstance(as_of, int)):
        raise UnknownPublication(f"publication {as_of!r} is not a version number")
    latest = _latest_cached(settings)
    if latest is not None and as_of is not None and as_of > latest:
        latest = _latest_cached(settings, force=True)
    if latest is None:
        raise UnknownPublication("nothing has been published yet: run `collectonce publish` first")
    if as_of is None:
        return latest
    if not 0 <= as_of <= latest:
        raise UnknownPublication(
            f"there is no publication {as_of}: published versions are 0 to {latest}"
        )
    return as_of


def _latest_commit(settings: Settings) -> Publication | None:
    try:
        table = open_table(settings)
    except UnknownPublication:
        return None
    history = table.history(1)
    return history_entry(history[0]) if history else None


def read_unified_table(
    settings: Settings,
    as_of: int | None = None,
    *,
    columns: list[str] | None = None,
    filter: Any = None,
) -> Any:
    """The unified table at publication `as_of` (latest when None) as a pyarrow Table."""
    table = open_table(settings, as_of)
    dataset = table.to_pyarrow_dataset()
    return dataset.to_table(columns=columns, filter=filter)


def read_unified(settings: Settings, as_of: int | None = None) -> pd.DataFrame:
    """The unified table at publication `as_of` (latest when None); period as `datetime.date`.

    Raises `UnknownPublication` (a ValueError) for a version that does not exist.
    """
    return read_unified_table(settings, as_of).to_pandas()
