"""The README's performance table is the one `benchmarks/all.py` writes from the kept results."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALL = ROOT / "benchmarks" / "all.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_all", ALL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_readme_table_matches_the_kept_results() -> None:
    done = subprocess.run(
        [sys.executable, str(ALL), "--table"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert done.stdout.strip() in readme, "run: python benchmarks/all.py --table --write-readme"


def test_each_row_has_figure_floor_ratio_and_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = _load()
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    kept = {
        "command": "python benchmarks/small_submit.py --runs 3",
        "measured_at": "2026-12-05 14:00 UTC",
        "load_average": [0.5, 0.4, 0.3],
        "cpus": 2,
        "result": {
            "cli_median_s": 1.4,
            "cli_cpu_median_s": 1.3,
            "api_median_ms": 120.0,
            "help_s": {"collectonce --help": 0.25},
            "help_median_s": 0.25,
            "help_max_s": 0.25,
            "python_floor_s": 0.02,
            "pyarrow_read_floor_s": 0.3,
            "cli_floor_s": 0.25,
            "cli_ratio_to_floor": 5.6,
        },
    }
    (tmp_path / "small_submit.json").write_text(json.dumps(kept))
    rows = bench.table(bench.kept_results()).splitlines()
    assert len(rows) == 2 + len(bench.BENCHMARKS)
    small = next(r for r in rows if "50-value" in r)
    assert "CLI 1.4 s" in small and "120 ms" in small and "5.6×" in small
    assert "`python benchmarks/small_submit.py --runs 3`" in small
    assert "0.5, 0.4, 0.3 on 2 cores" in small
    missing = next(r for r in rows if "ingest 10 million" in r)
    assert "not yet measured" in missing and "--rows 10000000" in missing
