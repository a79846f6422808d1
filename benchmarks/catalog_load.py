"""Benchmark loading and checking a large catalogue, and the burden model over it.

The catalogue is synthetic, generated into a temporary folder: by default 1,000 metrics (a fifth
of them derived ratios), 200 requests from 20 requesters with overlapping items (popular metrics
are asked for by many requests, some items map to two metrics, a few are unmapped), 250
providers in 5 peer groups. `load_catalog` is timed with every cross-reference check; the target
is under 1 second.

    python benchmarks/catalog_load.py
    python benchmarks/catalog_load.py --metrics 1000 --requests 200 --json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collectonce.burden.model import compute_burden
from collectonce.catalog import load_catalog

TARGET_SECONDS = 1.0
DOMAINS = ("urgent_care", "elective", "cancer", "diagnostics", "workforce", "safety", "finance")
PEER_GROUPS = ("acute_large", "acute_medium", "acute_small", "specialist", "community")
PER_YEAR = {"month": 12, "quarter": 4, "year": 1}


def _metric_yaml(
    code: str, *, grain: str, derived: tuple[str, str] | None, rule: str | None
) -> str:
    lines = [
        f"code: {code}",
        f"label: Synthetic measure {code.replace('_', ' ')}",
        f"definition: A synthetic figure named {code}, counted for each provider and period.",
        "why_collected: Generated to measure how fast the catalogue loads and checks.",
    ]
    if derived:
        lines += [
            "unit: percent",
            "value_type: decimal",
            f"grain: {{entity: provider, period: {grain}}}",
            "valid: {min: 0, max: 100}",
            "zero_is_significant: true",
            "improvement_direction: increase",
            "target: {value: 95, comparison: gte, source: Synthetic standard}",
            f"derived: {{numerator: {derived[0]}, denominator: {derived[1]}, multiplier: 100}}",
        ]
    else:
        lines += [
            "unit: count",
            "value_type: integer",
            f"grain: {{entity: provider, period: {grain}}}",
            "valid: {min: 0, max: 1000000}",
            "zero_is_significant: true",
            "improvement_direction: neutral",
        ]
        if rule:
            lines.append(f"rules: [{{lte: {rule}}}]")
    lines.append("status: {state: active, version: 1, effective_from: 2016-04-01}")
    return "\n".join(lines) + "\n"


def generate_catalog(root: Path, n_metrics: int, n_requests: int, seed: int = 12) -> dict[str, int]:
    """Write a synthetic but valid catalogue folder; return its sizes."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "catalog.yaml").write_text(
        'name: synthetic\nversion: "0.0.0"\neffective_from: 2016-04-01\nhourly_cost_gbp: 35\n'
    )
    requesters = [f"body_{i:02d}" for i in range(20)]
    (root / "requesters.yaml").write_text(
        "requesters:\n" + "".join(f"  - {{code: {c}, name: Body {c[-2:]}}}\n" for c in requesters)
    )
    providers = [f"R{i:03d}" for i in range(250)]
    (root / "providers.csv").write_text(
        "ods_code,name,peer_group,region\n"
        + "".join(f"{p},Provider {p},{PEER_GROUPS[i % 5]},\n" for i, p in enumerate(providers))
    )
    (root / "targets.yaml").write_text(
        "targets:\n  - {measure: hours_reduction_pct, value: 25}\n"
        "  - {measure: unique_items_reduction_pct, value: 50}\n"
    )

    n_derived = n_metrics // 5
    collected: dict[str, list[str]] = {"month": [], "quarter": []}
    grain_of: dict[str, str] = {}
    derived_codes: list[str] = []
    for i in range(n_metrics - n_derived):
        grain = "quarter" if i % 10 == 0 else "month"
        code = f"m{i:04d}_{grain}"
        peers = collected[grain]
        rule = peers[-1] if peers and i % 3 == 0 else None
        domain = DOMAINS[i % len(DOMAINS)]
        path = root / "metrics" / domain / f"{code}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_metric_yaml(code, grain=grain, derived=None, rule=rule))
        collected[grain].append(code)
        grain_of[code] = grain
    for i in range(n_derived):
        grain = "quarter" if i % 10 == 0 else "month"
        num, den = rng.sample(collected[grain], 2)
        code = f"d{i:04d}_{grain}"
        path = root / "metrics" / DOMAINS[i % len(DOMAINS)] / f"{code}.yaml"
        path.write_text(_metric_yaml(code, grain=grain, derived=(num, den), rule=None))
        derived_codes.append(code)
        grain_of[code] = grain

    # Popular metrics are asked for by many requests (a Zipf-like weight), as in real registers.
    month_pool = collected["month"] + [d for d in derived_codes if grain_of[d] == "month"]
    all_pool = (
        month_pool + collected["quarter"] + [d for d in derived_codes if grain_of[d] == "quarter"]
    )
    weights = {
        code: 1.0 / (1 + k) ** 0.6 for k, code in enumerate(rng.sample(all_pool, len(all_pool)))
    }
    items_total = 0
    for r in range(n_requests):
        frequency = rng.choices(["month", "quarter", "year"], weights=[5, 4, 1])[0]
        pool = month_pool if frequency == "month" else all_pool
        n_items = rng.randint(10, 40)
        chosen = rng.choices(pool, weights=[weights[c] for c in pool], k=n_items * 2)
        chosen = list(dict.fromkeys(chosen))[:n_items]
        groups = "all" if r % 3 else f"[{', '.join(rng.sample(PEER_GROUPS, 2))}]"
        lines = [
            f"code: req_{r:03d}",
            f"requester: {requesters[r % len(requesters)]}",
            f"title: Synthetic request {r}",
            f"frequency: {frequency}",
            f"due_days_after_period: {rng.choice([10, 15, 20, 30])}",
            f"minutes_per_item: {rng.choice([3, 5, 8, 10, 15])}",
            f"respondents: {groups}",
            "items:",
        ]
        for k, code in enumerate(chosen):
            their = f"Q{k:03d}"
            if k % 29 == 28:
                lines.append(
                    f"  - {{their_code: {their}, their_label: Commentary {k}, "
                    "unmapped_reason: Free text}"
                )
            elif k % 17 == 16 and code.startswith("m") and grain_of[code] == "month":
                partner = rng.choice(collected["month"])
                if partner == code:
                    partner = (
                        collected["month"][0]
                        if code != collected["month"][0]
                        else (collected["month"][1])
                    )
                lines.append(
                    f"  - {{their_code: {their}, their_label: Combined item {k}, "
                    f"metrics: [{code}, {partner}]}}"
                )
            elif code.startswith("d") and PER_YEAR[grain_of[code]] > PER_YEAR[frequency]:
                # a percentage asked for a longer period is averaged, never added up
                lines.append(
                    f"  - {{their_code: {their}, their_label: Item {k}, metric: {code}, "
                    "transform: {aggregate: mean}}"
                )
            else:
                lines.append(f"  - {{their_code: {their}, their_label: Item {k}, metric: {code}}}")
            items_total += 1
        path = root / "requests" / requesters[r % len(requesters)] / f"req_{r:03d}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return {
        "metrics": n_metrics,
        "derived_metrics": n_derived,
        "requests": n_requests,
        "items": items_total,
        "requesters": len(requesters),
        "providers": len(providers),
    }


