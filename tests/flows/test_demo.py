"""`collectonce demo` runs the whole mission on the bundled real data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """It ingests, publishes twice (a late revision), builds packs and reports burden."""
    home = tmp_path / "home"
    env = {**os.environ, "COLLECTONCE_HOME": str(home)}
    env.pop("PREFECT_HOME", None)
    env.pop("COLLECTONCE_PREFECT_HOME_DEFAULTED", None)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "collectonce"), "demo", "--months", "1", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["receipts"].get("accepted", 0) > 200
    assert result["publication"]["version"] == 1
    assert result["publication"]["counts"]["revised"] >= 1
    assert result["burden"]["hours_after"] < result["burden"]["hours_before"]
    pack = home / "packs" / "RRK" / "RRK_pack.html"
    assert pack.exists() and "RRK" in pack.read_text()
    assert (home / "prefect").is_dir(), "Prefect state must live under the data folder"
    assert any((home / "archive").rglob("*")), "every received file is archived"
