"""Reading Parquet and JSON submissions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from collectonce.ingest.readers import read_submission

SUBMISSIONS = Path(__file__).resolve().parents[2] / "fixtures" / "submissions"
JAN, MAR = dt.date(2019, 1, 1), dt.date(2019, 3, 1)


def test_it_reads_parquet_with_date_and_number_columns(
    catalog_min, settings, tmp_path: Path
) -> None:
    """It reads typed Parquet columns (dates, floats, nulls) and numbers rows from 1."""
    path = tmp_path / "rf4__canonical_long.parquet"
    pq.write_table(
        pa.table(
            {
                "provider_code": ["RF4", "RF4"],
                "period": pa.array([JAN, JAN], pa.date32()),
                "metric_id": ["ae_attendances_type1", "ae_breaches_4hr_type1"],
                "value": pa.array([16428.0, None]),
            }
        ),
        path,
    )
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is None
    assert parsed.format == "parquet"
    assert parsed.rows.period.tolist() == [JAN, JAN]
    assert parsed.rows.value.iloc[0] == 16428
    assert parsed.rows.value_status.tolist() == ["reported", "missing"]
    assert parsed.rows.source_row.tolist() == [1, 2]


def test_a_wide_parquet_file_is_recognised(catalog_min, settings, tmp_path: Path) -> None:
    """It recognises a legacy wide template in Parquet just as in CSV."""
    path = tmp_path / "rf4__nhse_ae_monthly.parquet"
    pq.write_table(
        pa.table({"Org Code": ["RF4"], "Period": ["2019-03"], "A1": [15994], "A2": [4618]}),
        path,
    )
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.template == "nhse_ae_monthly"
    assert sorted(parsed.rows.value.tolist()) == [4618, 15994]


def test_a_damaged_parquet_file_is_unreadable(catalog_min, settings, tmp_path: Path) -> None:
    """It reports a truncated Parquet file as unreadable instead of failing."""
    path = tmp_path / "rf4__truncated.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 40)
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "file_unreadable"


def test_it_reads_a_json_list_and_rejects_records_that_are_not_objects(
    catalog_min, settings
) -> None:
    """It reads a list of records (a null value is missing) and rejects a record written as a
    bare list, numbering records from 1."""
    parsed = read_submission(SUBMISSIONS / "rf4__canonical_long.json", catalog_min, settings)
    assert parsed.format == "json"
    assert parsed.rows_read == 4
    assert parsed.rows.value_status.tolist() == ["reported", "reported", "missing"]
    assert [(f.row, f.rule) for f in parsed.findings] == [(4, "row_shape")]
    assert parsed.error_rows == [4]


def test_it_reads_values_and_rows_wrappers(catalog_min, settings) -> None:
    """It reads {"values": [...]} (keeping formula-like comments as text) and {"rows": [...]}
    in a legacy wide template."""
    values = read_submission(SUBMISSIONS / "rf4__values_wrapper.json", catalog_min, settings)
    assert values.rows.value_status.tolist() == ["reported", "suppressed"]
    assert values.rows.comment.iloc[0] == "@SUM(A1:A2)"
    rows = read_submission(SUBMISSIONS / "rf4__rows_wrapper_wide.json", catalog_min, settings)
    assert rows.template == "nhse_ae_monthly"
    assert set(rows.rows.period) == {MAR}
    assert len(rows.rows) == 3


def test_broken_json_is_unreadable_with_the_position(catalog_min, settings, tmp_path: Path) -> None:
    """It rejects malformed JSON, saying where it broke."""
    path = tmp_path / "rf4__broken.json"
    path.write_text('[{"provider_code": "RF4", "period": "2019-01",}]')
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.file_error is not None
    assert parsed.file_error.rule == "file_unreadable"
    assert "line 1" in parsed.file_error.message