def _median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _profile(root: Path, limit: int = 12) -> list[dict[str, Any]]:
    """The functions with the most cumulative time in one profiled `load_catalog`."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(load_catalog, root)
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {"function": f"{Path(filename).name}:{line}({name})", "seconds": round(cumulative, 3)}
        )
    rows.sort(key=lambda row: -row["seconds"])
    return rows[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    parser.add_argument(
        "--profile", action="store_true", help="Also print where load_catalog spends its time."
    )
    args = parser.parse_args(argv)
    if args.metrics < 10 or args.requests < 1 or args.repeats < 1:
        parser.error("use at least 10 metrics, 1 request and 1 repeat")

    with tempfile.TemporaryDirectory(prefix="collectonce-bench-") as tmp:
        root = Path(tmp) / "catalog"
        start = time.perf_counter()
        sizes = generate_catalog(root, args.metrics, args.requests)
        generate_seconds = time.perf_counter() - start
        load_seconds, catalog = _median_time(lambda: load_catalog(root), args.repeats)
        burden_seconds, report = _median_time(lambda: compute_burden(catalog), args.repeats)
        profile = _profile(root) if args.profile else None
    burden = report.to_dict()
    result = {
        **sizes,
        "repeats": args.repeats,
        "seconds": {
            "generate": round(generate_seconds, 3),
            "load_catalog": round(load_seconds, 3),
            "compute_burden": round(burden_seconds, 3),
        },
        "target_load_seconds": TARGET_SECONDS,
        "load_within_target": load_seconds < TARGET_SECONDS,
        "hours_before": burden["hours_before"],
        "hours_after": burden["hours_after"],
        "python": platform.python_version(),
    }
    if profile is not None:
        result["profile_top"] = profile
    if args.json:
        print(json.dumps(result, indent=2))
        return 0

    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Catalogue of {sizes['metrics']:,} metrics, {sizes['requests']} requests, "
        f"{sizes['items']:,} items, {sizes['providers']} providers (median of {args.repeats})"
    )
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_column("target", justify="right")
    mark = "✓" if load_seconds < TARGET_SECONDS else "✗"
    table.add_row(
        "load_catalog + all checks", f"{load_seconds:.3f}", f"< {TARGET_SECONDS:g} {mark}"
    )
    table.add_row("compute_burden", f"{burden_seconds:.3f}", "")
    table.add_row("(generate the YAML, once)", f"{generate_seconds:.3f}", "")
    Console().print(table)
    if profile:
        top = Table(title="Where load_catalog spends its time (cumulative, one profiled run)")
        top.add_column("function")
        top.add_column("seconds", justify="right")
        for row in profile:
            top.add_row(row["function"], f"{row['seconds']:.3f}")
        Console().print(top)
    Console().print(
        f"burden: {burden['hours_before']:,.0f} h → {burden['hours_after']:,.0f} h a year "
        f"({burden['reduction_pct']:.1f}% less)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
