"""`collectonce submit`, `submissions list|show` and `ingest-landing` from the command line."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

FIXTURES = Path(__file__).resolve().parents[1] / "validate" / "fixtures"
runner = CliRunner()


def cli(*args: str):
    from collectonce.cli import app

    return runner.invoke(app, list(args))


def fixture(name: str, tmp_path: Path) -> str:
    target = tmp_path / name
    shutil.copyfile(FIXTURES / name, target)
    return str(target)


def test_submit_prints_one_json_receipt_and_exits_0(home, catalog_min_dir, tmp_path) -> None:
    """It exits 0 when rows were accepted and prints exactly one JSON object with --json."""
    path = fixture("rf4__broken_rows_mixed.csv", tmp_path)
    result = cli("submit", path, "--json", "--catalog", str(catalog_min_dir))
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.stdout)
    assert receipt["status"] == "partially_accepted"
    assert receipt["rows_read"] == receipt["rows_accepted"] + receipt["rows_rejected"]
    assert {"row", "column", "metric", "rule", "severity", "message"} <= set(receipt["findings"][0])


def test_submit_exits_1_when_the_file_is_rejected(home, catalog_min_dir, tmp_path) -> None:
    """It exits 1 when nothing in the file could be accepted."""
    path = tmp_path / "rf4__header_only.csv"
    path.write_text("provider_code,period,metric_id,value\n")
    result = cli("submit", str(path), "--catalog", str(catalog_min_dir))
    assert result.exit_code == 1
    assert "rejected" in result.stdout


def test_submit_as_a_provider_refuses_other_providers_rows(home, catalog_min_dir, tmp_path):
    """It rejects RRK's rows when RF4 submits, and prints the findings table."""
    path = fixture("rf4__includes_rrk_rows.csv", tmp_path)
    result = cli("submit", path, "--as", "RF4", "--catalog", str(catalog_min_dir))
    assert result.exit_code == 0
    assert "partially_accepted" in result.stdout
    assert "provider_scope" in result.stdout


def test_usage_errors_exit_2_with_one_line(home, catalog_min_dir, tmp_path) -> None:
    """It exits 2 with a one-line error for a missing file or an unknown provider."""
    missing = cli("submit", str(tmp_path / "nope.csv"), "--catalog", str(catalog_min_dir))
    assert missing.exit_code == 2
    assert "no such file" in missing.stderr and "Traceback" not in missing.output
    path = fixture("rf4__suppressed_and_blank.csv", tmp_path)
    unknown = cli("submit", path, "--as", "ZZZ", "--catalog", str(catalog_min_dir))
    assert unknown.exit_code == 2
    assert "unknown provider" in unknown.stderr


def test_dry_run_then_duplicate_then_list_and_show(home, catalog_min_dir, tmp_path) -> None:
    """It stores nothing on --dry-run, answers a resubmission as duplicate (exit 0), and lets a
    person find the submission, its findings and its quarantine."""
    path = fixture("rf4__broken_rows_mixed.csv", tmp_path)
    cat = ["--catalog", str(catalog_min_dir)]
    dry = json.loads(cli("submit", path, "--dry-run", "--json", *cat).stdout)
    assert dry["dry_run"] is True
    assert json.loads(cli("submissions", "list", "--json", *cat).stdout)["count"] == 0
    first = json.loads(cli("submit", path, "--json", *cat).stdout)
    again = cli("submit", path, "--json", *cat)
    assert again.exit_code == 0 and json.loads(again.stdout)["status"] == "duplicate"
    listed = json.loads(
        cli("submissions", "list", "--status", "partially_accepted", "--json", *cat).stdout
    )
    assert [s["submission_id"] for s in listed["submissions"]] == [first["submission_id"]]
    shown = json.loads(cli("submissions", "show", first["submission_id"], "--json", *cat).stdout)
    assert any(p.endswith("rejected_rows.csv") for p in shown["quarantine_files"])
    assert shown["report"].endswith(".html")
    text = cli("submissions", "show", first["submission_id"], *cat)
    assert text.exit_code == 0 and "known_metric" in text.stdout
    missing = cli("submissions", "show", "sub_nope", *cat)
    assert missing.exit_code == 1 and "no submission" in missing.stderr
    bad = cli("submissions", "list", "--status", "great", *cat)
    assert bad.exit_code == 2


