"""Run a real `collectonce serve` in a child process, as the tests and benchmarks do.

    with served(home, catalog_dir) as base:
        urllib.request.urlopen(f"{base}/health")

The server binds 127.0.0.1 on a free port, its output goes to ``server.log`` in ``home`` (or
the given log), and it is stopped with SIGINT (SIGKILL after a grace period) however the block
ends. Only the standard library is used, so this module costs nothing to import.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from collectonce.errors import ApiError

__all__ = [
    "ServerFailedError",
    "free_port",
    "served",
    "start_server",
    "stop_server",
    "wait_until_warm",
]


class ServerFailedError(ApiError, RuntimeError):
    """The server exited, or did not answer ``/health`` in time; the message ends with its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return "\n" + log.read_text(errors="replace")[-3000:]


def start_server(
    home: Path,
    catalog_dir: Path,
    *,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    log: Path | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 120,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `collectonce serve` on ``home``, wait for ``/health``; (process, base URL).

    ``log=None`` writes the server's output to ``home / "server.log"``.
    """
    port = free_port() if port is None else port
    log = home / "server.log" if log is None else log
    command = [sys.executable, "-m", "collectonce.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--catalog", str(catalog_dir), "--log-level", "warning"]
    command += list(extra_args)
    child_env = {**os.environ, **(env or {}), "COLLECTONCE_HOME": str(home)}
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=child_env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while not _healthy(base):
        if proc.poll() is not None:
            raise ServerFailedError(f"the server exited with status {proc.returncode}{_tail(log)}")
        if time.monotonic() > deadline:
            stop_server(proc)
            raise ServerFailedError(f"the server did not answer in {timeout_s:.0f} s{_tail(log)}")
        time.sleep(0.2)
    return proc, base


def wait_until_warm(base: str, timeout_s: float = 180) -> dict[str, object]:
    """The server's ``/health`` once it says uploads are checked at full speed (its upload
    processes, or the server itself, warmed up); raises `ServerFailedError` after ``timeout_s``."""
    import json

    deadline = time.monotonic() + timeout_s
    while True:
        with urllib.request.urlopen(f"{base}/health", timeout=30) as response:
            health = json.loads(response.read())
        if health.get("uploads_ready"):
            return dict(health)
        if time.monotonic() > deadline:
            raise ServerFailedError(f"upload processes not warm in {timeout_s:.0f} s: {health}")
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen[bytes], grace_s: float = 20) -> None:
    """Stop the server as Ctrl+C would, then kill it if it has not gone after ``grace_s``."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def served(
    home: Path,
    catalog_dir: Path,
    *,
    extra_args: Sequence[str] = (),
    log: Path | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 120,
) -> Iterator[str]:
    """`collectonce serve` for the length of a ``with`` block; yields its base URL."""
    proc, base = start_server(
        home, catalog_dir, extra_args=extra_args, log=log, env=env, timeout_s=timeout_s
    )
    try:
        yield base
    finally:
        stop_server(proc)
