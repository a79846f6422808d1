"""Benchmark the vectorised SPC engine against the per-series loop.

Synthetic series shaped like monthly A&E returns: providers x metrics x 36 months, count-like
values (ties included), step changes and trends in some series, a few suppressed (missing)
months, a few rebased series, per-metric improvement directions and some targets. Rows
arrive month by month (as submissions do), so the engine has to sort them.

    python benchmarks/spc.py                    # 2,000 x 300 x 36 = 21.6M points
    python benchmarks/spc.py --points 1000000 --json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from collectonce.feedback.spc import compute_spc, summarise_spc

# The per-point loop reference lives with the tests it checks the engine in.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "feedback"))
from spc_reference import compute_spc_loop

MONTHS = 36
DEFAULT_PROVIDERS = 2_000
DEFAULT_METRICS = 300
LOOP_SAMPLE_SERIES = 300
LOOP_REPEATS = 3


@dataclass
class Synthetic:
    frame: pd.DataFrame
    rebase: dict[tuple[str, str], list[pd.Timestamp]]
    n_series: int


@dataclass
class Report:
    points: int
    series: int
    seconds: float
    cpu_seconds: float
    summary_seconds: float
    points_per_second: float
    loop_points: int
    loop_seconds: float
    loop_seconds_extrapolated: float
    speedup_vs_loop: float
    special_cause_points: int
    peak_rss_mb: float
    cpus: int
    load_average: float
    python: str
    numpy: str
    pandas: str


def make_series(points: int, seed: int = 20240401) -> Synthetic:
    """Synthetic long frame with about `points` rows, in month-major (submission) order."""
    rng = np.random.default_rng(seed)
    n_series = max(1, math.ceil(points / MONTHS))
    n_metrics = min(DEFAULT_METRICS, n_series)
    n_providers = math.ceil(n_series / n_metrics)
    n_series = n_providers * n_metrics

    level = np.exp(rng.normal(6.0, 1.5, n_series))  # counts from a handful to ~100k
    noise = rng.normal(0.0, 0.08, (MONTHS, n_series))
    month = np.arange(MONTHS)[:, None]
    season = 0.05 * np.sin(2 * np.pi * month / 12 + rng.uniform(0, 2 * np.pi, n_series))
    shift_at = rng.integers(6, MONTHS, n_series)
    shift = np.where(rng.random(n_series) < 0.2, rng.normal(0.0, 0.25, n_series), 0.0)
    slope = np.where(rng.random(n_series) < 0.05, rng.normal(0.0, 0.01, n_series), 0.0)
    factor = 1.0 + season + noise + shift * (month >= shift_at) + slope * month
    values = np.round(level * np.clip(factor, 0.05, None))
    values[rng.random(values.shape) < 0.002] = np.nan  # suppressed months

    series = np.tile(np.arange(n_series, dtype=np.int64), MONTHS)
    provider_codes = (series // n_metrics).astype(np.int16)
    metric_codes = (series % n_metrics).astype(np.int16)
    providers = [f"P{i:05d}" for i in range(n_providers)]
    metrics = [f"M{i:03d}" for i in range(n_metrics)]
    start = np.datetime64("2016-04", "M")
    months = (start + np.arange(MONTHS)).astype("datetime64[ns]")
    metric_direction = rng.choice(
        np.array([0, 1, 2], dtype=np.int8), n_metrics, p=[0.45, 0.1, 0.45]
    )
    has_target = rng.random(n_metrics) < 0.1
    series_target = np.where(has_target[np.arange(n_series) % n_metrics], level * 1.05, np.nan)

    frame = pd.DataFrame(
        {
            "provider": pd.Categorical.from_codes(provider_codes, providers),
            "metric": pd.Categorical.from_codes(metric_codes, metrics),
            "date": np.repeat(months, n_series),
            "value": values.ravel(),
            "direction": pd.Categorical.from_codes(
                metric_direction[metric_codes], ["decrease", "neutral", "increase"]
            ),
            "target": series_target[series],
        },
        copy=False,
    )
    rebased = rng.choice(n_series, max(1, n_series // 200), replace=False)
    when = rng.integers(12, MONTHS - 6, len(rebased))
    rebase = {
        (providers[s // n_metrics], metrics[s % n_metrics]): [pd.Timestamp(months[w])]
        for s, w in zip(rebased.tolist(), when.tolist(), strict=True)
    }
    return Synthetic(frame, rebase, n_series)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(points: int, loop_series: int = LOOP_SAMPLE_SERIES) -> Report:
    data = make_series(points)
    df = data.frame
    options = {
        "series_cols": ["provider", "metric"],
        "direction_col": "direction",
        "target_col": "target",
        "rebase": data.rebase,
    }

    started, cpu_started = time.perf_counter(), time.process_time()
    result = compute_spc(df, **options)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started

    started = time.perf_counter()
    summarise_spc(result, series_cols=["provider", "metric"])
    summary_seconds = time.perf_counter() - started
    special = int(result["special_cause_flag"].sum())
    del result

    # the loop on a random sample of whole series; best of a few runs after a warm-up
    rng = np.random.default_rng(7)
    sample = rng.choice(data.n_series, min(loop_series, data.n_series), replace=False)
    n_metrics = len(df["metric"].cat.categories)
    series_id = df["provider"].cat.codes.to_numpy(np.int64) * n_metrics
    series_id += df["metric"].cat.codes.to_numpy(np.int64)
    subset = df[np.isin(series_id, sample)].copy()
    keys = set(zip(subset["provider"].astype(str), subset["metric"].astype(str), strict=True))
    loop_options = {**options, "rebase": {k: v for k, v in data.rebase.items() if k in keys}}
    compute_spc_loop(subset.iloc[: MONTHS * 2], **{**loop_options, "rebase": None})
    loop_seconds = math.inf
    for _ in range(LOOP_REPEATS):
        started = time.perf_counter()
        compute_spc_loop(subset, **loop_options)
        loop_seconds = min(loop_seconds, time.perf_counter() - started)
    extrapolated = loop_seconds / len(subset) * len(df)

    return Report(
        points=len(df),
        series=data.n_series,
        seconds=round(seconds, 3),
        cpu_seconds=round(cpu_seconds, 3),
        summary_seconds=round(summary_seconds, 3),
        points_per_second=round(len(df) / seconds),
        loop_points=len(subset),
        loop_seconds=round(loop_seconds, 3),
        loop_seconds_extrapolated=round(extrapolated, 1),
        speedup_vs_loop=round(extrapolated / seconds, 1),
        special_cause_points=special,
        peak_rss_mb=round(_peak_rss_mb(), 1),
        cpus=os.cpu_count() or 1,
        load_average=round(os.getloadavg()[0], 2),
        python=platform.python_version(),
        numpy=np.__version__,
        pandas=pd.__version__,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--points",
        type=int,
        default=DEFAULT_PROVIDERS * DEFAULT_METRICS * MONTHS,
        help="number of points (rounded up to whole 36-month series)",
    )
    parser.add_argument("--loop-series", type=int, default=LOOP_SAMPLE_SERIES)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.points < 1 or args.loop_series < 1:
        parser.error("--points and --loop-series must be positive")
    report = run(args.points, args.loop_series)
    if args.json:
        print(json.dumps(asdict(report)))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="SPC engine benchmark")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in asdict(report).items():
        table.add_row(name, f"{value:,}" if isinstance(value, int | float) else str(value))
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
