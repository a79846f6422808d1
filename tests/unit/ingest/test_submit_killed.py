"""A process killed mid-ingest and run again loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = """
import sys
from pathlib import Path
from collectonce.catalog import load_catalog
from collectonce.ingest.service import submit_file
from collectonce.settings import get_settings
receipt = submit_file(Path(sys.argv[1]), load_catalog(sys.argv[2]), get_settings(home=sys.argv[3]))
print(receipt.status, receipt.values_stored)
"""


def big_file(catalog, path: Path, providers: int = 40, months: int = 96) -> Path:
    """A canonical long file of every collected monthly metric (values that pass every rule)."""
    codes = sorted(m.code for m in catalog.collected_metrics if m.grain.period == "month")
    orgs = sorted(catalog.providers)[:providers]
    lines = ["provider_code,period,metric_id,value"]
    for org in orgs:
        for i in range(months):
            period = f"{2016 + (i + 3) // 12}-{(i + 3) % 12 + 1:02d}"
            lines.extend(f"{org},{period},{code},{10 + i % 7}" for code in codes)
    path.write_text("\n".join(lines) + "\n")
    return path


def run(path: Path, catalog_dir: Path, home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(path), str(catalog_dir), str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLLECTONCE_HOME": str(home)},
    )


def stored(home: Path) -> tuple[int, int]:
    """(rows in the submissions table, distinct provider × period × metric keys)."""
    from collectonce.settings import get_settings
    from collectonce.store.submissions import _dataset

    dataset = _dataset(get_settings(home=home))
    if dataset is None:
        return 0, 0
    table = dataset.to_table(columns=["provider_code", "period", "metric_id"])
    keys = table.group_by(["provider_code", "period", "metric_id"]).aggregate([])
    return table.num_rows, keys.num_rows


def wait_for(predicate, timeout: float = 120.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.integration
@pytest.mark.parametrize("moment", ["archived", "reading", "committed"])
def test_a_killed_ingest_rerun_loses_and_duplicates_nothing(
    moment: str, shipped_catalog, shipped_catalog_dir: Path, tmp_path: Path
) -> None:
    """It ends with one receipt and every value stored exactly once, wherever it was killed."""
    path = big_file(shipped_catalog, tmp_path / "bulk__2016_2024.csv")
    reference = tmp_path / "reference"
    clean = run(path, shipped_catalog_dir, reference)
    out, err = clean.communicate(timeout=600)
    assert clean.returncode == 0, err
    expected_rows, expected_keys = stored(reference)
    assert expected_rows == expected_keys > 100_000

    home = tmp_path / "home"
    proc = run(path, shipped_catalog_dir, home)
    probes = {
        "archived": lambda: (home / "archive").is_dir() and any((home / "archive").rglob("*.json")),
        "reading": lambda: (home / "archive").is_dir() and any((home / "archive").rglob("*.json")),
        "committed": lambda: any((home / "tables").rglob("00000000000000000000.json")),
    }
    assert wait_for(lambda: probes[moment]() or proc.poll() is not None)
    if moment == "reading":
        time.sleep(1.0)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)

    again = run(path, shipped_catalog_dir, home)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert stored(home) == (expected_rows, expected_keys)
    assert len(list((home / "receipts").glob("*.json"))) == 1
    status, _values = out.split()
    assert status in ("accepted", "accepted_with_warnings", "duplicate")
