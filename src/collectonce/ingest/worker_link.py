"""Talking to the validation worker: one JSON line asked, one JSON line answered.

The worker listens on ``worker.sock`` in the data folder. A socket is used only when it is a
socket, owned by this user and open to nobody else (mode 0600); otherwise, and whenever the
worker does not answer, the caller gets None and does the work itself.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectonce.settings import Settings

if TYPE_CHECKING:
    from collectonce.ingest.door import SubmitRequest

SOCKET_NAME = "worker.sock"
LOG_NAME = "worker.log"
#: Seconds to wait for a ping or a stop to be answered.
QUICK_SECONDS = 5.0
#: Seconds a submission may take in the worker before this process does it itself.
SUBMIT_SECONDS = 3600.0
#: The longest answer read (a receipt with every finding of a large file).
MAX_ANSWER_BYTES = 256 * 1024 * 1024
#: A submission starts no worker while this many of this user's workers run (one per data
#: folder: many short-lived data folders must not fill the machine with idle workers).
MOST_WORKERS = 4
WORKER_MODULE = "collectonce.ingest.worker"


def available() -> bool:
    """This platform has Unix sockets (a worker can run); elsewhere every file is done here."""
    return hasattr(socket, "AF_UNIX")


def build_id() -> str:
    """The code this process runs: the version and the newest of the package's source files.

    A worker whose build differs from its submitter's (collectonce upgraded or edited since
    the worker started) hands the file back and stops, so no file is checked by older code.
    """
    import collectonce

    package = Path(collectonce.__file__).parent
    newest = count = 0
    for folder, dirs, files in os.walk(package):
        dirs[:] = [name for name in dirs if name != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime_ns)
                count += 1
    return f"{collectonce.__version__}+{count}.{newest}"


def socket_path(settings: Settings) -> Path:
    return settings.root / SOCKET_NAME


def log_path(settings: Settings) -> Path:
    return settings.root / LOG_NAME


def usable(path: Path) -> bool:
    """The socket exists, is a socket, is this user's and is open to nobody else."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISSOCK(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    )


def ask(
    path: Path, message: dict[str, Any], timeout: float = QUICK_SECONDS
) -> dict[str, Any] | None:
    """Send one message and return the answer; None when no usable worker answers."""
    if not usable(path):
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(min(timeout, QUICK_SECONDS))
            conn.connect(str(path))
            conn.settimeout(timeout)
            conn.sendall(json.dumps(message, default=str).encode() + b"\n")
            with conn.makefile("rb") as answers:
                line = answers.readline(MAX_ANSWER_BYTES)
        answer = json.loads(line) if line else None
    except (OSError, ValueError):
        return None
    return answer if isinstance(answer, dict) else None


def ping(path: Path) -> dict[str, Any] | None:
    """The worker's status, or None when none answers on `path`."""
    answer = ask(path, {"op": "ping"})
    return answer if answer is not None and answer.get("ok") else None


def submit(settings: Settings, request: SubmitRequest) -> dict[str, Any] | None:
    """Ask the worker to ingest the file: ``{"receipt": ...}``, ``{"refused": message}``,
    ``{"stale": true}`` (it runs other code, and stops), or None (no worker, or it failed).
    Anything but a receipt or a refusal means: do it here."""
    path = socket_path(settings)
    if not available() or not usable(path):
        return None
    return ask(
        path,
        {
            "op": "submit",
            "request": request.to_dict(),
            "settings": settings.model_dump(mode="json"),
            "build": build_id(),
        },
        timeout=SUBMIT_SECONDS,
    )


def running_workers() -> int | None:
    """How many validation workers of this user run on this machine (None: cannot tell here)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    uid, count = os.getuid(), 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # ended meanwhile, or not ours to read
            continue
        if WORKER_MODULE.encode() in command:
            count += 1
    return count


def room_for_another() -> bool:
    """A submission may start a worker: fewer than `MOST_WORKERS` of this user's run."""
    running = running_workers()
    return running is None or running < MOST_WORKERS


def start_detached(settings: Settings, catalog: str | Path) -> subprocess.Popen[bytes]:
    """Start a worker for this data folder in its own session, its output in worker.log."""
    root = settings.root
    root.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "COLLECTONCE_HOME": str(root),
        "COLLECTONCE_WORKER_IDLE_SECONDS": str(settings.worker_idle_seconds),
    }
    with open(log_path(settings), "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE, "--catalog", str(catalog)],
            cwd=os.getcwd(),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(
    settings: Settings, process: subprocess.Popen[bytes] | None, seconds: float
) -> dict[str, Any] | None:
    """Wait until the worker answers (its status) or `process` ends or time is up (None)."""
    deadline = time.monotonic() + seconds
    path = socket_path(settings)
    while time.monotonic() < deadline:
        status = ping(path)
        if status is not None:
            return status
        if process is not None and process.poll() is not None:
            return ping(path)
        time.sleep(0.05)
    return None


def stop(settings: Settings, seconds: float = 30.0) -> dict[str, Any] | None:
    """Ask the worker to stop and wait until its socket is gone; None when none answered."""
    path = socket_path(settings)
    answer = ask(path, {"op": "stop"})
    if answer is None:
        return None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and path.exists():
        time.sleep(0.05)
    return answer
