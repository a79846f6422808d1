"""The validation worker in this process: its socket, its answers, and the door's fall-back."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectonce.ingest import door, worker, worker_link
from collectonce.settings import Settings, get_settings

FIXTURES = Path(__file__).resolve().parents[1] / "validate" / "fixtures"
#: What differs between two receipts of the same bytes taken in two data folders.
PER_RUN = {"submission_id", "received_at", "report", "archive", "quarantine"}


@pytest.fixture
def short_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data folder whose socket path fits in a Unix socket address (about 100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="co-w-"))
    monkeypatch.setenv("COLLECTONCE_HOME", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def running(short_home: Path, catalog_min_dir: Path) -> Iterator[worker.WorkerServer]:
    """A worker serving in a thread of this process."""
    settings = get_settings(home=short_home, worker_idle_seconds=60)
    server = worker.bind(settings)
    server.timeout = 0.2
    thread = threading.Thread(target=_loop, args=(server,), daemon=True)
    thread.start()
    yield server
    server.stopping = True
    thread.join(10)
    server.server_close()
    server.remove_socket()


def _loop(server: worker.WorkerServer) -> None:
    while not server.stopping:
        server.handle_request()


def _copy(name: str, folder: Path) -> Path:
    target = folder / name
    shutil.copyfile(FIXTURES / name, target)
    return target


def _same(receipt: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in receipt.items() if k not in PER_RUN}


def _opener(path: Path):
    from collectonce.catalog import load_catalog

    return load_catalog(path, check_extras=False)


def test_the_socket_is_private_and_answers_status(running: worker.WorkerServer) -> None:
    mode = os.lstat(running.path).st_mode & 0o777
    assert mode == 0o600
    status = worker_link.ping(running.path)
    assert status is not None
    assert status["pid"] == os.getpid()
    assert status["running"] is True


def test_a_socket_open_to_others_is_not_used(running: worker.WorkerServer) -> None:
    os.chmod(running.path, 0o666)
    assert not worker_link.usable(running.path)
    assert worker_link.ping(running.path) is None


def test_the_worker_ingests_exactly_as_this_process_does(
    running: worker.WorkerServer, catalog_min_dir: Path, tmp_path: Path
) -> None:
    """The same bytes give the same receipt, through the worker or in-process."""
    path = _copy("rf4__broken_rows_mixed.csv", tmp_path)
    request = door.request_for(str(path), catalog_min_dir)
    settings = get_settings(home=running.settings.root)
    answer = worker_link.submit(settings, request)
    assert answer is not None and answer["ok"], answer
    assert running.served == 1

    elsewhere = get_settings(home=tmp_path / "other", worker="off")
    here = door.submit(request, elsewhere, _opener).to_dict()
    assert _same(answer["receipt"]) == _same(here)
    assert answer["receipt"]["status"] == "partially_accepted"
    assert (running.settings.root / "receipts").is_dir()


def test_a_usage_error_comes_back_as_a_refusal(
    running: worker.WorkerServer, catalog_min_dir: Path, tmp_path: Path
) -> None:
    request = door.request_for(str(tmp_path / "nope.csv"), catalog_min_dir)
    settings = get_settings(home=running.settings.root)
    with pytest.raises(door.Refused, match="no such file"):
        door.submit(request, settings, _opener)
    path = _copy("rf4__broken_rows_mixed.csv", tmp_path)
    unknown = door.request_for(str(path), catalog_min_dir, as_provider="zzz")
    with pytest.raises(door.Refused, match="unknown provider 'ZZZ' for --as"):
        door.submit(unknown, settings, _opener)


def test_a_worker_error_falls_back_to_this_process(
    running: worker.WorkerServer,
    catalog_min_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker fails (here: its catalogue cannot be read); the file is still received."""

    def broken(_given: Path):
        raise RuntimeError("catalogue unreadable in the worker")

    monkeypatch.setattr(running, "catalogues", broken)
    path = _copy("rf4__broken_rows_mixed.csv", tmp_path)
    request = door.request_for(str(path), catalog_min_dir)
    settings = get_settings(home=running.settings.root)
    assert worker_link.submit(settings, request) == {
        "ok": False,
        "error": "RuntimeError: catalogue unreadable in the worker",
    }
    receipt = door.submit(request, settings, _opener)
    assert receipt.status == "partially_accepted"


def test_no_worker_means_in_process(short_home: Path, catalog_min_dir: Path, tmp_path: Path):
    path = _copy("rf4__broken_rows_mixed.csv", tmp_path)
    settings = get_settings(home=short_home)
    assert worker_link.ping(worker_link.socket_path(settings)) is None
    receipt = door.submit(door.request_for(str(path), catalog_min_dir), settings, _opener)
    assert receipt.values_stored > 0


def test_a_stale_socket_is_replaced(short_home: Path) -> None:
    settings = get_settings(home=short_home)
    path = worker_link.socket_path(settings)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    os.chmod(path, 0o600)
    assert worker_link.ping(path) is None
    server = worker.bind(settings)
    try:
        assert os.lstat(path).st_ino == server.inode
    finally:
        server.server_close()
        server.remove_socket()
    assert not path.exists()


def test_a_second_worker_is_refused(running: worker.WorkerServer) -> None:
    with pytest.raises(worker.AlreadyRunning):
        worker.bind(running.settings)


