"""The deployments deploy to a real Prefect server, and a triggered run completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from collectonce.testing import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


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


def _wait_for(api: str, run_id: str, worker_log: Path, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{api}/flow_runs/{run_id}", timeout=30)
        except httpx.HTTPError:  # a busy server: ask again
            answer = None
        run = answer.json() if answer is not None and answer.status_code == 200 else {}
        if (run.get("state") or {}).get("type") in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return run
        time.sleep(2)
    pytest.fail(f"flow run {run_id} did not finish: {worker_log.read_text()[-3000:]}")


def _triggered_run(api: str, deployment_id: str, after: str, worker_log: Path) -> dict:
    """The first run of a deployment created after `after` (by its trigger, not by us)."""
    deadline = time.monotonic() + 120
    query = {
        "deployments": {"id": {"any_": [deployment_id]}},
        "flow_runs": {"expected_start_time": {"after_": after}},
    }
    while time.monotonic() < deadline:
        try:
            runs = httpx.post(f"{api}/flow_runs/filter", json=query, timeout=30).json()
        except httpx.HTTPError:
            runs = []
        if runs:
            return runs[0]
        time.sleep(2)
    pytest.fail(
        f"no run of deployment {deployment_id} was triggered: {worker_log.read_text()[-3000:]}"
    )


def test_deploy_and_run_against_a_real_server(tmp_path: Path) -> None:
    """It starts a server on loopback, deploys every deployment, runs one through the API, and
    sees runs with wrong parameters fail before any work with a message and an artifact."""
    port = free_port()
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
    # Deploying from a shell without COLLECTONCE_HOME: flow runs take the worker's.
    deploy_env = {k: v for k, v in env.items() if k != "COLLECTONCE_HOME"}
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

        _prefect(["work-pool", "create", "collectonce", "--type", "process"], deploy_env)
        out = _prefect(
            ["--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--all"],
            deploy_env,
        )
        assert "burden-monthly" in out

        deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
        names = {d["name"] for d in deployments}
        assert {"landing-watch", "publish-daily", "burden-monthly"} <= names
        scheduled = [d for d in deployments if d.get("schedules")]
        assert len(scheduled) >= 3
        triggered = {d["name"]: d["id"] for d in deployments if not d.get("schedules")}
        assert {"views-after-publication", "packs-after-publication"} <= set(triggered)

        by_name = {d["name"]: d for d in deployments}

        def start(name: str, parameters: dict) -> httpx.Response:
            # a busy SQLite server may answer 5xx for a moment: ask again, as a client would
            for _ in range(10):
                response = httpx.post(
                    f"{api}/deployments/{by_name[name]['id']}/create_flow_run",
                    json={"parameters": parameters},
                    timeout=30,
                )
                if response.status_code < 500:
                    return response
                time.sleep(2)
            return response

        def started(name: str, parameters: dict) -> dict:
            response = start(name, parameters)
            assert response.status_code in (200, 201), (name, response.status_code, response.text)
            return response.json()

        no_path = start("ingest-one-file", {})
        assert 400 <= no_path.status_code < 500 and "path" in no_path.text, no_path.text
        burden = started("burden-monthly", {})
        wrong_provider = started("packs-after-publication", {"providers": ["RF5"]})
        future = started("views-after-publication", {"period_from": "2999-01"})
        worker_log = tmp_path / "worker.log"
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", "collectonce"],
            env=env,
            cwd=ROOT,
            stdout=worker_log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        run = _wait_for(api, burden["id"], worker_log)
        assert run["state"]["type"] == "COMPLETED", (run["state"], worker_log.read_text()[-3000:])
        assert run["name"] == "report burden"
        report = tmp_path / "home" / "reports"
        assert any(report.glob("burden*")), "the burden run wrote no report in the worker's home"

        for bad, expected in (
            (wrong_provider, "unknown provider code(s) RF5 (did you mean RF4 or"),
            (future, "period_from 2999-01 is in the future"),
        ):
            run = _wait_for(api, bad["id"], worker_log)
            assert run["state"]["type"] == "FAILED", run["state"]
            assert expected in run["state"]["message"]
            flow_run = {"flow_runs": {"id": {"any_": [bad["id"]]}}}
            tasks = httpx.post(f"{api}/task_runs/filter", json=flow_run, timeout=10).json()
            assert tasks == [], "a run with wrong parameters must fail before any work"
            artifacts = httpx.post(
                f"{api}/artifacts/filter",
                json={"artifacts": {"flow_run_id": {"any_": [bad["id"]]}}},
                timeout=10,
            ).json()
            assert any(a["key"] == "failure" and expected in a["data"] for a in artifacts)

        # Views and packs run because a publication completed: the deployments' triggers on
        # the publish flow's completion event, not a schedule.
        sample = tmp_path / "rf4_rrk.csv"
        lines = (ROOT / "data" / "ae_attendances.csv").read_text().splitlines()
        sample.write_text(
            "\n".join([lines[0], *(x for x in lines[1:] if x.split(",")[1] in {"RF4", "RRK"})])
            + "\n"
        )
        ingest = started("ingest-one-file", {"path": str(sample)})
        run = _wait_for(api, ingest["id"], worker_log)
        assert run["state"]["type"] == "COMPLETED", (run["state"], worker_log.read_text()[-3000:])
        publish = started("publish-daily", {})
        run = _wait_for(api, publish["id"], worker_log)
        assert run["state"]["type"] == "COMPLETED", (run["state"], worker_log.read_text()[-3000:])
        published_at = run["end_time"]
        for name in ("views-after-publication", "packs-after-publication"):
            follow = _triggered_run(api, triggered[name], published_at, worker_log)
            done = _wait_for(api, follow["id"], worker_log)
            assert done["state"]["type"] == "COMPLETED", (name, done["state"])
        views = tmp_path / "home" / "views"
        assert (views / "nhse_ae_monthly.csv").is_file(), "the triggered views wrote no view"
        assert (tmp_path / "home" / "packs" / "RF4" / "RF4_pack.html").is_file()
        limits = httpx.post(f"{api}/v2/concurrency_limits/filter", json={}, timeout=10).json()
        assert any(limit["name"] == "delta-unified-writers" for limit in limits), limits
    finally:
        if worker is not None:
            _stop(worker, signal.SIGINT)
        _stop(server, signal.SIGTERM)
        log.close()
    assert server.poll() is not None
