"""`benchmarks/ingest.py` runs end to end on a small file: both arms, every stage, each figure
beside its target, in one JSON object (the figures themselves are the benchmark's, not a test's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_ingest_benchmark_reports_stages_and_targets(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ingest.py"), "--rows", "3000", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={
            **__import__("os").environ,
            "COLLECTONCE_HOME": str(tmp_path / "home"),
            "GX_ANALYTICS_ENABLED": "false",
        },
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["rows"] == 3000
    assert result["result"]["values_stored"] == 3000
    assert result["result"]["errors"] == 0
    assert list(result["stages_seconds"])[:4] == ["archive", "read", "validate", "store"]
    targets = result["targets"]
    assert targets["ratio_to_floor"]["target"] == 2.0
    assert targets["ratio_to_floor"]["figure"] == result["ratio_to_floor"]
    assert targets["peak_rss_mb"]["target"] == 2048
    assert targets["peak_rss_mb"]["met"] == (result["peak_rss_mb"] <= 2048)