def test_stop_and_idle_end_the_loop(short_home: Path) -> None:
    settings = get_settings(home=short_home, worker_idle_seconds=0.2)
    assert worker.serve(settings) == 0  # no request for 0.2 s: it stops and cleans up
    assert not worker_link.socket_path(settings).exists()


def test_bad_requests_are_answered(running: worker.WorkerServer) -> None:
    assert worker_link.ask(running.path, {"op": "dance"}) == {
        "ok": False,
        "error": "unknown request 'dance'",
    }
    assert worker_link.ping(running.path) is not None


def test_catalogues_are_read_again_when_a_file_changes(
    catalog_min_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "catalog"
    shutil.copytree(catalog_min_dir, folder)
    held = worker.Catalogues()
    first = held(folder)
    assert held(folder) is first
    providers = folder / "providers.csv"
    providers.write_text(providers.read_text() + "\n")
    os.utime(providers, ns=(1, 1))
    assert held(folder) is not first


def test_the_request_and_settings_travel_as_json(tmp_path: Path) -> None:
    request = door.request_for("a.csv", Path("catalog"), as_provider="RF4", dry_run=True)
    assert door.SubmitRequest.from_dict(request.to_dict()) == request
    settings = get_settings(home=tmp_path, worker="auto")
    assert Settings(**settings.model_dump(mode="json")) == settings


def test_extras_unchecked_keep_the_fingerprint(tmp_path: Path) -> None:
    from collectonce.catalog import load_catalog

    root = Path(__file__).resolve().parents[3] / "catalog"
    assert load_catalog(root).fingerprint == load_catalog(root, check_extras=False).fingerprint


def test_the_submit_path_skips_the_checks_only_catalog_check_needs(
    catalog_min_dir: Path, tmp_path: Path
) -> None:
    from collectonce.catalog import CatalogInvalid, load_catalog

    folder = tmp_path / "catalog"
    shutil.copytree(catalog_min_dir, folder)
    (folder / "dedupe_rules.yaml").write_text("not_a_rule: [\n")
    with pytest.raises(CatalogInvalid):
        load_catalog(folder)
    assert load_catalog(folder, check_extras=False).providers


def test_a_worker_of_another_build_hands_the_file_back_and_stops(
    running: worker.WorkerServer, catalog_min_dir: Path, tmp_path: Path
) -> None:
    path = _copy("rf4__broken_rows_mixed.csv", tmp_path)
    request = door.request_for(str(path), catalog_min_dir)
    settings = get_settings(home=running.settings.root)
    answer = worker_link.ask(
        running.path,
        {
            "op": "submit",
            "request": request.to_dict(),
            "settings": settings.model_dump(mode="json"),
            "build": running.build + "-edited",
        },
    )
    assert answer is not None and answer["stale"] and not answer["ok"], answer
    assert running.stopping and running.served == 0
    assert not (running.settings.root / "receipts").exists()  # nothing was received there


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The catalogues of the workers submissions would have started (none is)."""
    found: list[str] = []
    monkeypatch.setattr(
        worker_link, "start_detached", lambda settings, catalog: found.append(str(catalog))
    )
    return found


def test_auto_starts_a_worker_once_its_own_file_is_received(
    short_home: Path, catalog_min_dir: Path, tmp_path: Path, started: list[str]
) -> None:
    settings = get_settings(home=short_home, worker="auto")
    with pytest.raises(door.Refused, match="no such file"):
        door.submit(
            door.request_for(str(tmp_path / "nope.csv"), catalog_min_dir), settings, _opener
        )
    assert started == []  # nothing received, nothing started

    path = _copy("rf4__broken_rows_mixed.csv", tmp_path)
    receipt = door.submit(door.request_for(str(path), catalog_min_dir), settings, _opener)
    assert receipt.values_stored > 0 and started == [str(catalog_min_dir)]

    for mode in ("use", "off"):  # neither starts one
        door.submit(
            door.request_for(str(path), catalog_min_dir),
            get_settings(home=short_home, worker=mode),
            _opener,
        )
    assert started == [str(catalog_min_dir)]


def test_a_worker_whose_socket_is_removed_stops(short_home: Path) -> None:
    server = worker.bind(get_settings(home=short_home, worker_idle_seconds=600))
    try:
        server.handle_timeout()
        assert not server.stopping  # idle for less than 600 s, socket in place: keep going
        server.path.unlink()
        server.handle_timeout()
        assert server.stopping
    finally:
        server.server_close()


def test_the_build_changes_when_the_code_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import collectonce

    package = tmp_path / "collectonce"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("")
    monkeypatch.setattr(collectonce, "__file__", str(package / "__init__.py"))
    first = worker_link.build_id()
    assert worker_link.build_id() == first
    os.utime(package / "a.py", ns=(1, 2_000_000_000_000_000_000))
    assert worker_link.build_id() != first


def test_no_worker_is_started_while_enough_run_elsewhere(
    short_home: Path,
    catalog_min_dir: Path,
    tmp_path: Path,
    started: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker_link, "running_workers", lambda: worker_link.MOST_WORKERS)
    path = _copy("rf4__broken_rows_mixed.csv", tmp_path)
    settings = get_settings(home=short_home, worker="auto")
    receipt = door.submit(door.request_for(str(path), catalog_min_dir), settings, _opener)
    assert receipt.values_stored > 0 and started == []
