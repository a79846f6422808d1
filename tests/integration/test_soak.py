"""The soak's short version: providers upload real-shaped files (CSV, XLSX from openpyxl and
pandas, Parquet, JSON) through the real server while regulators pull, with a publish in the
middle; nothing is lost, nothing is stored twice, and every answer is a success.

Timing figures stay in ``benchmarks/soak.py``; this test asserts correctness only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)
def test_short_soak_has_no_errors_and_reconciles(tmp_path: Path) -> None:
    """Ten seconds of 8 uploaders and 6 pullers against `collectonce serve`: 0 errors, every
    upload answered with a listed receipt, each resent file a duplicate, and the published
    table holding each accepted fact once, as sent, with as many rows as the receipts stored."""
    env = {
        **os.environ,
        "GX_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    command = [sys.executable, str(ROOT / "benchmarks" / "soak.py")]
    command += ["--uploaders", "8", "--pullers", "6", "--duration", "10"]
    command += ["--home", str(tmp_path / "home"), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=850)
    assert done.stdout.strip(), done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["errors"] == 0, report["error_samples"]
    assert report["reconciled"] is True, report["reconcile_problems"]
    assert report["uploads"] >= 8  # every uploader was answered at least once
    assert report["duplicates_answered"] == 8  # each uploader's resend came back as duplicate
    assert report["pulls"] > 0
    assert report["duplicate_keys"] == 0 and report["facts_missing"] == 0
    assert report["published_collected_rows"] == report["receipts_values_stored"]
    assert done.returncode == 0
    for key in ("upload_p99_ms", "pull_p99_ms", "peak_rss_mb"):
        assert report[key] > 0
