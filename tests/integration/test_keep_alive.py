"""`collectonce serve` keeps an idle connection open for COLLECTONCE_KEEP_ALIVE_SECONDS: longer
than an HTTP client's pool keeps it (httpx: 5 s), so a pooled client never sends a request on a
connection the server is closing (the client would see a reset, not an answer)."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import pytest


def _health(conn: http.client.HTTPConnection) -> int:
    conn.request("GET", "/health")
    response = conn.getresponse()
    response.read()
    return response.status


def test_the_default_outlasts_http_client_pools():
    from collectonce.settings import Settings

    assert Settings().keep_alive_seconds > 60


@pytest.mark.timeout(180)
def test_an_idle_connection_is_kept_for_the_set_time_then_closed(
    tmp_path: Path, catalog_min_dir: Path
) -> None:
    from collectonce.testing import start_server, stop_server

    home = tmp_path / "home"
    home.mkdir()
    env = {"COLLECTONCE_KEEP_ALIVE_SECONDS": "10", "COLLECTONCE_UPLOAD_PROCESSES": "0"}
    proc, base = start_server(home, catalog_min_dir, env=env)
    port = int(base.rsplit(":", 1)[1])
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    dropped = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        assert _health(kept) == 200 and _health(dropped) == 200
        time.sleep(6)  # past uvicorn's own default of 5 s
        assert _health(kept) == 200  # the same connection, still open
        assert kept.sock is not None
        time.sleep(12)  # past the 10 s set
        assert dropped.sock is not None
        dropped.sock.settimeout(5)
        assert dropped.sock.recv(1) == b""  # the server closed it
    finally:
        kept.close()
        dropped.close()
        stop_server(proc)
