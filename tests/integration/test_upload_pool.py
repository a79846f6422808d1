"""API uploads checked in worker processes (``COLLECTONCE_UPLOAD_PROCESSES``): several at once
through the real server are each stored once, as their receipts say; a process that dies
mid-way loses nothing (the upload is finished in the server) and the pool is replaced."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

#: Real NHS England A&E type 1 figures (first and second quarters of 2018) for four trusts.
HEADER = "provider_code,period,ae_attendances_type1,ae_breaches_4hr_type1,ae_emergency_admissions"
QUARTERS = {
    "RF4": (
        ["2018-01,21317,6104,4988", "2018-02,18668,5628,4436", "2018-03,21452,6495,5144"],
        ["2018-04,20369,4970,4943", "2018-05,21582,3940,5258", "2018-06,21187,4044,5048"],
    ),
    "RRK": (
        ["2018-01,10083,2181,3947", "2018-02,9322,2048,3922", "2018-03,9936,2154,3896"],
        ["2018-04,9831,1759,3842", "2018-05,10573,1637,4044", "2018-06,10035,1488,3942"],
    ),
    "R1H": (
        ["2018-01,27281,5839,7738", "2018-02,25341,6000,7070", "2018-03,28465,6379,7670"],
        ["2018-04,26727,5508,7480", "2018-05,28102,5196,8134", "2018-06,26939,5008,7643"],
    ),
    "RQM": (
        ["2018-01,17990,1406,3893", "2018-02,16205,1328,3436", "2018-03,18906,1564,3899"],
        ["2018-04,17309,1204,3689", "2018-05,18745,1130,4013", "2018-06,17999,1190,4099"],
    ),
}


def quarter_file(ods: str, quarter: int) -> tuple[str, bytes]:
    rows = [f"{ods},{row}" for row in QUARTERS[ods][quarter]]
    return f"{ods.lower()}__ae_2018q{quarter + 1}.csv", "\n".join([HEADER, *rows, ""]).encode()


def upload(base: str, token: str, ods: str, quarter: int) -> dict[str, Any]:
    """A trust's quarter file sent to a running server; its receipt (answered 201)."""
    import httpx

    name, body = quarter_file(ods, quarter)
    answer = httpx.post(
        f"{base}/v1/submissions",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (name, body)},
        timeout=240,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def stored_by_submission(home: Path) -> dict[str, int]:
    """Values in the submissions table, per submission id."""
    from deltalake import DeltaTable

    from collectonce.settings import get_settings
    from collectonce.store.submissions import KEY, table_path

    stored = DeltaTable(str(table_path(get_settings(home=home)))).to_pandas()
    assert not stored.duplicated(["submission_id", *KEY]).any()
    return {str(k): int(v) for k, v in stored.groupby("submission_id").size().items()}


def tokens(home: Path, catalog_dir: Path) -> dict[str, str]:
    from collectonce.access.auth import create_token
    from collectonce.catalog import load_catalog
    from collectonce.settings import get_settings

    settings, catalog = get_settings(home=home), load_catalog(catalog_dir)
    return {
        ods: create_token(settings, role="provider", subject=ods, catalog=catalog)[1]
        for ods in QUARTERS
    }


@pytest.mark.timeout(300)
def test_uploads_at_once_are_checked_in_processes_and_stored_once(
    tmp_path: Path, catalog_min_dir: Path
) -> None:
    """Eight uploads sent at once to `collectonce serve` with two upload processes: each answered
    201 with an accepted receipt, and the table holds exactly the values each receipt says it
    stored, once."""
    import httpx
    import psutil

    from collectonce.testing import start_server, stop_server, wait_until_warm

    home = tmp_path / "home"
    home.mkdir()
    bearer = tokens(home, catalog_min_dir)
    proc, base = start_server(home, catalog_min_dir, env={"COLLECTONCE_UPLOAD_PROCESSES": "2"})
    try:
        pool = [p for p in psutil.Process(proc.pid).children() if "python" in p.name().lower()]
        assert len(pool) >= 2, pool  # the upload processes started with the server
        health = wait_until_warm(base)
        assert (health["upload_processes"], health["upload_processes_warm"]) == (2, 2)
        assert health["uploads_ready"] is True

        def send(ods: str, quarter: int) -> dict[str, Any]:
            return upload(base, bearer[ods], ods, quarter)

        with ThreadPoolExecutor(8) as clients:
            sent = [(ods, q) for ods in QUARTERS for q in (0, 1)]
            receipts = list(clients.map(lambda job: send(*job), sent))
        listed = httpx.get(
            f"{base}/v1/submissions", headers={"Authorization": f"Bearer {bearer['RF4']}"}
        ).json()["submissions"]
    finally:
        stop_server(proc)
    assert proc.returncode is not None
    assert all(r["status"] == "accepted" and r["values_stored"] == 9 for r in receipts), receipts
    assert len({r["submission_id"] for r in receipts}) == 8
    assert {r["submission_id"] for r in listed} == {
        r["submission_id"] for r in receipts if r["providers"] == ["RF4"]
    }
    stored = stored_by_submission(home)
    assert stored == {r["submission_id"]: r["values_stored"] for r in receipts}
    assert "Traceback" not in (home / "server.log").read_text(errors="replace")


