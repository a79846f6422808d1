"""The Great Expectations results are saved while the values are stored; the receipt waits
for both, and a failure in either leaves no receipt for facts it did not see through."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "validate" / "fixtures"
NAME = "rf4__breaches_exceed_attendances.csv"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    target = tmp_path / NAME
    shutil.copyfile(FIXTURES / NAME, target)
    return target


def gx_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "collectonce-gx-results"]


def test_results_are_saved_while_storing_and_the_receipt_follows_both(
    catalog_min, settings, path, monkeypatch
) -> None:
    import collectonce.store.submissions as submissions
    import collectonce.validate.data_docs as data_docs
    from collectonce.ingest.service import submit_file

    storing, saved = threading.Event(), threading.Event()
    seen: dict[str, object] = {}
    real_append, real_store = submissions.append_values, data_docs.store_results

    def append(*args, **kwargs):
        storing.set()
        # The results are being saved at the same time (not after the store stage).
        seen["saved_meanwhile"] = saved.wait(timeout=30)
        return real_append(*args, **kwargs)

    def store_results(*args, **kwargs):
        seen["storing_meanwhile"] = storing.wait(timeout=30)
        try:
            return real_store(*args, **kwargs)
        finally:
            seen["receipts_then"] = list(settings.receipts_dir.glob("*.json"))
            saved.set()

    monkeypatch.setattr(submissions, "append_values", append)
    monkeypatch.setattr(data_docs, "store_results", store_results)
    receipt = submit_file(path, catalog_min, settings)
    assert receipt.values_stored == 3
    assert seen == {"saved_meanwhile": True, "storing_meanwhile": True, "receipts_then": []}
    assert len(list(settings.receipts_dir.glob("*.json"))) == 1
    assert gx_threads() == []


def test_a_failed_store_writes_no_receipt_and_waits_for_the_results(
    catalog_min, settings, path, monkeypatch
) -> None:
    import collectonce.store.submissions as submissions
    import collectonce.validate.data_docs as data_docs
    from collectonce.ingest.service import submit_file

    finished = threading.Event()
    real_store = data_docs.store_results

    def store_results(*args, **kwargs):
        try:
            return real_store(*args, **kwargs)
        finally:
            finished.set()

    def refuse(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(submissions, "append_values", refuse)
    monkeypatch.setattr(data_docs, "store_results", store_results)
    with pytest.raises(OSError, match="disk full"):
        submit_file(path, catalog_min, settings)
    assert finished.is_set() and gx_threads() == []
    assert not list(settings.receipts_dir.glob("*.json"))
    assert submissions.submission_ids(settings) == set()


def test_a_failure_saving_the_results_is_logged_and_the_values_are_receipted(
    catalog_min, settings, path, monkeypatch, caplog
) -> None:
    import collectonce.validate.data_docs as data_docs
    from collectonce.ingest.service import submit_file

    def broken(*args, **kwargs):
        raise RuntimeError("results store unavailable")

    monkeypatch.setattr(data_docs, "store_results", broken)
    receipt = submit_file(path, catalog_min, settings)
    assert receipt.values_stored == 3
    assert len(list(settings.receipts_dir.glob("*.json"))) == 1
    assert "cannot store the validation results" in caplog.text
