"""The deployments deploy to a real Prefect server, and a triggered run completes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _prefect(args: list[str], env: dict[str, str], timeout: int = 180) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_deploy_and_run_against_a_real_server(tmp_path: Path) -> None:
    """It starts a server on loopback, deploys every deployment, runs one through the API."""
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "COLLECTONCE_HOME": str(tmp_path / "home"),
        "COLLECTONCE_PROJECT_DIR": str(ROOT),
    }
    server_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    worker = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(1)
        else:
            pytest.fail("the Prefect server did not become healthy in 120 s")

        _prefect(["work-pool", "create", "collectonce", "--type", "process"], env)
        out = _prefect(
            ["--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--all"], env
        )
        assert "burden-monthly" in out

        deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
        names = {d["name"] for d in deployments}
        assert {"landing-watch", "publish-daily", "burden-monthly"} <= names
        scheduled = [d for d in deployments if d.get("schedules")]
        assert len(scheduled) >= 3

        burden = next(d for d in deployments if d["name"] == "burden-monthly")
        run = httpx.post(
            f"{api}/deployments/{burden['id']}/create_flow_run", json={}, timeout=10
        ).json()
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", "collectonce"],
            env=env,
            cwd=ROOT,
            stdout=(tmp_path / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        state = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            state = httpx.get(f"{api}/flow_runs/{run['id']}", timeout=10).json()["state"]
            if state["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
                break
            time.sleep(2)
        assert state is not None and state["type"] == "COMPLETED", (
            state,
            (tmp_path / "worker.log").read_text()[-3000:],
        )
        report = tmp_path / "home" / "reports"
        assert any(report.glob("burden*")), "the burden run wrote no report"
    finally:
        if worker is not None:
            _stop(worker, signal.SIGINT)
        _stop(server, signal.SIGTERM)
        log.close()
    assert server.poll() is not None
