"""A receipt read back (by `collectonce submissions show`, the API, the portal) is a typed
`Receipt`, earlier attempts included, and its JSON is the JSON that was written."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from collectonce.store.receipts import EarlierAttempt, Receipt

RQX = "provider_code,period,metric_id,value\nRQX,2019-01,ae_attendances_type1,5000\n"
EARLIER_KEYS = {
    "attempt",
    "status",
    "received_at",
    "original_name",
    "engine_version",
    "catalog_version",
    "errors",
}


def _cli(catalog: Path, *args: str) -> Result:
    from collectonce.cli import app

    return CliRunner().invoke(app, [*args, "--catalog", str(catalog)])


def _resent(tmp_path: Path, catalog_min_dir: Path) -> tuple[Path, dict[str, Any]]:
    """A file rejected (its provider unknown), then accepted once the provider joins."""
    catalog = tmp_path / "catalog"
    shutil.copytree(catalog_min_dir, catalog)
    path = tmp_path / "rqx.csv"
    path.write_text(RQX, encoding="utf-8")
    first = _cli(catalog, "submit", str(path), "--json")
    assert first.exit_code == 1, first.output
    with (catalog / "providers.csv").open("a", newline="") as handle:
        csv.writer(handle).writerow(
            ["RQX", "Homerton Healthcare NHS Foundation Trust", "acute_medium", "London"]
        )
    again = _cli(catalog, "submit", str(path), "--json")
    assert again.exit_code == 0, again.output
    return catalog, json.loads(again.stdout)


def test_an_earlier_attempt_is_kept_typed_and_shown(
    home: Path, tmp_path: Path, catalog_min_dir: Path
) -> None:
    catalog, receipt = _resent(tmp_path, catalog_min_dir)
    [earlier] = receipt["earlier"]
    assert set(earlier) == EARLIER_KEYS
    assert earlier["attempt"] == 1 and earlier["status"] == "rejected"
    assert earlier["original_name"] == "rqx.csv"
    assert earlier["errors"] and all(": " in e for e in earlier["errors"])

    on_disk = json.loads((home / "receipts" / f"{receipt['submission_id']}.json").read_text())
    typed = Receipt.from_dict(on_disk)
    assert typed.earlier == [EarlierAttempt.from_dict(earlier)]
    assert typed.to_dict() == on_disk  # read back and written again, nothing changes

    shown = _cli(catalog, "submissions", "show", receipt["submission_id"], "--json")
    shown_json = json.loads(shown.stdout)
    quarantine = shown_json.pop("quarantine_files")
    assert shown_json == on_disk
    assert [Path(q).name for q in quarantine] == ["attempt-1"]  # the rejected attempt's rows
    text = _cli(catalog, "submissions", "show", receipt["submission_id"])
    assert text.exit_code == 0, text.output
    assert "attempt 2: processed again because" in text.stdout
    assert "rqx.csv" in text.stdout


def test_a_receipt_without_earlier_attempts_reads_back_unchanged() -> None:
    """An older receipt (no `earlier`, no `rows_skipped`) reads back with their defaults."""
    written = {
        "submission_id": "sub_1",
        "status": "rejected",
        "rows_read": 2,
        "rows_accepted": 0,
        "rows_rejected": 2,
        "findings": [
            {
                "file": "a.csv",
                "row": 2,
                "column": "value",
                "metric": "ae_attendances_type1",
                "rule": "value_is_number",
                "severity": "error",
                "message": "'lots' is not a number: write the count as digits",
                "value": "lots",
            }
        ],
        "file_sha256": "0" * 64,
        "original_name": "a.csv",
        "submitted_by": "RF4",
        "received_at": "2026-01-02T03:04:05+00:00",
        "template": "canonical_long",
    }
    receipt = Receipt.from_dict(written)
    assert receipt.earlier == [] and receipt.rows_skipped == 0
    assert receipt.findings[0].row == 2 and receipt.findings[0].severity == "error"
    again = receipt.to_dict()
    assert {k: again[k] for k in written} == written
    assert again["earlier"] == [] and again["errors"] == 1
