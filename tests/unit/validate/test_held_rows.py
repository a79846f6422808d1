"""A validation run gives its rows back exactly as they were added: rebuilt from its codes, with
every blank cell, comment and source column, batch by batch and in order."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from collectonce.contracts import CANONICAL_ROWS

TODAY = dt.date(2019, 7, 10)


def _rows(start: int, comments: bool) -> pa.Table:
    rows = []
    for i in range(6):
        month = (start + i) % 12 + 1
        rows.append(
            {
                "provider_code": "RF4" if i % 2 else "RJ1",
                "period": dt.date(2019, month, 1),
                "metric_id": "ae_attendances_type1" if i % 3 else "ae_breaches_4hr_type1",
                "value": None if i == 4 else float(100 + i),
                "value_status": "missing" if i == 4 else "reported",
                "comment": f"note {start + i}" if comments and i % 2 else None,
                "source_row": start + i + 2,
                "source_column": None if i == 5 else ("value" if i % 2 else "Total"),
            }
        )
    return pa.Table.from_pylist(rows, schema=CANONICAL_ROWS)


def test_rows_come_back_as_they_were_added(catalog_min) -> None:
    from collectonce.validate.engine import ValidationRun

    sent = [_rows(0, comments=True), _rows(6, comments=False), _rows(12, comments=True)]
    run = ValidationRun(catalog_min, today=TODAY)
    file = run.add_file("rf4__history.csv")
    for table in sent:
        run.add_batch(file, table, rows_read=table.num_rows)
    run.finish()
    back = [b.table for b in run.iter_batches()]
    run.close()
    assert [t.num_rows for t in back] == [t.num_rows for t in sent]
    for given, table in zip(sent, back, strict=True):
        assert pa.types.is_dictionary(table.schema.field("provider_code").type)
        assert table.cast(CANONICAL_ROWS).to_pylist() == given.to_pylist()
