"""Benchmark the duplicate-request engine: quality on labelled public items, and speed at scale.

Quality is measured on `tests/data/dedupe_devset.csv` (real item labels from published returns,
standards and board reports, each labelled with a concept id; the rules and thresholds were
chosen on it), on `tests/data/dedupe_holdout.csv` (labels in other wording; no threshold was
chosen on it), and on the shipped catalogue's declared mappings (two items mapped to the same metric
by different requests are a true duplicate). Two items of different requests with the same
concept are a true pair. For each set it reports precision, recall and F1:

* pairs, duplicate only and review-or-duplicate;
* clusters: the pairs a clustering implies (every two members of a cluster), duplicate clusters
  only and all clusters.

Speed: a synthetic register of 10,000 items (500 requests of 20 items, labels drawn from the
two labelled sets and varied in case, abbreviation and suffix) through the whole engine,
blocking included; the target is under 10 seconds on 2 cores.

    python benchmarks/dedupe.py
    python benchmarks/dedupe.py --items 10000 --json
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import random
import time
from pathlib import Path
from typing import Any

from collectonce.catalog import load_catalog
from collectonce.dedupe.engine import DedupeResult, run_dedupe
from collectonce.dedupe.items import DedupeItem, catalog_items, catalog_metrics
from collectonce.dedupe.rules import Rules, load_rules

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
TARGET_SECONDS = 10.0
TARGETS = {"duplicate_recall": 0.6, "duplicate_precision": 0.7, "review_or_duplicate_recall": 0.9}


def read_labelled(path: Path) -> tuple[list[DedupeItem], list[str]]:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    items = [
        DedupeItem(
            requester=r["requester"],
            request=r["request"],
            item_code=r["item_code"],
            label=r["label"],
            definition=r.get("definition", ""),
            unit=r.get("unit", ""),
            frequency=r.get("frequency", ""),
            origin="register",
            context=r["request"].replace("_", " "),
        )
        for r in rows
    ]
    return items, [r["concept_id"] for r in rows]


def _prf(predicted: set[tuple[int, int]], truth: set[tuple[int, int]]) -> dict[str, float]:
    hit = len(predicted & truth)
    p = hit / len(predicted) if predicted else 0.0
    r = hit / len(truth) if truth else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(p, 3),
        "recall": round(r, 3),
        "f1": round(f, 3),
        "pairs": len(predicted),
    }


def _cluster_pairs(result: DedupeResult, decision: str | None) -> set[tuple[int, int]]:
    out = set()
    for c in result.clusters:
        if decision and c.decision != decision:
            continue
        for a, b in itertools.combinations(sorted(c.members), 2):
            if result.items[a].request != result.items[b].request:
                out.add((a, b))
    return out


def evaluate(
    items: list[DedupeItem], concepts: list[str | None], rules: Rules, metrics=()
) -> dict[str, Any]:
    start = time.perf_counter()
    result = run_dedupe(items, list(metrics), rules)
    seconds = time.perf_counter() - start
    labelled = [i for i, c in enumerate(concepts) if c]
    truth = {
        (a, b)
        for a, b in itertools.combinations(labelled, 2)
        if items[a].request != items[b].request and concepts[a] == concepts[b]
    }
    scope = set(labelled)

    def keep(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
        return {p for p in pairs if p[0] in scope and p[1] in scope}

    dup = keep({(p.a, p.b) for p in result.pairs if p.decision == "duplicate"})
    anyp = keep({(p.a, p.b) for p in result.pairs})
    return {
        "items": len(items),
        "true_pairs": len(truth),
        "seconds": round(seconds, 3),
        "pairs_duplicate": _prf(dup, truth),
        "pairs_review_or_duplicate": _prf(anyp, truth),
        "clusters_duplicate": _prf(keep(_cluster_pairs(result, "duplicate")), truth),
        "clusters_all": _prf(keep(_cluster_pairs(result, None)), truth),
    }


def declared_mappings(rules: Rules) -> dict[str, Any]:
    """The shipped catalogue: items mapped to one metric are labelled by it; sums are left out."""
    catalog = load_catalog(ROOT / "catalog")
    items = catalog_items(catalog)
    concepts = [i.metric if i.metric and "+" not in i.metric else None for i in items]
    # The engine must not see the mappings it is judged on.
    blind = [DedupeItem(**{**i.__dict__, "metric": None}) for i in items]
    return evaluate(blind, concepts, rules, catalog_metrics(catalog))


_VARIANTS = (
    lambda s: s,
    str.upper,
    str.lower,
    lambda s: s + " (monthly)",
    lambda s: s.replace("percentage", "%").replace("Percentage", "%"),
    lambda s: s.replace("weeks", "wks").replace("hours", "hrs"),
    lambda s: "Trust total: " + s,
    lambda s: s.replace("Number of", "No. of"),
)


def synthetic_register(n: int, seed: int = 7) -> list[DedupeItem]:
    """n items in requests of 20, labels drawn from the labelled sets and varied."""
    rng = random.Random(seed)
    pool = [
        i
        for path in ("dedupe_devset.csv", "dedupe_holdout.csv")
        for i in read_labelled(DATA / path)[0]
    ]
    out = []
    for k in range(n):
        base = rng.choice(pool)
        label = rng.choice(_VARIANTS)(base.label)
        request = f"request_{k // 20:04d}"
        out.append(
            DedupeItem(
                requester=f"body_{(k // 20) % 37:02d}",
                request=request,
                item_code=f"I{k % 20:02d}",
                label=label,
                unit=base.unit,
                origin="register",
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="Size of the synthetic register.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    args = parser.parse_args(argv)
    if args.items < 100:
        parser.error("use at least 100 items")
    rules = load_rules(ROOT / "catalog")
    result: dict[str, Any] = {"thresholds": rules.spec.thresholds.model_dump(), "targets": TARGETS}
    for name in ("dedupe_devset.csv", "dedupe_holdout.csv"):
        items, concepts = read_labelled(DATA / name)
        result[name.removesuffix(".csv")] = evaluate(items, concepts, rules)
    result["catalogue_declared_mappings"] = declared_mappings(rules)
    catalog = load_catalog(ROOT / "catalog")
    register = synthetic_register(args.items)
    start, cpu = time.perf_counter(), time.process_time()
    big = run_dedupe(register, catalog_metrics(catalog), rules)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    result["scale"] = {
        "items": len(register),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "candidate_pairs": big.stats["candidate_pairs"],
        "all_pairs": len(register) * (len(register) - 1) // 2,
        "pairs_kept": len(big.pairs),
        "clusters": len(big.clusters),
        "target_seconds": TARGET_SECONDS,
        "within_target": seconds < TARGET_SECONDS,
    }
    result["python"] = platform.python_version()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0

    from rich.console import Console
    from rich.table import Table

    console = Console(width=140)
    table = Table(title="Duplicate requests: precision / recall / F1")
    for column in (
        "set",
        "items",
        "true pairs",
        "pairs: duplicate",
        "pairs: review or duplicate",
        "clusters: duplicate",
        "clusters: all",
    ):
        table.add_column(column, justify="left" if column == "set" else "right")

    def cell(d: dict[str, float]) -> str:
        return f"{d['precision']:.2f} / {d['recall']:.2f} / {d['f1']:.2f}"

    for name in ("dedupe_devset", "dedupe_holdout", "catalogue_declared_mappings"):
        r = result[name]
        table.add_row(
            name,
            str(r["items"]),
            str(r["true_pairs"]),
            cell(r["pairs_duplicate"]),
            cell(r["pairs_review_or_duplicate"]),
            cell(r["clusters_duplicate"]),
            cell(r["clusters_all"]),
        )
    console.print(table)
    s = result["scale"]
    mark = "[green]✓[/]" if s["within_target"] else "[red]✗[/]"
    console.print(
        f"{s['items']:,} items: {s['seconds']:.2f} s {mark} (target < {TARGET_SECONDS:g} s; "
        f"{s['cpu_seconds']:.2f} s of CPU, load average {s['load_average_1min']}); "
        f"{s['candidate_pairs']:,} candidate pairs scored of {s['all_pairs']:,} possible; "
        f"{s['pairs_kept']:,} pairs kept, {s['clusters']:,} clusters."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
