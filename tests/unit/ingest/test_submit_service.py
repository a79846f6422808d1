"""Submitting files: archive first, every row accounted for, every version kept, nothing twice."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from ingest_helpers import RF4_JANUARY_2019

FIXTURES = Path(__file__).resolve().parents[1] / "validate" / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "fixtures" / "submissions"
NOW = dt.datetime(2019, 7, 10, 9, 0, tzinfo=dt.UTC)
REAL_AE = Path(__file__).resolve().parents[3] / "data" / "ae_attendances.csv"


def copy(name: str, tmp_path: Path, folder: Path = FIXTURES) -> Path:
    target = tmp_path / name
    shutil.copyfile(folder / name, target)
    return target


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def submit(path: Path, catalog, settings, **kw):
    from collectonce.ingest.service import submit_file

    kw.setdefault("now", NOW)
    return submit_file(path, catalog, settings, **kw)


def table_rows(settings) -> int:
    from collectonce.store.submissions import _dataset

    dataset = _dataset(settings)
    return 0 if dataset is None else dataset.count_rows()


def test_the_archive_holds_a_file_even_when_it_is_rejected(catalog_min, settings, tmp_path):
    """It archives the bytes before reading them, so an unreadable file is kept too."""
    path = copy("rf4__pdf_saved_as_csv.csv", tmp_path, SHARED)
    receipt = submit(path, catalog_min, settings)
    assert receipt.status == "rejected"
    assert receipt.findings[0].row is None and receipt.findings[0].severity == "error"
    archived = Path(receipt.archive)
    assert archived.read_bytes() == path.read_bytes()
    assert archived.parent.parent == settings.archive_dir
    quarantine = Path(receipt.quarantine)
    assert (quarantine / "findings.csv").exists()
    assert (quarantine / "file__rf4__pdf_saved_as_csv.csv").read_bytes() == path.read_bytes()
    assert table_rows(settings) == 0
    assert Path(receipt.report).exists()


def test_identical_bytes_return_the_original_receipt_as_duplicate(catalog_min, settings, tmp_path):
    """It changes nothing for a resubmitted file and says which submission it repeats."""
    path = copy("rf4__breaches_exceed_attendances.csv", tmp_path)
    first = submit(path, catalog_min, settings)
    rows = table_rows(settings)
    again = submit(path, catalog_min, settings, now=NOW + dt.timedelta(days=1))
    assert again.status == "duplicate"
    assert again.submission_id == first.submission_id
    assert again.original_status == first.status == "partially_accepted"
    assert again.rows_read == first.rows_read
    assert table_rows(settings) == rows
    assert len(list(settings.receipts_dir.glob("*.json"))) == 1


def test_a_changed_value_is_a_revision_and_history_is_kept(catalog_min, settings, tmp_path):
    """It keeps both versions; the latest wins; as_of an earlier time gives the old value."""
    from collectonce.store.submissions import current_values, value_history

    head = "provider_code,period,metric_id,value\n"
    first = write(tmp_path, "jan.csv", head + "RF4,2019-01,ae_attendances_type1,16428\n")
    second = write(tmp_path, "jan_v2.csv", head + "RF4,2019-01,ae_attendances_type1,16482\n")
    submit(first, catalog_min, settings, as_provider="RF4")
    later = NOW + dt.timedelta(days=3)
    receipt = submit(second, catalog_min, settings, as_provider="RF4", now=later)
    assert receipt.status == "accepted" and receipt.values_revised == 1
    now = current_values(settings)
    assert now["value"].tolist() == [16482.0] and now["revision"].tolist() == [2]
    old = current_values(settings, as_of=NOW + dt.timedelta(days=1))
    assert old["value"].tolist() == [16428.0]
    history = value_history(settings, "RF4", "ae_attendances_type1")
    assert history["value"].tolist() == [16428.0, 16482.0]


def test_one_fact_through_two_legacy_returns_is_stored_once(catalog_min, settings, tmp_path):
    """It stores the A&E return's attendances and counts the same figure in the commissioner's
    return as already held."""
    from collectonce.store.submissions import value_history

    nhse = submit(copy("rf4__nhse_ae_monthly_january.csv", tmp_path), catalog_min, settings)
    icb = submit(
        copy("rf4__icb_quality_monthly_agrees.csv", tmp_path),
        catalog_min,
        settings,
        now=NOW + dt.timedelta(hours=1),
    )
    assert (nhse.template, icb.template) == ("nhse_ae_monthly", "icb_quality_monthly")
    assert nhse.status == icb.status == "accepted"
    assert icb.values_unchanged == 1 and icb.values_stored == 1  # the sickness rate is new
    assert len(value_history(settings, "RF4", "ae_attendances_type1")) == 1


def test_two_returns_disagreeing_raise_a_conflict_finding(catalog_min, settings, tmp_path):
    """It keeps the later value as a revision and warns, naming the earlier return."""
    from collectonce.store.submissions import current_values

    submit(copy("rf4__nhse_ae_monthly_january.csv", tmp_path), catalog_min, settings)
    icb = submit(
        copy("rf4__icb_quality_monthly_disagrees.csv", tmp_path),
        catalog_min,
        settings,
        now=NOW + dt.timedelta(hours=1),
    )
    assert icb.status == "accepted_with_warnings"
    (finding,) = icb.findings
    assert (finding.rule, finding.severity, finding.row) == ("conflicting_key", "warning", 2)
    assert "nhse_ae_monthly" in finding.message and "16,428" in finding.message
    held = current_values(settings).set_index("metric_id")
    assert held.loc["ae_attendances_type1", "value"] == 16500.0
    assert held.loc["ae_attendances_type1", "revision"] == 2


def test_a_provider_may_submit_only_its_own_rows(catalog_min, settings, tmp_path):
    """It refuses RRK's rows in a file submitted as RF4 and keeps RF4's."""
    from collectonce.store.submissions import current_values

    receipt = submit(
        copy("rf4__includes_rrk_rows.csv", tmp_path), catalog_min, settings, as_provider="RF4"
    )
    assert receipt.status == "partially_accepted"
    assert {(f.row, f.rule) for f in receipt.findings} == {
        (2, "provider_scope"),
        (3, "provider_scope"),
    }
    assert "submitting as RF4" in receipt.findings[0].message
    assert set(current_values(settings)["provider_code"]) == {"RF4"}
    assert receipt.submission_id.endswith("_RF4")


def test_the_data_team_may_load_many_providers(catalog_min, settings, tmp_path):
    """It accepts a bulk file covering several providers when no provider scope is given."""
    receipt = submit(copy("rf4__includes_rrk_rows.csv", tmp_path), catalog_min, settings)
    assert receipt.status == "accepted"
    assert receipt.providers == ["RF4", "RRK"]


def test_warnings_accept_the_row_flagged(catalog_min, settings, tmp_path):
    """It stores a suppressed value as suppressed, with the warning on the stored row."""
    from collectonce.store.submissions import current_values

    receipt = submit(copy("rf4__suppressed_and_blank.csv", tmp_path), catalog_min, settings)
    assert receipt.status == "accepted_with_warnings"
    assert receipt.rows_accepted == 3 and receipt.rows_rejected == 0
    held = current_values(settings).set_index("metric_id")
    assert held.loc["ae_breaches_4hr_type1", "value_status"] == "suppressed"
    assert held.loc["ae_breaches_4hr_type1", "warnings"] == "suppressed_value"
    assert held.loc["ae_emergency_admissions", "value"] == 0.0  # a true zero, not missing


def test_every_row_of_a_broken_file_is_accounted_for(catalog_min, settings, tmp_path):
    """It rejects bad rows one by one and rows_read = rows_accepted + rows_rejected."""
    receipt = submit(copy("rf4__broken_rows_mixed.csv", tmp_path), catalog_min, settings)
    assert receipt.status == "partially_accepted"
    assert receipt.rows_read == 14
    assert receipt.rows_read == receipt.rows_accepted + receipt.rows_rejected
    errors = {f.row: f.rule for f in receipt.findings if f.severity == "error"}
    assert errors == {
        4: "type_number",
        5: "known_metric",
        6: "value_range",
        7: "known_provider",
        8: "future_period",
        9: "conflicting_key",
        10: "conflicting_key",
        14: "metric_active",
        15: "type_integer",
    }
    assert receipt.rows_rejected == len(errors)
    for finding in receipt.findings:
        assert finding.file == "rf4__broken_rows_mixed.csv"
        assert finding.message.endswith(".") and len(finding.message) > 40
    with (Path(receipt.quarantine) / "rejected_rows.csv").open() as handle:
        quarantined = {int(r["source_row"]): r for r in csv.DictReader(handle)}
    assert set(quarantined) == set(errors)  # every rejected row, the unreadable one too
    assert quarantined[4]["rejected_by"] == "type_number"
    assert quarantined[4]["sent"] == "RF4,2019-01,ae_emergency_admissions,abc"
    assert quarantined[6]["rejected_by"] == "value_range"
    assert quarantined[6]["value"] == "-40" and quarantined[6]["sent"] == ""


def test_a_refused_layout_rejects_every_row_it_holds(catalog_min, settings, tmp_path):
    """It counts the rows of a file whose columns it cannot place and rejects them all."""
    receipt = submit(copy("rf4__unrecognised_columns.csv", tmp_path, SHARED), catalog_min, settings)
    assert receipt.status == "rejected"
    assert (receipt.rows_read, receipt.rows_accepted, receipt.rows_rejected) == (3, 0, 3)
    assert [f.rule for f in receipt.findings] == ["file_unrecognised"]


def test_a_trust_sending_the_published_ae_layout_is_answered_row_by_row(
    shipped_catalog, settings, tmp_path
):
    """It takes the A&E layout by department type from a trust, rejects the broken rows (a
    breach count above attendances, another provider's row among them) and accounts for every
    row."""
    from collectonce.store.submissions import current_values

    path = copy("rf4__ae_by_type_broken_rows.csv", tmp_path, SHARED)
    receipt = submit(path, shipped_catalog, settings, as_provider="RF4")
    assert receipt.status == "partially_accepted"
    assert receipt.template == "nhse_ae_by_department_type"
    assert (receipt.rows_read, receipt.rows_accepted, receipt.rows_rejected) == (11, 4, 6)
    assert receipt.rows_skipped == 1  # the department-type total row, with a warning
    errors = {(f.row, f.rule) for f in receipt.findings if f.severity == "error"}
    assert errors == {
        (2, "cross_metric_rule"),
        (3, "type_number"),
        (8, "department_type"),
        (10, "conflicting_key"),
        (11, "conflicting_key"),
        (12, "provider_scope"),
    }
    scope = [f for f in receipt.findings if f.rule == "provider_scope"]
    assert len(scope) == 1  # one finding for the row, not one per figure in it
    held = current_values(settings).set_index(["period", "metric_id"])
    assert set(current_values(settings)["provider_code"]) == {"RF4"}
    assert held.loc[(dt.date(2017, 4, 1), "ae_emergency_admissions"), "value"] == 5001.0
    assert held.loc[(dt.date(2017, 4, 1), "ae_emergency_admissions"), "source_row"] == 6
    assert (dt.date(2017, 3, 1), "ae_attendances_type1") not in held.index


def test_the_real_ae_data_split_per_trust_and_month_ingests_cleanly(
    shipped_catalog, settings, tmp_path
):
    """It accepts the published A&E statistics sent as one file per trust and month in their
    own layout, and stores attendances and breaches per type and admissions over all types."""
    import pandas as pd

    from collectonce.store.submissions import current_values

    raw = pd.read_csv(REAL_AE, dtype=str)
    months = sorted(raw["period"].unique())[-2:]
    trusts = ["RF4", "RRK", "R1H"]
    part = raw[raw["period"].isin(months) & raw["org_code"].isin(trusts)]
    for (trust, month), rows in part.groupby(["org_code", "period"]):
        path = tmp_path / f"{trust}_{month[:7]}.csv"
        rows.to_csv(path, index=False)
        receipt = submit(path, shipped_catalog, settings, as_provider=trust)
        assert receipt.status == "accepted", receipt.findings
        assert receipt.rows_read == receipt.rows_accepted == len(rows)
    held = current_values(settings).set_index(["provider_code", "period", "metric_id"])
    numbers = part.astype({"attendances": int, "breaches": int, "admissions": int})
    for (trust, month), rows in numbers.groupby(["org_code", "period"]):
        day = dt.date.fromisoformat(month)
        assert held.loc[(trust, day, "ae_emergency_admissions"), "value"] == rows.admissions.sum()
        for kind, suffix in (("1", "type1"), ("2", "type2"), ("other", "other")):
            of_kind = rows[rows["type"] == kind]
            if len(of_kind):
                attendances = held.loc[(trust, day, f"ae_attendances_{suffix}"), "value"]
                assert attendances == of_kind.attendances.iloc[0]
    assert len(held) == 2 * len(part) + part.groupby(["org_code", "period"]).ngroups


def test_the_whole_real_ae_file_loads_in_one_go_and_again_as_a_duplicate(
    shipped_catalog, settings, tmp_path
):
    """It bulk-loads the whole published A&E file for every trust, and answers the same bytes
    again with the original receipt."""
    import pandas as pd

    raw = pd.read_csv(REAL_AE, dtype=str)
    path = tmp_path / "ae_attendances.csv"
    shutil.copyfile(REAL_AE, path)
    first = submit(path, shipped_catalog, settings)
    assert first.status == "accepted"
    assert first.rows_read == first.rows_accepted == len(raw) and first.rows_rejected == 0
    months_of_trusts = raw.groupby(["org_code", "period"]).ngroups
    assert first.values_stored == 2 * len(raw) + months_of_trusts
    again = submit(path, shipped_catalog, settings, now=NOW + dt.timedelta(hours=1))
    assert again.status == "duplicate" and again.submission_id == first.submission_id


def test_a_dry_run_commits_nothing(catalog_min, settings, tmp_path):
    """It returns the full receipt but writes no archive, table, receipt or report."""
    receipt = submit(
        copy("rf4__broken_rows_mixed.csv", tmp_path), catalog_min, settings, dry_run=True
    )
    assert receipt.dry_run and receipt.to_dict()["dry_run"] is True
    assert receipt.rows_rejected == 9 and receipt.findings
    assert receipt.report is None and receipt.archive is None
    assert [p for p in settings.root.rglob("*") if p.is_file()] == []


def test_a_crash_before_the_receipt_is_recovered_without_duplicates(
    catalog_min, settings, tmp_path, monkeypatch
):
    """It stores nothing twice when re-run after a crash between the commit and the receipt."""
    import collectonce.ingest.service as service
    from collectonce.store.submissions import submission_ids

    path = copy("rf4__breaches_exceed_attendances.csv", tmp_path)

    def crash(*args, **kwargs):
        raise OSError("power cut")

    monkeypatch.setattr(service, "write_receipt", crash)
    with pytest.raises(OSError):
        submit(path, catalog_min, settings)
    stored = table_rows(settings)
    assert stored == 3 and not list(settings.receipts_dir.glob("*.json"))
    monkeypatch.undo()
    receipt = submit(path, catalog_min, settings)
    assert receipt.status == "partially_accepted"
    assert receipt.values_stored == 3  # the same answer as the first run would have given
    assert table_rows(settings) == stored
    assert submission_ids(settings) == {receipt.submission_id}
    assert len(list(settings.receipts_dir.glob("*.json"))) == 1


def test_a_path_like_original_name_stays_inside_the_archive(catalog_min, settings, tmp_path):
    """It records '../../etc/passwd' as 'passwd' and archives by hash only."""
    path = copy("rf4__suppressed_and_blank.csv", tmp_path)
    receipt = submit(path, catalog_min, settings, original_name="../../etc/passwd")
    assert receipt.original_name == "passwd"
    assert Path(receipt.archive).resolve().is_relative_to(settings.archive_dir.resolve())
    assert all(f.file == "passwd" for f in receipt.findings)


def test_a_file_over_the_limit_is_refused_before_archiving(catalog_min, home, tmp_path):
    """It rejects an oversized file whole, with a finding saying how to split it."""
    from collectonce.settings import get_settings

    small = get_settings(home=home, max_upload_bytes=100)
    receipt = submit(copy("rf4__broken_rows_mixed.csv", tmp_path), catalog_min, small)
    assert receipt.status == "rejected"
    assert receipt.findings[0].rule == "file_too_large"
    assert "Split it" in receipt.findings[0].message
    size = copy("rf4__broken_rows_mixed.csv", tmp_path).stat().st_size
    assert f"The file is {size:,} bytes, over the 100 bytes limit" in receipt.findings[0].message
    assert not small.archive_dir.exists() or not any(small.archive_dir.rglob("*"))


def test_many_files_are_validated_together_and_stored_in_one_commit(
    catalog_min, settings, tmp_path
):
    """It answers each file with its own receipt, and makes one commit for all of them."""
    from collectonce.ingest.service import submit_files
    from collectonce.store.submissions import table_version

    head = "provider_code,period,metric_id,value\n"
    paths = [
        write(tmp_path, f"rf4__2019-0{m}.csv", head + f"RF4,2019-0{m},ae_attendances_type1,{m}00\n")
        for m in range(1, 6)
    ]
    paths.append(copy("rf4__breaches_exceed_attendances.csv", tmp_path))
    paths.append(paths[0])  # the same bytes twice in one run
    receipts = submit_files(paths, catalog_min, settings, now=NOW)
    assert [r.status for r in receipts] == ["accepted"] * 5 + ["partially_accepted", "duplicate"]
    assert receipts[-1].submission_id == receipts[0].submission_id
    assert table_version(settings) == 0  # one commit
    assert all(r.rows_read == r.rows_accepted + r.rows_rejected for r in receipts)


def test_the_report_is_one_offline_page(catalog_min, settings, tmp_path):
    """It writes a self-contained HTML page, escaping what the file contained."""
    path = copy("rf4__formula_injection.csv", tmp_path, SHARED)
    receipt = submit(path, catalog_min, settings)
    page = Path(receipt.report).read_text()
    assert "<script" not in page and "http://cdn" not in page and "<link" not in page
    assert "=HYPERLINK(&quot;" in page or "HYPERLINK" not in page
    assert receipt.submission_id in page


def test_receipts_are_listed_per_provider(catalog_min, settings, tmp_path):
    """It lists a provider's receipts and finds one by id."""
    from collectonce.ingest.service import get_receipt, list_receipts

    mine = submit(
        copy("rf4__suppressed_and_blank.csv", tmp_path), catalog_min, settings, as_provider="RF4"
    )
    assert [r.submission_id for r in list_receipts(settings, provider="RF4")] == [
        mine.submission_id
    ]
    assert list_receipts(settings, provider="RRK") == []
    assert get_receipt(settings, mine.submission_id) == mine
    assert get_receipt(settings, "sub_nope") is None


def test_unknown_provider_or_missing_file_is_a_usage_error(catalog_min, settings, tmp_path):
    """It refuses before receiving anything."""
    from collectonce.ingest.service import SubmitError

    path = copy("rf4__suppressed_and_blank.csv", tmp_path)
    with pytest.raises(SubmitError):
        submit(path, catalog_min, settings, as_provider="ZZZ")
    with pytest.raises(SubmitError):
        submit(tmp_path / "missing.csv", catalog_min, settings)
    assert not settings.archive_dir.exists()


def test_the_landing_folder_is_ingested_once(catalog_min, settings, tmp_path):
    """It submits every new landing file, moves it to processed/, and does nothing the second
    time."""
    from collectonce.ingest.landing import ingest_landing
    from collectonce.store.submissions import current_values

    settings.landing_dir.mkdir(parents=True)
    for name in ("rf4__nhse_ae_monthly_january.csv", "rf4__broken_rows_mixed.csv"):
        copy(name, settings.landing_dir)
    (settings.landing_dir / "upload.csv.part").write_text("half a file")
    receipts = ingest_landing(catalog_min, settings, now=NOW)
    assert sorted(r.status for r in receipts) == ["accepted", "partially_accepted"]
    assert sorted(p.name for p in (settings.landing_dir / "processed").iterdir()) == [
        "rf4__broken_rows_mixed.csv",
        "rf4__nhse_ae_monthly_january.csv",
    ]
    assert (settings.landing_dir / "upload.csv.part").exists()
    held = len(current_values(settings))
    assert ingest_landing(catalog_min, settings, now=NOW) == []
    copy("rf4__nhse_ae_monthly_january.csv", settings.landing_dir)  # sent again
    (again,) = ingest_landing(catalog_min, settings, now=NOW)
    assert again.status == "duplicate"
    assert len(current_values(settings)) == held


def test_landing_is_safe_to_rerun_after_a_crash_before_moving(
    catalog_min, settings, tmp_path, monkeypatch
):
    """It answers the files again as duplicates, moves them, and stores nothing twice."""
    import collectonce.ingest.landing as landing
    from collectonce.ingest.landing import ingest_landing

    settings.landing_dir.mkdir(parents=True)
    copy("rf4__nhse_ae_monthly_january.csv", settings.landing_dir)

    def crash(*args, **kwargs):
        raise OSError("killed while moving")

    monkeypatch.setattr(landing, "_move", crash)  # files stay in landing/
    with pytest.raises(OSError):
        ingest_landing(catalog_min, settings, now=NOW)
    stored = table_rows(settings)
    monkeypatch.undo()
    (again,) = ingest_landing(catalog_min, settings, now=NOW)
    assert again.status == "duplicate" and again.original_status == "accepted"
    assert table_rows(settings) == stored == 3
    assert [p.name for p in (settings.landing_dir / "processed").iterdir()] == [
        "rf4__nhse_ae_monthly_january.csv"
    ]


def test_landing_and_archive_can_live_in_an_object_store(catalog_min, home, tmp_path):
    """With fsspec URLs for landing and archive, files are picked up from the store, archived
    there, moved to processed/ there, and nothing is left in local copies."""
    import uuid

    import fsspec

    from collectonce.ingest.landing import ingest_landing
    from collectonce.settings import Settings

    tag = uuid.uuid4().hex
    settings = Settings(
        home=home, landing_url=f"memory://landing-{tag}", archive_url=f"memory://archive-{tag}"
    )
    fs = fsspec.filesystem("memory")
    for name in ("rf4__nhse_ae_monthly_january.csv", "rf4__broken_rows_mixed.csv"):
        fs.pipe_file(f"/landing-{tag}/{name}", (FIXTURES / name).read_bytes())
    fs.pipe_file(f"/landing-{tag}/upload.csv.part", b"half a file")
    receipts = ingest_landing(catalog_min, settings, now=NOW)
    assert sorted(r.status for r in receipts) == ["accepted", "partially_accepted"]
    assert sorted(Path(p).name for p in fs.ls(f"/landing-{tag}/processed", detail=False)) == [
        "rf4__broken_rows_mixed.csv",
        "rf4__nhse_ae_monthly_january.csv",
    ]
    assert fs.exists(f"/landing-{tag}/upload.csv.part")
    for r in receipts:
        assert r.archive.startswith("memory://") and f"/archive-{tag}/" in r.archive
        assert fs.cat_file(r.archive) == (FIXTURES / r.original_name).read_bytes()
    assert table_rows(settings) > 0
    assert not settings.archive_dir.exists() and not settings.landing_dir.exists()
    assert not list(home.glob(".landing-*"))
    assert ingest_landing(catalog_min, settings, now=NOW) == []


def test_a_trust_sending_nhs_englands_published_monthly_file_is_stored(
    shipped_catalog, settings, tmp_path
):
    """It takes RF4's row of NHS England's published January 2019 A&E file as RF4's figures for
    2019-01 (as `collectonce submit FILE --as RF4` does), skips the total row with a warning and
    accounts for both rows: one accepted, one skipped."""
    from collectonce.store.submissions import current_values

    path = copy("rf4__nhse_published_monthly_ae.csv", tmp_path, SHARED)
    receipt = submit(path, shipped_catalog, settings, as_provider="RF4")
    assert receipt.status == "accepted_with_warnings"
    assert receipt.template == "nhse_ae_published_monthly"
    assert (receipt.rows_read, receipt.rows_accepted, receipt.rows_rejected) == (2, 1, 0)
    assert receipt.rows_skipped == 1
    assert (receipt.providers, receipt.periods) == (["RF4"], ["2019-01"])
    assert [(f.row, f.rule, f.severity) for f in receipt.findings] == [
        (3, "item_not_stored", "warning")
    ]
    held = current_values(settings).set_index(["provider_code", "period", "metric_id"])
    january = dt.date(2019, 1, 1)
    for metric, figure in RF4_JANUARY_2019.items():
        assert held.loc[("RF4", january, metric), "value"] == figure
        assert held.loc[("RF4", january, metric), "source_row"] == 2
    assert receipt.quarantine is None


def test_bad_cells_of_the_published_file_are_rejected_row_by_row_and_kept(
    shipped_catalog, settings, tmp_path
):
    """It rejects the rows with an unreadable figure, an unreadable period and a cell too many,
    stores the good months, and keeps every rejected row in quarantine with the rules that
    rejected it: the unreadable rows as they were sent, and the figures held back from a row
    with one bad cell."""
    from collectonce.store.submissions import current_values

    path = copy("rf4__nhse_published_monthly_ae_broken_cells.csv", tmp_path, SHARED)
    receipt = submit(path, shipped_catalog, settings, as_provider="RF4")
    assert receipt.status == "partially_accepted"
    assert (receipt.rows_read, receipt.rows_accepted, receipt.rows_rejected) == (5, 2, 3)
    errors = {(f.row, f.rule) for f in receipt.findings if f.severity == "error"}
    assert errors == {(3, "type_number"), (4, "type_period"), (5, "row_shape")}
    held = current_values(settings).set_index(["period", "metric_id"])
    assert held.loc[(dt.date(2018, 12, 1), "ae_attendances_type1"), "value"] == 16040.0
    assert held.loc[(dt.date(2019, 3, 1), "ae_emergency_admissions"), "value"] == 4703.0
    assert set(held.index.get_level_values("period")) == {dt.date(2018, 12, 1), dt.date(2019, 3, 1)}

    with (Path(receipt.quarantine) / "rejected_rows.csv").open() as handle:
        quarantined = list(csv.DictReader(handle))
    assert {int(r["source_row"]) for r in quarantined} == {3, 4, 5}
    sent = {int(r["source_row"]): r for r in quarantined if r["sent"]}
    lines = path.read_text().splitlines()
    assert {row: (r["sent"], r["rejected_by"]) for row, r in sent.items()} == {
        3: (lines[2], "type_number"),
        4: (lines[3], "type_period"),
        5: (lines[4], "row_shape"),
    }
    held_back = [r for r in quarantined if not r["sent"]]
    assert {r["source_row"] for r in held_back} == {"3"}
    assert {r["rejected_by"] for r in held_back} == {"type_number"}
    metrics = {r["metric_id"] for r in held_back}
    assert {"ae_attendances_type2", "ae_emergency_admissions"} <= metrics
    manifest = json.loads((Path(receipt.quarantine) / "manifest.json").read_text())
    assert manifest["rows_rejected"] == 3
    assert manifest["rejected_rows_file"].endswith("rejected_rows.csv")
