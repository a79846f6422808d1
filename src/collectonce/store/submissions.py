"""The submissions table: every accepted value of every version, with its lineage.

A Delta Lake table at ``tables/submissions`` with the schema ``SUBMISSION_VALUES``. Rows are only
ever appended, one commit per submission run, so every revision stays queryable and a crash never
leaves half a submission behind (an uncommitted write is invisible).

What is appended is decided by validation (see `collectonce.validate.engine`): a value identical
to the one already held for its provider × period × metric is the same fact and is *not*
appended again (so one fact arriving through two legacy returns is stored once), and a changed
value is appended as a revision. Therefore each row for a key is one distinct version, and
``revision`` is simply how many rows a key has up to the moment asked about.

Queries read the table through ``DeltaTable.to_pyarrow_dataset()`` and DuckDB over Arrow (the
DuckDB ``delta`` extension needs a download, so it is not used).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from collectonce import duck
from collectonce.contracts import SUBMISSION_VALUES, with_dictionaries
from collectonce.settings import Settings
from collectonce.store import delta_tables

KEY = ["provider_code", "period", "metric_id"]
#: Columns that repeat one value per file (or a few notes) may be handed to `append_values`
#: dictionary-encoded: they are stored as strings, and the Parquet writer skips re-encoding them.
DICTIONARY_COLUMNS = (
    "submission_id",
    "file_sha256",
    "source_template",
    "submitted_by",
    "warnings",
    "provider_code",
    "metric_id",
    "value_status",
)
WRITE_SCHEMA = with_dictionaries(SUBMISSION_VALUES, DICTIONARY_COLUMNS)
_ORDER = "received_at DESC, submission_id DESC, source_row DESC"


def table_path(settings: Settings) -> Path:
    return settings.tables_dir / "submissions"


def _table(settings: Settings) -> Any | None:
    return delta_tables.latest(table_path(settings))


def table_version(settings: Settings) -> int | None:
    """The Delta version of the table (None before the first value is stored)."""
    table = _table(settings)
    return None if table is None else int(table.version())


def as_table(data: pa.Table | pd.DataFrame) -> pa.Table:
    """Values in exactly the table's schema."""
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
        for column in SUBMISSION_VALUES.names:
            if column not in frame:
                frame[column] = None
        if "received_at" in frame:
            frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True)
        if "period" in frame:
            frame["period"] = pd.to_datetime(frame["period"]).dt.date
        return pa.Table.from_pandas(
            frame[SUBMISSION_VALUES.names], schema=SUBMISSION_VALUES, preserve_index=False
        )
    return data.select(SUBMISSION_VALUES.names).cast(SUBMISSION_VALUES)


def append_values(
    settings: Settings,
    data: pa.Table | pd.DataFrame | Iterable[pa.RecordBatch],
    *,
    schema: pa.Schema = SUBMISSION_VALUES,
) -> int:
    """Append values in one commit; the number of rows written (nothing is committed for 0).

    Batches (streamed, for large submissions) are in `schema`: ``SUBMISSION_VALUES`` or
    ``WRITE_SCHEMA``. The Parquet files are written by pyarrow and committed by deltalake
    (`collectonce.store.delta_append`)."""
    from collectonce.store.delta_append import append_batches

    path = table_path(settings)
    if isinstance(data, pa.Table | pd.DataFrame):
        table = as_table(data)
        if table.num_rows == 0:
            return 0
        data, schema = table.to_batches(), SUBMISSION_VALUES
    return append_batches(path, data, schema=schema, table_schema=SUBMISSION_VALUES)


def _dataset(
    settings: Settings, column: str | None = None, values: Iterable[str] = ()
) -> Any | None:
    """The table as a pyarrow dataset: every file, or (with `column`) only the files whose
    statistics allow one of `values` in that column (rows must still be filtered)."""
    path = table_path(settings)
    if column is None:
        found = delta_tables.dataset(path)
    else:
        found = delta_tables.files_with(path, column, sorted(set(values)))
    return None if found is None else found[1]


