"""Helpers for the publish tests: real-shaped rows written straight into the submissions table."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

#: Real type 1 A&E figures, January to March 2019 (NHS England A&E Attendances and Emergency
#: Admissions): provider, month, attendances, over 4 hours, emergency admissions.
AE_2019_Q1 = [
    ("RF4", "2019-01", 16428, 7363, 4607),
    ("RF4", "2019-02", 14569, 6140, 4097),
    ("RF4", "2019-03", 15994, 4618, 4703),
    ("R1H", "2019-01", 28273, 7277, 8544),
    ("R1H", "2019-02", 25261, 6926, 7883),
    ("R1H", "2019-03", 27950, 7262, 8808),
    ("RQM", "2019-01", 19897, 1587, 4517),
    ("RQM", "2019-02", 18296, 1774, 4053),
    ("RQM", "2019-03", 19746, 1116, 4453),
    ("RRK", "2019-01", 31935, 12502, 11493),
    ("RRK", "2019-02", 28898, 11376, 9789),
    ("RRK", "2019-03", 32017, 10670, 10850),
]

ATT, BRE, ADM = "ae_attendances_type1", "ae_breaches_4hr_type1", "ae_emergency_admissions"
PERF = "ae_4hr_performance_type1"
SICK = "staff_sickness_absence_rate"


def on_time(period: str, day: int = 5) -> dt.datetime:
    """A receipt time early in the month after `period` (before every deadline in the tests)."""
    year, month = (int(x) for x in period.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return dt.datetime(year, month, day, 9, 0, tzinfo=dt.UTC)


def row(
    provider: str,
    period: str,
    metric: str,
    value: float | None,
    *,
    status: str | None = None,
    received: dt.datetime | None = None,
    submission: str = "sub-1",
    source_row: int = 2,
) -> dict[str, Any]:
    """One submissions row; status defaults to reported, or missing when value is None."""
    return {
        "provider": provider,
        "period": period,
        "metric": metric,
        "value": value,
        "status": status or ("reported" if value is not None else "missing"),
        "received": received or on_time(period),
        "submission": submission,
        "source_row": source_row,
    }


def ae_rows(
    providers: tuple[str, ...] = ("RF4", "R1H", "RQM", "RRK"), **kwargs: Any
) -> list[dict[str, Any]]:
    """The real Q1 2019 rows as submissions (three metrics per provider and month)."""
    out = []
    for i, (ods, period, att, bre, adm) in enumerate(AE_2019_Q1):
        if ods not in providers:
            continue
        for j, (metric, value) in enumerate(((ATT, att), (BRE, bre), (ADM, adm))):
            out.append(row(ods, period, metric, value, source_row=2 + 3 * i + j, **kwargs))
    return out


def write_rows(settings: Any, rows: list[dict[str, Any]]) -> None:
    """Append rows to the submissions Delta table (schema SUBMISSION_VALUES)."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from collectonce.contracts import SUBMISSION_VALUES

    columns: dict[str, list[Any]] = {f.name: [] for f in SUBMISSION_VALUES}
    for r in rows:
        year, month = (int(x) for x in r["period"].split("-"))
        columns["submission_id"].append(r["submission"])
        columns["file_sha256"].append(hashlib.sha256(r["submission"].encode()).hexdigest())
        columns["source_row"].append(r["source_row"])
        columns["source_template"].append("canonical_long")
        columns["provider_code"].append(r["provider"])
        columns["period"].append(dt.date(year, month, 1))
        columns["metric_id"].append(r["metric"])
        columns["value"].append(None if r["value"] is None else float(r["value"]))
        columns["value_status"].append(r["status"])
        columns["comment"].append(r.get("comment"))
        columns["warnings"].append(None)
        columns["submitted_by"].append("data_team")
        columns["received_at"].append(r["received"])
    table = pa.Table.from_pydict(columns, schema=SUBMISSION_VALUES)
    path = settings.tables_dir / "submissions"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(path, table, mode="append")
    write_receipts(settings, rows)


def write_receipts(settings: Any, rows: list[dict[str, Any]]) -> None:
    """The receipt of each submission of `rows`, written after its values as `submit` does
    (values count only together with their receipt)."""
    from collectonce.store.receipts import Receipt, write_receipt

    for sid in dict.fromkeys(r["submission"] for r in rows):
        mine = [r for r in rows if r["submission"] == sid]
        write_receipt(
            settings,
            Receipt(
                submission_id=sid,
                status="accepted",
                rows_read=len(mine),
                rows_accepted=len(mine),
                rows_rejected=0,
                findings=[],
                file_sha256=hashlib.sha256(sid.encode()).hexdigest(),
                original_name=f"{sid}.csv",
                submitted_by="data_team",
                received_at=mine[0]["received"],
                template="canonical_long",
                values_stored=len(mine),
            ),
        )
