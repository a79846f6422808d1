"""Scale-out: SPC across providers on a Dask cluster through prefect-dask, one worker vs two.

Synthetic monthly series shaped like the A&E data are written as one Parquet file per batch of
providers (as a partitioned table would be). A Prefect flow maps one task per batch, each reading
its file, computing Making Data Count SPC for every series in it, and writing the result. The
same flow runs on a local Dask cluster with one worker and then with two; the speed-up is the
ratio of the flow body times. Cluster start-up is reported apart.

    python benchmarks/scaleout.py [--providers 2000] [--metrics 40] [--months 36] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

import numpy as np
import pandas as pd


def make_batches(
    folder: Path, providers: int, metrics: int, months: int, batches: int
) -> list[str]:
    rng = np.random.default_rng(7)
    dates = pd.date_range("2016-04-01", periods=months, freq="MS")
    paths = []
    per_batch = max(1, providers // batches)
    for b in range(batches):
        n = per_batch * metrics
        level = rng.lognormal(8, 1, n)
        values = level[:, None] * (1 + rng.normal(0, 0.08, (n, months)))
        frame = pd.DataFrame(
            {
                "series": np.repeat(np.arange(n, dtype=np.int32) + b * n, months),
                "date": np.tile(dates.values, n),
                "value": values.ravel(),
            }
        )
        path = folder / f"batch_{b:03d}.parquet"
        frame.to_parquet(path, index=False)
        paths.append(str(path))
    return paths


def run(paths: list[str], workers: int) -> dict[str, float]:
    from prefect import flow, task
    from prefect_dask import DaskTaskRunner

    @task(name="spc-batch")
    def spc_batch(path: str) -> int:
        from collectonce.feedback.spc import compute_spc

        frame = pd.read_parquet(path)
        points = compute_spc(frame, series_cols=["series"], direction="decrease")
        points[["series", "date", "mean", "lpl", "upl", "point_type"]].to_parquet(
            path.replace(".parquet", ".spc.parquet"), index=False
        )
        return len(points)

    timings: dict[str, float] = {}

    @flow(
        name="scaleout-spc",
        task_runner=DaskTaskRunner(
            cluster_kwargs={
                "n_workers": workers,
                "threads_per_worker": 1,
                "processes": True,
                "silence_logs": logging.WARNING,
            }
        ),
    )
    def spc_flow(paths: list[str]) -> int:
        t0 = time.perf_counter()
        total = sum(f.result() for f in spc_batch.map(paths))
        timings["body"] = time.perf_counter() - t0
        return total

    t0 = time.perf_counter()
    points = spc_flow(paths)
    timings["total"] = time.perf_counter() - t0
    timings["points"] = points
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=2000)
    parser.add_argument("--metrics", type=int, default=40)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("PREFECT_HOME", str(Path(tmp) / "prefect"))
        paths = make_batches(Path(tmp), args.providers, args.metrics, args.months, args.batches)
        one = run(paths, 1)
        two = run(paths, 2)
    result = {
        "points": int(one["points"]),
        "batches": args.batches,
        "one_worker_s": round(one["body"], 2),
        "two_workers_s": round(two["body"], 2),
        "speedup": round(one["body"] / two["body"], 2),
        "one_worker_total_s": round(one["total"], 2),
        "two_workers_total_s": round(two["total"], 2),
        "cores": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{'measure':<28}{'value':>14}")
    for key, value in result.items():
        print(f"{key:<28}{value:>14}")


if __name__ == "__main__":
    main()