def _empty_frame(extra: dict[str, str] | None = None) -> pd.DataFrame:
    frame = SUBMISSION_VALUES.empty_table().to_pandas(date_as_object=True)
    for column, dtype in (extra or {}).items():
        frame[column] = pd.Series(dtype=dtype)
    return frame


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _query(
    settings: Settings,
    sql: str,
    params: list[Any],
    providers: Iterable[str] | None = None,
) -> pa.Table | None:
    """`sql` over the table (as ``submission_values``); with `providers`, over only the files
    that may hold their values (the query must still select them)."""
    if providers is None:
        dataset = _dataset(settings)
    else:
        dataset = _dataset(settings, "provider_code", providers)
    if dataset is None:
        return None
    con = duck.cursor()
    try:
        con.register("submission_values", dataset)
        return con.sql(sql, params=params).to_arrow_table()
    finally:
        con.close()


def _to_frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(date_as_object=True)


def current_values(
    settings: Settings,
    as_of: dt.datetime | None = None,
    *,
    exclude_submissions: Iterable[str] = (),
    providers: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The latest value received per provider × period × metric, with its lineage.

    `as_of` keeps only what had been received by then. ``revision`` counts the versions of the
    key received so far (1 for a value never revised). `exclude_submissions` leaves some
    submissions out (a re-run after a crash compares with what was held before it).
    """
    where = ["TRUE"]
    params: list[Any] = []
    if as_of is not None:
        where.append("received_at <= ?")
        params.append(_utc(as_of))
    excluded = sorted(set(exclude_submissions))
    if excluded:
        where.append(f"submission_id NOT IN ({', '.join('?' for _ in excluded)})")
        params.extend(excluded)
    wanted: list[str] | None = None
    if providers is not None:
        wanted = sorted(set(providers))
        if not wanted:
            return _empty_frame({"revision": "int32"})
        where.append(f"provider_code IN ({', '.join('?' for _ in wanted)})")
        params.extend(wanted)
    sql = f"""
        SELECT * EXCLUDE (rn) FROM (
            SELECT *,
                row_number() OVER (PARTITION BY provider_code, period, metric_id
                                   ORDER BY {_ORDER}) AS rn,
                CAST(count(*) OVER (PARTITION BY provider_code, period, metric_id) AS INTEGER)
                    AS revision
            FROM submission_values
            WHERE {" AND ".join(where)}
        ) WHERE rn = 1
        ORDER BY provider_code, period, metric_id
    """
    table = _query(settings, sql, params, wanted)
    if table is None:
        return _empty_frame({"revision": "int32"})
    return _to_frame(table)


def value_history(
    settings: Settings,
    provider_code: str,
    metric_id: str,
    period: dt.date | str | None = None,
) -> pd.DataFrame:
    """Every version held for one provider and metric (one period, or all), oldest first."""
    where = ["provider_code = ?", "metric_id = ?"]
    params: list[Any] = [provider_code, metric_id]
    if period is not None:
        where.append("period = ?")
        params.append(_as_date(period))
    sql = f"""
        SELECT *,
            CAST(row_number() OVER (PARTITION BY provider_code, period, metric_id
                                    ORDER BY received_at, submission_id, source_row) AS INTEGER)
                AS version
        FROM submission_values WHERE {" AND ".join(where)}
        ORDER BY period, received_at, submission_id, source_row
    """
    table = _query(settings, sql, params, [provider_code])
    if table is None:
        return _empty_frame({"version": "int32"})
    return _to_frame(table)


def _as_date(period: dt.date | str) -> dt.date:
    if isinstance(period, dt.datetime):
        return period.date()
    if isinstance(period, dt.date):
        return period
    text = str(period).strip()
    if len(text) == 7:
        text += "-01"
    return dt.date.fromisoformat(text[:10])


#: The submission ids of data files whose statistics do not name a single one (a run of several
#: files stores them in one file), read once per file: rows are only appended, and a data
#: file never changes.
_READ_IDS: dict[str, frozenset[str]] = {}
_READ_IDS_LOCK = threading.Lock()
MOST_READ_FILES = 100_000


def _ids_in_file(path: Path) -> frozenset[str]:
    import pyarrow.parquet as pq

    key = str(path)
    with _READ_IDS_LOCK:
        found = _READ_IDS.get(key)
    if found is None:
        column = pq.read_table(path, columns=["submission_id"]).column("submission_id")
        found = frozenset(str(v) for v in column.unique().to_pylist())
        with _READ_IDS_LOCK:
            if len(_READ_IDS) >= MOST_READ_FILES:
                _READ_IDS.clear()
            _READ_IDS[key] = found
    return found


def submission_ids(settings: Settings) -> set[str]:
    """Every submission id with at least one stored value: from each data file's statistics
    where they name one submission (a file per submission, as stored), else from its
    ``submission_id`` column (read once per file)."""
    path = table_path(settings)
    found = delta_tables.single_values(path, "submission_id")
    if found is None:
        return set()
    _version, single = found
    ids: set[str] = set()
    for name, value in single.items():
        if value is not None:
            ids.add(value)
        elif (file := delta_tables.local_file(path, name)) is not None:
            ids |= _ids_in_file(file)
        elif (dataset := _dataset(settings)) is not None:  # a file elsewhere: read them all
            column = dataset.to_table(columns=["submission_id"]).column("submission_id")
            return {str(v) for v in column.unique().to_pylist()}
    return ids


def unreceipted_submissions(settings: Settings, stored: set[str] | None = None) -> set[str]:
    """Submissions with stored values but no receipt yet: one still being received, or one whose
    process died between storing and writing its receipt (sending the file again finishes it).
    Their values are not publishable: values count only together with their receipt.
    `stored` is `submission_ids`, when the caller has just read it."""
    from collectonce.store.receipts import receipt_path

    if stored is None:
        stored = submission_ids(settings)
    return {sid for sid in stored if not receipt_path(settings, sid).is_file()}


def submission_values(settings: Settings, submission_id: str) -> pd.DataFrame:
    """The values one submission stored."""
    import pyarrow.dataset as ds

    dataset = _dataset(settings, "submission_id", [submission_id])
    if dataset is None:
        return _empty_frame()
    table = dataset.to_table(filter=ds.field("submission_id") == submission_id)
    return _to_frame(table)


def unfinished_submissions(settings: Settings) -> list[dict[str, Any]]:
    """What each submission without a receipt stored (see `unreceipted_submissions`): its file's
    hash, the sender, when it arrived, how many values, for which providers and periods, oldest
    first. These values are not published until the same file is sent again, which finishes
    the submission without storing anything twice."""
    import pyarrow.compute as compute
    import pyarrow.dataset as ds

    pc: Any = compute  # its kernels are made at load, unseen by a checker

    pending = unreceipted_submissions(settings)
    dataset = _dataset(settings, "submission_id", pending)
    if not pending or dataset is None:
        return []
    columns = ["submission_id", "file_sha256", "submitted_by", "received_at", "provider_code"]
    table = dataset.to_table(
        columns=[*columns, "period"],
        filter=ds.field("submission_id").isin(sorted(pending)),
    )
    out = []
    for sid in sorted(pending):
        rows = table.filter(pc.equal(table["submission_id"].cast(pa.string()), sid))
        if not rows.num_rows:
            continue
        received = pc.min(rows["received_at"]).as_py()
        periods = sorted({p.isoformat()[:7] for p in rows["period"].to_pylist() if p})
        out.append(
            {
                "submission_id": sid,
                "file_sha256": str(rows["file_sha256"][0].as_py()),
                "submitted_by": str(rows["submitted_by"][0].as_py()),
                "received_at": received,
                "values": rows.num_rows,
                "providers": sorted(
                    {str(p) for p in rows["provider_code"].cast(pa.string()).to_pylist() if p}
                ),
                "periods": periods,
            }
        )
    return sorted(out, key=lambda u: (u["received_at"] is None, u["received_at"] or 0))
