"""What an upload process does with one upload, run here (the pool itself is tested against the
real server in tests/integration/test_upload_pool.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest


@pytest.fixture
def in_process(settings, catalog_min_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process set up as an upload process (without its warm-up and signal handling)."""
    from collectonce.api import upload_pool
    from collectonce.ingest.worker import Catalogues

    held = {"settings": settings, "catalogues": Catalogues(), "catalog_dir": catalog_min_dir}
    monkeypatch.setattr(upload_pool, "_held", held)


def job_for(tmp_path: Path, text: str):
    from collectonce.api.upload_pool import UploadJob

    path = tmp_path / "upload.csv"
    path.write_text(text)
    return UploadJob(path, submitter="RF4 (API token x)", as_provider="RF4", original_name="a.csv")


@pytest.mark.usefixtures("in_process")
def test_the_receipt_sent_back_is_the_stored_one(
    tmp_path: Path, settings, catalog_min, csv_rows
) -> None:
    """The answer travels between processes (it pickles) and rebuilds the receipt stored."""
    from collectonce.api.upload_pool import _submit_in_process
    from collectonce.ingest.service import get_receipt
    from collectonce.store.receipts import Receipt

    answer = _submit_in_process(job_for(tmp_path, csv_rows("RF4")), catalog_min.fingerprint)
    receipt = Receipt.from_dict(pickle.loads(pickle.dumps(answer)))
    assert receipt.status == "accepted" and receipt.original_name == "a.csv"
    stored = get_receipt(settings, receipt.submission_id)
    assert stored is not None and stored.to_dict() == receipt.to_dict()


@pytest.mark.usefixtures("in_process")
def test_a_process_with_another_catalogue_hands_the_upload_back(
    tmp_path: Path, settings, csv_rows
) -> None:
    """A process whose catalogue is not the server's (its folder changed since) stores nothing:
    the server checks the upload itself."""
    from collectonce.api.upload_pool import OtherCatalogue, _submit_in_process
    from collectonce.ingest.service import list_receipts

    with pytest.raises(OtherCatalogue):
        _submit_in_process(job_for(tmp_path, csv_rows("RF4")), "another fingerprint")
    assert list_receipts(settings) == []


def test_with_no_processes_uploads_are_checked_in_the_server(
    tmp_path: Path, settings, catalog_min, csv_rows
) -> None:
    """``COLLECTONCE_UPLOAD_PROCESSES=0``: no pool is started; the server's threads check it."""
    import asyncio

    from collectonce.api.upload_pool import UploadPool

    pool = UploadPool(catalog_min, settings, processes=0)
    pool.start()
    receipt = asyncio.run(pool.submit(job_for(tmp_path, csv_rows("RF4"))))
    assert receipt.status == "accepted"
    assert (pool.in_server, pool.in_processes) == (1, 0)
    pool.shutdown()