@pytest.mark.timeout(300)
def test_a_dying_upload_process_loses_nothing(
    home: Path, catalog_min, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload process is killed after storing the values and before the receipt: the upload
    is finished in the server (its values stored once, as its receipt says), the same bytes sent
    again are a duplicate, and the next upload goes to a new process."""
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app
    from collectonce.api.upload_pool import UploadPool
    from collectonce.settings import get_settings

    settings = get_settings(home=home, upload_processes=1)
    _, token = create_token(settings, role="admin", subject=None, catalog=catalog_min)
    admin = {"Authorization": f"Bearer {token}"}
    app = build_app(catalog_min, settings)
    pool: UploadPool = app.state.api.uploads
    monkeypatch.setenv("COLLECTONCE_FAULT_AT", "submit:stored")  # in the first process only
    with TestClient(app) as client:
        monkeypatch.delenv("COLLECTONCE_FAULT_AT")
        first = quarter_file("RF4", 0)
        answer = client.post("/v1/submissions", headers=admin, files={"file": first})
        assert answer.status_code == 201, answer.text
        receipt = answer.json()
        assert receipt["status"] == "accepted" and receipt["values_stored"] == 9
        assert (pool.replaced, pool.in_server, pool.in_processes) == (1, 1, 0)
        assert stored_by_submission(home) == {receipt["submission_id"]: 9}

        again = client.post("/v1/submissions", headers=admin, files={"file": first})
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        second = client.post(
            "/v1/submissions", headers=admin, files={"file": quarter_file("RRK", 0)}
        )
        assert second.status_code == 201, second.text
        assert (pool.replaced, pool.in_server, pool.in_processes) == (1, 1, 2)
    assert stored_by_submission(home) == {
        receipt["submission_id"]: 9,
        second.json()["submission_id"]: 9,
    }
    assert not any((home / "uploads").iterdir())


@pytest.mark.timeout(120)
def test_upload_processes_run_below_the_server_and_end_with_it(
    tmp_path: Path, catalog_min_dir: Path
) -> None:
    """The upload processes run at a lower priority than the server, and exit when the server
    is killed without stopping them."""
    import os
    import signal
    import time

    import psutil

    from collectonce.api.upload_pool import NICENESS
    from collectonce.testing import start_server

    home = tmp_path / "home"
    home.mkdir()
    proc, _base = start_server(home, catalog_min_dir, env={"COLLECTONCE_UPLOAD_PROCESSES": "1"})
    server = psutil.Process(proc.pid)
    try:
        deadline = time.monotonic() + 30
        while not (pool := [p for p in server.children() if p.nice() > server.nice()]):
            assert time.monotonic() < deadline, server.children()
            time.sleep(0.2)
        assert [p.nice() - server.nice() for p in pool] == [NICENESS]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    _gone, alive = psutil.wait_procs(pool, timeout=30)
    assert not alive


@pytest.mark.timeout(300)
def test_a_server_checking_uploads_itself_warms_up_and_writes_only_its_gx_project(
    tmp_path: Path, catalog_min_dir: Path
) -> None:
    """With no upload processes the server warms its own checks up (a dry-run rehearsal) and
    says so in /health; the rehearsal leaves no archive, value, receipt or upload behind, and
    the first real upload is then stored as usual."""

    from collectonce.testing import start_server, stop_server, wait_until_warm

    home = tmp_path / "home"
    home.mkdir()
    bearer = tokens(home, catalog_min_dir)
    proc, base = start_server(home, catalog_min_dir, env={"COLLECTONCE_UPLOAD_PROCESSES": "0"})
    try:
        health = wait_until_warm(base)
        assert health["upload_processes"] == 0 and health["uploads_ready"] is True
        left = sorted(
            str(p.relative_to(home))
            for p in home.rglob("*")
            if p.is_file() and "gx_project" not in p.parts
        )
        assert not [p for p in left if p.startswith(("archive", "tables", "receipts"))], left
        assert (home / "gx_project").is_dir()
        receipt = upload(base, bearer["RQM"], "RQM", 1)
    finally:
        stop_server(proc)
    assert stored_by_submission(home) == {receipt["submission_id"]: 9}
    assert "Traceback" not in (home / "server.log").read_text(errors="replace")
