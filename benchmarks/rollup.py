"""Benchmark rolling a publication up to regions and England.

A synthetic unified table is built from the shipped catalogue: every provider of
``providers.csv`` (times ``--scale``, each copy a new ODS code in the same region), every
active monthly collected metric, ``--months`` months of plausible counts, and the derived
metrics the publish stage computes from them (`build_unified`). Timed: `compute_levels`, the
work each publication adds (the level commit's write is small beside it).

    python benchmarks/rollup.py
    python benchmarks/rollup.py --scale 4 --months 60 --json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from collectonce.catalog import load_catalog
from collectonce.catalog.models import Provider
from collectonce.publish.unified import build_unified
from collectonce.rollup.aggregate import compute_levels

ROOT = Path(__file__).resolve().parents[1]


def synthetic(catalog_dir: Path, scale: int, months: int) -> tuple[Any, pd.DataFrame]:
    catalog = load_catalog(catalog_dir)
    providers = dict(catalog.providers)
    for k in range(1, scale):
        for ods, p in catalog.providers.items():
            code = f"{ods[:3]}{k:03d}"[:6]
            providers[code] = Provider(ods_code=code, name="", peer_group=p.peer_group,
                                       region=p.region)  # fmt: skip
    catalog = dataclasses.replace(catalog, providers=providers)
    metrics = [
        m.code for m in catalog.collected_metrics if m.grain.period == "month" and m.unit == "count"
    ]
    rng = np.random.default_rng(7)
    codes = np.array(sorted(providers), dtype=object)
    periods = pd.date_range("2016-04-01", periods=months, freq="MS")
    n = len(codes) * len(periods) * len(metrics)
    frame = pd.DataFrame(
        {
            "provider_code": np.repeat(codes, len(periods) * len(metrics)),
            "period": np.tile(np.repeat(periods.to_numpy(), len(metrics)), len(codes)),
            "metric_id": np.tile(np.array(metrics, dtype=object), len(codes) * len(periods)),
            "value": rng.integers(0, 5000, n).astype("float64"),
            "value_status": "reported",
            "comment": None,
            "submission_id": "bench",
            "file_sha256": "0" * 64,
            "revision": 1,
            "source_row": 1,
            "received_at": pd.Timestamp("2026-01-01", tz="UTC"),
        }
    )
    return catalog, build_unified(catalog, frame)


def run(catalog_dir: Path, scale: int, months: int) -> dict[str, Any]:
    catalog, unified = synthetic(catalog_dir, scale, months)
    times = []
    for _ in range(3):  # the median of three runs
        start = time.perf_counter()
        levels = compute_levels(catalog, unified)
        times.append(time.perf_counter() - start)
    seconds = sorted(times)[1]
    tracemalloc.start()  # a separate run: tracing allocations slows them down
    compute_levels(catalog, unified)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "providers": int(unified["provider_code"].nunique()),
        "months": months,
        "metrics": int(unified["metric_id"].nunique()),
        "unified_rows": len(unified),
        "level_rows": len(levels),
        "seconds": round(seconds, 2),
        "rows_per_second": round(len(unified) / seconds),
        "peak_python_mb": round(peak / 2**20, 1),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=ROOT / "catalog")
    parser.add_argument("--scale", type=int, default=1, help="copies of every provider")
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args.catalog, args.scale, args.months)
    if args.json:
        print(json.dumps(result))
        return 0
    width = max(len(k) for k in result)
    print("roll-ups of one publication to regions and England")
    for key, value in result.items():
        print(
            f"  {key:<{width}}  {value:,}"
            if isinstance(value, int)
            else f"  {key:<{width}}  {value}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
