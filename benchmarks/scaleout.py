"""Scale-out: the heavy tasks on a Dask cluster through prefect-dask, one worker vs two.

Three workloads, each run on a local Dask cluster with one worker and then with two; the
speed-up is the ratio of the flow body times (cluster start-up is reported apart):

- ``spc``: synthetic monthly series shaped like the A&E data, one Parquet file per batch of
  providers; one task per batch computes Making Data Count SPC for every series in it.
- ``landing``: the project's ``watch_landing`` flow validating and storing provider files made
  from the bundled A&E data, in batches.
- ``packs``: the project's ``send_provider_feedback`` flow building every provider's pack (SPC
  across providers) from one publication.

    python benchmarks/scaleout.py [--only spc,landing,packs] [--providers 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the flows/ package sits beside src/ and is not installed

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # no cluster start/stop chatter


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


def _flows_runner(workers: int):
    from flows.feedback import task_runner_for

    return task_runner_for(True, None, workers)


def landing_home(tmp: Path, months: int) -> Path:
    """A data folder whose landing folder holds the demo's provider files."""
    from collectonce.catalog import load_catalog
    from collectonce.demo_data import generate_demo_files

    home = tmp / "landing-template"
    catalog = load_catalog(ROOT / "catalog")
    generate_demo_files(
        ROOT / "data" / "ae_attendances.csv",
        catalog,
        home / "landing",
        tmp / "later",
        monthly_months=months,
    )
    return home


def run_landing(template: Path, tmp: Path, workers: int, batches: int) -> dict[str, float]:
    import shutil

    from flows.ingest import watch_landing

    home = tmp / f"landing-{workers}"
    shutil.copytree(template, home)
    files = len(list((home / "landing").iterdir()))
    flow = watch_landing.with_options(task_runner=_flows_runner(workers))
    t0 = time.perf_counter()
    receipts = flow(
        catalog_dir=str(ROOT / "catalog"),
        home=str(home),
        files_per_task=max(1, -(-files // batches)),
    )
    return {"total": time.perf_counter() - t0, "files": len(receipts)}


def packs_home(tmp: Path) -> Path:
    """A data folder with the demo's files ingested and published once."""
    from collectonce.catalog import load_catalog
    from collectonce.ingest.landing import ingest_landing
    from collectonce.rollup.publishing import publish_all as publish
    from collectonce.settings import Settings

    home = landing_home(tmp, 3)
    catalog = load_catalog(ROOT / "catalog")
    settings = Settings(home=home)
    ingest_landing(catalog, settings)
    publish(catalog, settings)
    return home


def run_packs(home: Path, workers: int, batches: int) -> dict[str, float]:
    from flows.feedback import send_provider_feedback

    providers = 274
    flow = send_provider_feedback.with_options(task_runner=_flows_runner(workers))
    t0 = time.perf_counter()
    result = flow(
        changed_only=False,
        chunk_size=max(1, -(-providers // batches)),
        catalog_dir=str(ROOT / "catalog"),
        home=str(home),
    )
    return {"total": time.perf_counter() - t0, "packs": result["built"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=2000)
    parser.add_argument("--metrics", type=int, default=40)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--landing-months", type=int, default=6)
    parser.add_argument("--only", default="spc,landing,packs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    only = set(args.only.split(","))
    rows: list[dict[str, object]] = []

    def row(name: str, size: str, one: float, two: float) -> None:
        rows.append(
            {
                "workload": name,
                "size": size,
                "one_worker_s": round(one, 2),
                "two_workers_s": round(two, 2),
                "speedup": round(one / two, 2),
            }
        )

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ.setdefault("PREFECT_HOME", str(tmp / "prefect"))
        if "spc" in only:
            paths = make_batches(tmp, args.providers, args.metrics, args.months, args.batches)
            one, two = run(paths, 1), run(paths, 2)
            row("spc", f"{int(one['points']):,} points", one["body"], two["body"])
        if "landing" in only:
            template = landing_home(tmp, args.landing_months)
            one = run_landing(template, tmp, 1, args.batches)
            two = run_landing(template, tmp, 2, args.batches)
            row("landing", f"{int(one['files'])} files", one["total"], two["total"])
        if "packs" in only:
            home = packs_home(tmp)
            one, two = run_packs(home, 1, args.batches), run_packs(home, 2, args.batches)
            row("packs", f"{int(one['packs'])} packs", one["total"], two["total"])
    if args.json:
        print(json.dumps({"cores": os.cpu_count(), "results": rows}))
        return
    print(f"{'workload':<10}{'size':>20}{'1 worker s':>12}{'2 workers s':>13}{'speed-up':>10}")
    for r in rows:
        print(
            f"{r['workload']:<10}{r['size']:>20}{r['one_worker_s']:>12}"
            f"{r['two_workers_s']:>13}{r['speedup']:>10}"
        )
    print(f"(on {os.cpu_count()} cores; landing and packs include Dask cluster start-up)")


if __name__ == "__main__":
    main()
