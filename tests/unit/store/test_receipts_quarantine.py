"""Receipts and quarantine files survive a round trip and stay readable."""

from __future__ import annotations

import csv
import datetime as dt

import pyarrow as pa


def make_receipt(**changes):
    from collectonce.findings import Finding
    from collectonce.store.receipts import Receipt

    base = {
        "submission_id": "sub_0123456789abcdef",
        "status": "partially_accepted",
        "rows_read": 3,
        "rows_accepted": 2,
        "rows_rejected": 1,
        "findings": [
            Finding(
                "f.csv", 3, "value", "ae_attendances_type1", "value_range", "error", "fix it", "-5"
            )
        ],
        "file_sha256": "ab" * 32,
        "original_name": "f.csv",
        "submitted_by": "RF4",
        "received_at": dt.datetime(2019, 7, 10, tzinfo=dt.UTC),
        "template": "canonical_long",
        "providers": ["RF4"],
        "periods": ["2019-01"],
    }
    base.update(changes)
    return Receipt(**base)


def test_a_receipt_round_trips_through_json(settings) -> None:
    """It writes the receipt atomically and reads back the same receipt."""
    from collectonce.store.receipts import all_receipts, read_receipt, write_receipt

    receipt = make_receipt()
    path = write_receipt(settings, receipt)
    assert path.name == "sub_0123456789abcdef.json"
    assert read_receipt(settings, receipt.submission_id) == receipt
    assert all_receipts(settings) == [receipt]
    assert not list(settings.receipts_dir.glob(".*"))  # no temporary files left
    assert read_receipt(settings, "../../etc/passwd") is None


def test_a_duplicate_answer_keeps_the_original_status(settings) -> None:
    """It answers identical bytes with the original receipt, marked duplicate."""
    receipt = make_receipt()
    later = dt.datetime(2019, 8, 1, tzinfo=dt.UTC)
    dup = receipt.as_duplicate(later)
    assert dup.status == "duplicate"
    assert dup.original_status == "partially_accepted"
    assert dup.to_dict()["duplicate_received_at"] == later.isoformat()
    assert dup.rows_read == dup.rows_accepted + dup.rows_rejected


def test_quarantine_keeps_rows_and_findings_safe_to_open(settings) -> None:
    """It writes rejected rows and findings as CSV; formula text cannot run in a spreadsheet."""
    from collectonce.findings import Finding
    from collectonce.store.quarantine import RejectedRows, quarantine_contents, write_findings

    writer = RejectedRows(settings, "sub_x")
    writer.write(pa.table({"source_row": [3], "rejected_by": ["value_range"]}))
    path = writer.close()
    assert path is not None and path.read_text().splitlines()[1] == '3,"value_range"'
    write_findings(
        settings,
        "sub_x",
        [
            Finding(
                "f.csv", 3, "value", None, "type_number", "error", "not a number", "=HYPERLINK(1)"
            )
        ],
    )
    rows = list(csv.DictReader((settings.quarantine_dir / "sub_x" / "findings.csv").open()))
    assert rows[0]["value"] == "'=HYPERLINK(1)"
    assert [p.name for p in quarantine_contents(settings, "sub_x")] == [
        "findings.csv",
        "rejected_rows.csv",
    ]


def test_rejected_rows_with_formula_text_cannot_run_when_opened(settings) -> None:
    """It writes a rejected row's formula-like comment with a leading apostrophe, keeps numbers
    (negative ones too) as numbers, and reads the same columns from every batch."""
    from collectonce.store.quarantine import RejectedRows

    writer = RejectedRows(settings, "sub_y")
    writer.write(
        pa.table(
            {
                "value": [-5.0],
                "comment": pa.array(['=HYPERLINK("http://x")']).dictionary_encode(),
                "rejected_by": ["value_range"],
            }
        )
    )
    writer.write(
        pa.table({"value": [7.0], "comment": ["+cmd|' /C calc'!A0"], "rejected_by": ["x"]})
    )
    path = writer.close()
    assert path is not None
    rows = list(csv.DictReader(path.open()))
    assert [r["comment"] for r in rows] == ['\'=HYPERLINK("http://x")', "'+cmd|' /C calc'!A0"]
    assert [r["value"] for r in rows] == ["-5", "7"]


def test_rows_rejected_while_reading_and_by_validation_share_one_file(settings) -> None:
    """It writes a row that could not be read (as it was sent) and a rejected canonical value
    into one rejected_rows.csv with the same columns, blank where a row has nothing to say."""
    from collectonce.store.quarantine import REJECTED_ROWS, RejectedRows

    writer = RejectedRows(settings, "sub_z", schema=REJECTED_ROWS)
    writer.write(
        pa.table(
            {
                "source_row": [4],
                "sent": ["RF4,2019-01,ae_emergency_admissions,=1+1"],
                "rejected_by": ["type_number"],
            }
        )
    )
    writer.write(
        pa.table(
            {
                "provider_code": ["RF4"],
                "period": pa.array([dt.date(2019, 2, 1)], pa.date32()),
                "metric_id": pa.array(["ae_attendances_type1"]).dictionary_encode(),
                "value": [-40.0],
                "value_status": ["reported"],
                "source_row": [6],
                "rejected_by": ["value_range"],
            }
        )
    )
    path = writer.close()
    assert path is not None
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == REJECTED_ROWS.names
    assert [(r["source_row"], r["rejected_by"]) for r in rows] == [
        ("4", "type_number"),
        ("6", "value_range"),
    ]
    assert rows[0]["sent"] == "RF4,2019-01,ae_emergency_admissions,=1+1"
    assert rows[0]["metric_id"] == "" and rows[1]["sent"] == ""
    assert (rows[1]["period"], rows[1]["metric_id"], rows[1]["value"]) == (
        "2019-02-01",
        "ae_attendances_type1",
        "-40",
    )
