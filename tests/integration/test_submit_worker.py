"""`collectonce worker start|status|stop` and `collectonce submit` through the warm worker, as
real processes: the receipt is the one the command would have written itself."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from user_files import collectonce_command, run_cli

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CATALOG = FIXTURES / "catalog_min"
GOOD = (
    "provider_code,period,metric_id,value\n"
    "RF4,2019-01,ae_attendances_type1,16428\n"
    "RF4,2019-01,ae_breaches_4hr_type1,7363\n"
    "RF4,2019-01,ae_emergency_admissions,4607\n"
)
PER_RUN = {"submission_id", "received_at", "report", "archive", "quarantine"}


def cli(home: Path, *args: str, worker: str = "use") -> tuple[int, Any, str]:
    return run_cli(
        home, *args, "--catalog", str(CATALOG), "--json", env={"COLLECTONCE_WORKER": worker}
    )


@pytest.fixture
def home() -> Iterator[Path]:
    """A data folder with a short path (a Unix socket address holds about 100 bytes); any
    worker left running is stopped."""
    path = Path(tempfile.mkdtemp(prefix="co-wi-"))
    yield path
    cli(path, "worker", "stop")
    shutil.rmtree(path, ignore_errors=True)


def test_submit_through_the_worker_gives_the_in_process_receipt(home: Path, tmp_path: Path):
    code, started, out = cli(home, "worker", "start")
    assert code == 0 and started["started"] and started["running"], out
    assert os.lstat(home / "worker.sock").st_mode & 0o777 == 0o600

    sent = tmp_path / "rf4.csv"
    sent.write_text(GOOD)
    code, via_worker, out = cli(home, "submit", str(sent))
    assert code == 0, out
    code, status, out = cli(home, "worker", "status")
    assert status["running"] and status["served"] == 1, out
    assert (home / "receipts" / f"{via_worker['submission_id']}.json").is_file()

    alone = tmp_path / "alone"
    code, in_process, out = cli(alone, "submit", str(sent), worker="off")
    assert code == 0, out
    assert {k: v for k, v in via_worker.items() if k not in PER_RUN} == {
        k: v for k, v in in_process.items() if k not in PER_RUN
    }
    assert via_worker["values_stored"] == 3

    code, again, out = cli(home, "submit", str(sent))  # the same bytes again: a duplicate
    assert code == 0 and again["status"] == "duplicate", out
    code, missing, out = cli(home, "submit", str(tmp_path / "nope.csv"))
    assert code == 2 and missing["error"].startswith("no such file"), out

    code, stopped, out = cli(home, "worker", "stop")
    assert code == 0 and stopped["stopped"], out
    assert not (home / "worker.sock").exists()
    code, status, out = cli(home, "worker", "status")
    assert code == 0 and status["running"] is False, out


def test_a_stale_socket_is_harmless(home: Path, tmp_path: Path) -> None:
    """A socket left by a killed worker: submit works in-process, start replaces it."""
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(home / "worker.sock"))
    stale.close()
    os.chmod(home / "worker.sock", 0o600)
    sent = tmp_path / "rf4.csv"
    sent.write_text(GOOD)
    code, receipt, out = cli(home, "submit", str(sent))
    assert code == 0 and receipt["values_stored"] == 3, out

    code, started, out = cli(home, "worker", "start")
    assert code == 0 and started["started"], out
    code, again, out = cli(home, "worker", "start")
    assert code == 0 and again["started"] is False and again["pid"] == started["pid"], out


def test_auto_starts_a_worker_for_the_next_file(home: Path, tmp_path: Path) -> None:
    """The default: the first file is done in the command, which then starts a worker; the
    next file goes through it, even while it is still warming up; removing the data folder's
    socket ends it."""
    sent = tmp_path / "rf4.csv"
    sent.write_text(GOOD)
    code, receipt, out = cli(home, "submit", str(sent), worker="auto")
    assert code == 0 and receipt["values_stored"] == 3, out
    assert (home / "worker.sock").exists() or _wait_for_socket(home)

    later = tmp_path / "rf4_later.csv"
    later.write_text(GOOD.replace("2019-01", "2019-02"))
    code, second, out = cli(home, "submit", str(later), worker="auto")
    assert code == 0 and second["values_stored"] == 3, out
    code, status, out = cli(home, "worker", "status")
    assert status["running"] and status["served"] == 1, out
    from collectonce.ingest.worker_link import running_workers

    assert running_workers() in (None, *range(1, 1000))  # this one at least, where /proc is

    (home / "worker.sock").unlink()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _alive(status["pid"]):
        time.sleep(0.2)
    assert not _alive(status["pid"])


def _wait_for_socket(home: Path) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (home / "worker.sock").exists():
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:  # a zombie (not yet reaped) has ended
            return stat.read().split(") ")[-1][0] != "Z"
    except OSError:  # no /proc here: the signal reached it
        return True


def test_an_idle_worker_exits(home: Path) -> None:
    env = {**os.environ, "COLLECTONCE_HOME": str(home), "COLLECTONCE_WORKER_IDLE_SECONDS": "1"}
    started = subprocess.run(
        [collectonce_command(), "worker", "start", "--catalog", str(CATALOG), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert started.returncode == 0, started.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (home / "worker.sock").exists():
        time.sleep(0.2)
    assert not (home / "worker.sock").exists()
