"""Intake behaviour as users meet it at the door: resending, repeated columns, stated limits,
symbolic links and comments, through `collectonce …` (a real process) and the API."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from user_files import pandas_xlsx, run_cli

pytestmark = pytest.mark.integration

GOOD = (
    "provider_code,period,metric_id,value,comment\n"
    "RF4,2019-01,ae_attendances_type1,16428,Winter pressures\n"
    "RF4,2019-01,ae_breaches_4hr_type1,7363,\n"
    "RF4,2019-01,ae_emergency_admissions,4607,\n"
)


def cli(home: Path, catalog: Path, *args: str) -> tuple[int, Any, str]:
    """Run `collectonce ARGS --catalog CATALOG [--json]`: exit code, JSON (or None), stderr."""
    return run_cli(home, *args, "--catalog", str(catalog))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def receipts(home: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((home / "receipts").glob("*.json"))]


def stored_rows(home: Path) -> int:
    from deltalake import DeltaTable

    return DeltaTable(str(home / "tables" / "submissions")).to_pyarrow_table().num_rows


# ------------------------------------------------------------------------------------ resending


def test_a_rejected_file_sent_again_still_exits_1(tmp_path, catalog_min_dir) -> None:
    """It exits 1 for the duplicate of a rejected file, as for the original."""
    home = tmp_path / "home"
    path = write(
        tmp_path / "zz__unknown_provider.csv",
        "provider_code,period,metric_id,value\nZZ999,2019-01,ae_attendances_type1,100\n",
    )
    code, first, _ = cli(home, catalog_min_dir, "submit", str(path), "--json")
    assert (code, first["status"]) == (1, "rejected")
    code, again, _ = cli(home, catalog_min_dir, "submit", str(path), "--json")
    assert again["status"] == "duplicate" and again["original_status"] == "rejected"
    assert code == 1


def test_the_api_answers_a_rejected_file_sent_again_as_rejected(
    tmp_path, settings, catalog_min
) -> None:
    """It answers 422 to the same rejected upload both times."""
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app

    _, token = create_token(settings, role="provider", subject="RF4", catalog=catalog_min)
    body = b"provider_code,period,metric_id,value\nRF4,2019-01,no_such_metric,100\n"
    with TestClient(build_app(catalog_min, settings)) as client:
        answers = [
            client.post(
                "/v1/submissions",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": ("rf4.csv", body)},
            )
            for _ in range(2)
        ]
    assert [a.status_code for a in answers] == [422, 422]
    assert [a.json()["status"] for a in answers] == ["rejected", "duplicate"]


@pytest.mark.parametrize("first_as", [None, "RF4"])
def test_identical_bytes_with_and_without_as_are_one_submission(
    first_as, tmp_path, catalog_min_dir
) -> None:
    """It answers the second sending as a duplicate of the first, whichever had --as."""
    home = tmp_path / "home"
    path = write(tmp_path / "rf4.csv", GOOD)
    first_args = ["--as", first_as] if first_as else []
    second_args = [] if first_as else ["--as", "RF4"]
    code, first, _ = cli(home, catalog_min_dir, "submit", str(path), "--json", *first_args)
    assert code == 0 and first["values_stored"] == 3
    code, second, _ = cli(home, catalog_min_dir, "submit", str(path), "--json", *second_args)
    assert code == 0
    assert second["status"] == "duplicate"
    assert second["submission_id"] == first["submission_id"]
    assert len(receipts(home)) == 1
    assert stored_rows(home) == 3


def test_a_file_rejected_by_an_earlier_reader_is_read_again(tmp_path, catalog_min_dir) -> None:
    """It reads again a workbook that an earlier version rejected (as the reader before this
    one rejected every workbook) and keeps the earlier attempt."""
    from collectonce.findings import Finding
    from collectonce.ingest.service import submission_id_for
    from collectonce.settings import get_settings
    from collectonce.store.archive import hash_file
    from collectonce.store.quarantine import quarantine_path, write_findings
    from collectonce.store.receipts import Receipt, write_receipt

    home = tmp_path / "home"
    settings = get_settings(home=home)
    workbook = pandas_xlsx(tmp_path).path
    sha, size = hash_file(workbook)
    sid = submission_id_for(sha, "RF4")
    refusal = Finding(
        file=workbook.name,
        row=None,
        column=None,
        metric=None,
        rule="file_unreadable",
        severity="error",
        message="The workbook cannot be read (InvalidFileException: openpyxl does not support "
        " file format).",
    )
    write_receipt(
        settings,
        Receipt(
            submission_id=sid,
            status="rejected",
            rows_read=0,
            rows_accepted=0,
            rows_rejected=0,
            findings=[refusal],
            file_sha256=sha,
            original_name=workbook.name,
            submitted_by="RF4",
            received_at=dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
            template="canonical_long",
            as_provider="RF4",
            size_bytes=size,
            catalog_version="2026.11.0",
        ),
    )
    write_findings(settings, sid, [refusal])

    code, again, output = cli(
        home, catalog_min_dir, "submit", str(workbook), "--as", "RF4", "--json"
    )
    assert code == 0, output
    assert again["submission_id"] == sid
    assert again["rows_accepted"] > 0 and again["values_stored"] > 0
    assert again["attempt"] == 2 and "earlier version of the reader" in again["resent_because"]
    assert [e["status"] for e in again["earlier"]] == ["rejected"]
    assert again["engine_version"] and again["catalog_fingerprint"]
    assert (quarantine_path(settings, sid) / "attempt-1" / "findings.csv").is_file()
    code, third, _ = cli(home, catalog_min_dir, "submit", str(workbook), "--as", "RF4", "--json")
    assert (code, third["status"]) == (0, "duplicate")


def test_a_file_rejected_under_another_catalogue_is_processed_again(
    tmp_path, catalog_min_dir
) -> None:
    """It processes again a file rejected before its provider joined the catalogue."""
    catalog = tmp_path / "catalog"
    shutil.copytree(catalog_min_dir, catalog)
    home = tmp_path / "home"
    path = write(
        tmp_path / "rqx.csv",
        "provider_code,period,metric_id,value\nRQX,2019-01,ae_attendances_type1,5000\n",
    )
    code, first, _ = cli(home, catalog, "submit", str(path), "--json")
    assert (code, first["status"]) == (1, "rejected")
    with (catalog / "providers.csv").open("a", newline="") as handle:
        csv.writer(handle).writerow(
            ["RQX", "Homerton Healthcare NHS Foundation Trust", "acute_medium", "London"]
        )
    code, again, output = cli(home, catalog, "submit", str(path), "--json")
    assert code == 0, output
    assert again["status"] == "accepted" and again["attempt"] == 2
    assert "another catalogue" in again["resent_because"]
    assert again["submission_id"] == first["submission_id"]


def test_a_file_that_failed_on_our_side_is_read_again(
    tmp_path, catalog_min, catalog_min_dir, settings, home, monkeypatch
) -> None:
    """It rejects a file whose reading fails on our side with rule read_failed, and reads it
    again when it is sent again."""
    import collectonce.ingest.readers as readers
    from collectonce.ingest.service import submit_file

    path = write(tmp_path / "rf4.csv", GOOD)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the reader broke")

    with monkeypatch.context() as patch:
        patch.setattr(readers, "open_source", broken)
        first = submit_file(path, catalog_min, settings, as_provider="RF4")
    assert first.status == "rejected"
    assert [f.rule for f in first.findings] == ["read_failed"]
    assert "fault on our side" in first.findings[0].message
    code, again, output = cli(home, catalog_min_dir, "submit", str(path), "--as", "RF4", "--json")
    assert code == 0, output
    assert again["status"] == "accepted" and again["attempt"] == 2
    assert again["resent_because"] == "it was rejected because of a fault on our side"


# ----------------------------------------------------------------------------- repeated columns


def test_repeated_columns_that_disagree_reject_their_rows(tmp_path, catalog_min_dir) -> None:
    """It keeps one of two agreeing columns with a warning, and rejects the rows where they
    disagree, naming both columns."""
    home = tmp_path / "home"
    path = write(
        tmp_path / "rf4__value_twice.csv",
        "provider_code,period,metric_id,value,Value\n"
        "RF4,2019-01,ae_attendances_type1,16428,16428\n"
        "RF4,2019-01,ae_breaches_4hr_type1,7363,7336\n",
    )
    code, receipt, _ = cli(home, catalog_min_dir, "submit", str(path), "--json")
    assert code == 0
    assert (receipt["rows_read"], receipt["rows_accepted"], receipt["rows_rejected"]) == (2, 1, 1)
    rules = {(f["row"], f["rule"], f["severity"]) for f in receipt["findings"]}
    assert (3, "duplicate_column_conflict", "error") in rules
    assert (None, "duplicate_column", "warning") in rules
    assert stored_rows(home) == 1
    quarantined = (home / "quarantine" / receipt["submission_id"] / "rejected_rows.csv").read_text()
    assert "RF4,2019-01,ae_breaches_4hr_type1,7363,7336" in quarantined


# ---------------------------------------------------------------------------------------- limits


def test_a_header_row_over_the_limit_is_refused_naming_the_limit(tmp_path, catalog_min_dir) -> None:
    home = tmp_path / "home"
    columns = ",".join(f"extra_column_{i}" for i in range(20_000))
    path = write(
        tmp_path / "rf4__huge_header.csv",
        f"provider_code,period,metric_id,value,{columns}\nRF4,2019-01,ae_attendances_type1,1\n",
    )
    code, receipt, _ = cli(home, catalog_min_dir, "submit", str(path), "--json")
    assert code == 1
    (error,) = receipt["findings"]
    assert error["rule"] == "header_too_large"
    assert "262,144 characters, the limit for a header row" in error["message"]


def test_findings_per_rule_are_capped_with_a_count_of_the_rest(tmp_path, catalog_min_dir) -> None:
    """It lists 1,000 unknown columns of 5,000 and counts the other 4,000."""
    home = tmp_path / "home"
    columns = ",".join(f"c{i}" for i in range(5_000))
    path = write(
        tmp_path / "rf4__many_unknown_columns.csv",
        f"provider_code,period,metric_id,value,{columns}\nRF4,2019-01,ae_attendances_type1,1\n",
    )
    code, receipt, output = cli(home, catalog_min_dir, "submit", str(path), "--json")
    assert code == 0
    unknown = [f for f in receipt["findings"] if f["rule"] == "unknown_column"]
    assert len(unknown) == 1_001
    (summary,) = [f for f in unknown if "more columns" in f["message"]]
    assert summary["message"].startswith("4,000 more columns have this problem")
    assert len(output) < 1_000_000


def test_a_cut_cell_warning_states_the_real_length(tmp_path, catalog_min_dir) -> None:
    """It gives the length sent, also when a malformed row earlier in the file sends the rest
    through the exact reader."""
    home = tmp_path / "home"
    path = write(
        tmp_path / "rf4__long_comment.csv",
        "provider_code,period,metric_id,value,comment\n"
        "RF4,2019-01,ae_attendances_type1,16428,one,two\n"
        f'RF4,2019-01,ae_breaches_4hr_type1,7363,"{"x" * 250_000}"\n',
    )
    code, receipt, _ = cli(home, catalog_min_dir, "submit", str(path), "--json")
    assert code == 0
    (cut,) = [f for f in receipt["findings"] if f["rule"] == "field_truncated"]
    assert cut["message"].startswith("This cell is 250,000 characters long")


def test_submit_refuses_a_symbolic_link(tmp_path, catalog_min_dir) -> None:
    home = tmp_path / "home"
    target = write(tmp_path / "rf4.csv", GOOD)
    link = tmp_path / "rf4_link.csv"
    link.symlink_to(target)
    code, answer, _ = cli(home, catalog_min_dir, "submit", str(link), "--json")
    assert code == 2
    assert "symbolic link" in answer["error"] and "landing folder refuses" in answer["error"]
    assert not (home / "receipts").exists()


def test_the_landing_folder_reports_symbolic_links(tmp_path, catalog_min_dir) -> None:
    """It picks up the real file and reports a link and a dangling link, saying what to do."""
    home = tmp_path / "home"
    landing = home / "landing"
    write(landing / "RF4_2019-01.csv", GOOD)
    target = write(tmp_path / "elsewhere.csv", GOOD.replace("16428", "16429"))
    (landing / "linked.csv").symlink_to(target)
    (landing / "gone.csv").symlink_to(tmp_path / "deleted.csv")
    code, result, output = cli(home, catalog_min_dir, "ingest-landing", "--json")
    assert code == 0, output
    assert [r["original_name"] for r in result["receipts"]] == ["RF4_2019-01.csv"]
    refused = {r["name"]: r["reason"] for r in result["refused"]}
    assert set(refused) == {"gone.csv", "linked.csv"}
    assert "does not exist" in refused["gone.csv"]
    assert "links are not picked up" in refused["linked.csv"]
    code, again, _ = cli(home, catalog_min_dir, "ingest-landing", "--json")
    assert again["files"] == 0 and {r["name"] for r in again["refused"]} == set(refused)


# -------------------------------------------------------------------------------------- comments


def test_comments_reach_the_published_table_and_the_pack(tmp_path, catalog_min_dir) -> None:
    """It publishes each accepted row's comment and shows it in the pack's comment column."""
    home = tmp_path / "home"
    path = write(tmp_path / "rf4.csv", GOOD)
    assert cli(home, catalog_min_dir, "submit", str(path), "--as", "RF4")[0] == 0
    assert cli(home, catalog_min_dir, "publish")[0] == 0
    code, rows, output = cli(
        home,
        catalog_min_dir,
        "query",
        "SELECT metric_id, comment FROM unified WHERE comment IS NOT NULL",
        "--json",
    )
    assert code == 0, output
    assert json.dumps(rows).count("Winter pressures") == 1
    assert "ae_attendances_type1" in json.dumps(rows)
    code, _, output = cli(home, catalog_min_dir, "pack", "--provider", "RF4")
    assert code == 0, output
    with (home / "packs" / "RF4" / "RF4_pack.csv").open(encoding="utf-8") as handle:
        pack = list(csv.DictReader(handle))
    commented = {r["metric"]: r["comment"] for r in pack if r["comment"]}
    assert commented == {"ae_attendances_type1": "Winter pressures"}