def test_ingest_landing_reports_every_file(home, catalog_min_dir, settings, tmp_path) -> None:
    """It submits the landing folder and summarises the statuses as JSON."""
    settings.landing_dir.mkdir(parents=True)
    fixture("rf4__nhse_ae_monthly_january.csv", settings.landing_dir)
    fixture("rf4__broken_rows_mixed.csv", settings.landing_dir)
    result = cli("ingest-landing", "--json", "--catalog", str(catalog_min_dir))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["files"] == 2
    assert summary["statuses"] == {"accepted": 1, "partially_accepted": 1}
    empty = cli("ingest-landing", "--catalog", str(catalog_min_dir))
    assert empty.exit_code == 0 and "No new files" in empty.stdout


def test_a_trust_submits_the_published_ae_file_and_sees_every_rejected_row(
    home, shipped_catalog_dir, tmp_path
) -> None:
    """It takes NHS England's published A&E file from RF4 with `submit FILE --as RF4 --json`, and
    `submissions show` points to a quarantine holding every rejected row, those that could not
    be read included."""
    shared = Path(__file__).resolve().parents[2] / "fixtures" / "submissions"
    path = tmp_path / "rf4__nhse_published_monthly_ae_broken_cells.csv"
    shutil.copyfile(shared / path.name, path)
    cat = ["--catalog", str(shipped_catalog_dir)]
    result = cli("submit", str(path), "--as", "RF4", "--json", *cat)
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.stdout)
    assert receipt["template"] == "nhse_ae_published_monthly"
    assert (receipt["rows_read"], receipt["rows_accepted"], receipt["rows_rejected"]) == (5, 2, 3)
    shown = json.loads(cli("submissions", "show", receipt["submission_id"], "--json", *cat).stdout)
    [rows_file] = [p for p in shown["quarantine_files"] if p.endswith("rejected_rows.csv")]
    with Path(rows_file).open() as handle:
        rejected = {int(r["source_row"]) for r in csv.DictReader(handle)}
    assert rejected == {f["row"] for f in receipt["findings"] if f["severity"] == "error"}


def test_the_total_row_of_the_published_ae_file_is_counted_as_skipped(
    home, shipped_catalog_dir, tmp_path
) -> None:
    """`submit` of NHS England's published A&E file (one trust's row and the TOTAL row) shows
    rows read = accepted + rejected + skipped on the receipt, with a warning naming the total
    row; the total row is not counted as accepted."""
    shared = Path(__file__).resolve().parents[2] / "fixtures" / "submissions"
    path = tmp_path / "rf4__nhse_published_monthly_ae.csv"
    shutil.copyfile(shared / path.name, path)
    cat = ["--catalog", str(shipped_catalog_dir)]
    result = cli("submit", str(path), "--as", "RF4", "--json", *cat)
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.stdout)
    counts = ("rows_read", "rows_accepted", "rows_rejected", "rows_skipped")
    assert tuple(receipt[k] for k in counts) == (2, 1, 0, 1)
    [warning] = [f for f in receipt["findings"] if f["rule"] == "item_not_stored"]
    assert (warning["row"], warning["severity"], warning["value"]) == (3, "warning", "TOTAL")
    assert "total row" in warning["message"] and "skipped" in warning["message"]
    shown = cli("submissions", "show", receipt["submission_id"], *cat)
    assert "rows read 2 = accepted 1 + rejected 0 + skipped 1" in shown.stdout, shown.stdout
