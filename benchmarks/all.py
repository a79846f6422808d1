"""Run the benchmarks and write the README's performance table from their latest figures.

Each benchmark runs in its own process with ``--json``; its object is kept in
``benchmarks/results/<name>.json`` with the command, the time and the machine's load average,
so the table always shows the latest figures and how they were made. The table's rows are the
benchmarks below, in this order, each with its figure, its floor or target, the ratio to its
floor where it has one, and the command that produced it.

    python benchmarks/all.py                        # run every benchmark, print the table
    python benchmarks/all.py --only small_submit,xlsx
    python benchmarks/all.py --skip ingest,soak     # the long ones
    python benchmarks/all.py --table                # no runs: the table from the kept results
    python benchmarks/all.py --table --write-readme # ... and put it in README.md
    python benchmarks/all.py --json                 # one JSON object: every kept result

Figures taken on a busy machine say so: the load average is in the table's last column.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
README = ROOT / "README.md"
START = "<!-- performance table: written by benchmarks/all.py -->"
END = "<!-- end of performance table -->"

#: (figure, floor or target, ratio to the floor) from a benchmark's JSON.
Summary = Callable[[dict[str, Any]], tuple[str, str, str]]


def _ratio(value: float, floor: float) -> str:
    return f"{value / floor:.1f}×" if floor else ""


def _small_submit(r: dict[str, Any]) -> tuple[str, str, str]:
    figure = f"CLI {r['cli_median_s']} s"
    if "cli_cold_median_s" in r:
        figure += (
            f" (through the worker the first submission started; that first one "
            f"{r['cli_first_s']} s); worker off {r['cli_cold_median_s']} s "
            f"(CPU {r.get('cli_cpu_median_s', '?')} s; importing GX alone {r['gx_import_s']} s)"
        )
    else:
        figure += f" (CPU {r.get('cli_cpu_median_s', '?')} s)"
    figure += (
        f"; warm API {r['api_median_ms']:.0f} ms; "
        f"`--help` of {len(r.get('help_s', {}))} commands {r.get('help_median_s')} s "
        f"(slowest {r.get('help_max_s')} s)"
    )
    floor = (
        f"floors: `python -c pass` {r.get('python_floor_s')} s, pyarrow read "
        f"{r.get('pyarrow_read_floor_s')} s, `collectonce --version` {r['cli_floor_s']} s; "
        "targets: CLI ≤ 1.5 s, API ≤ 300 ms, help ≤ 0.5 s"
    )
    return figure, floor, f"{r['cli_ratio_to_floor']}× `--version`"


def _ingest(r: dict[str, Any]) -> tuple[str, str, str]:
    return (
        f"{r['seconds']} s, peak RSS {r['peak_rss_mb']:,.0f} MB ({r['rows']:,} values)",
        f"pyarrow CSV → Parquet {r['floor_seconds']} s; ≤ 2× the floor, ≤ 2 GiB",
        f"{r['ratio_to_floor']}×"
        + (
            f" (median of {r['runs']}: " + ", ".join(f"{x}×" for x in r["ratios_to_floor"]) + ")"
            if r.get("runs", 1) > 1
            else ""
        ),
    )


def _catalog_load(r: dict[str, Any]) -> tuple[str, str, str]:
    s = r["seconds"]
    return (
        f"load and check {s['load_catalog']} s, burden {s['compute_burden']} s "
        f"({r['metrics']:,} metrics, {r['requests']} requests)",
        f"< {r['target_load_seconds']} s",
        "",
    )


def _dedupe(r: dict[str, Any]) -> tuple[str, str, str]:
    scale = r.get("scale", r)
    figure = (
        f"{scale['seconds']} s for {scale['items']:,} items ({scale['candidate_pairs']:,} "
        f"candidate pairs of {scale['all_pairs']:,})"
    )
    holdout = r.get("dedupe_holdout", {}).get("pairs_duplicate")
    if holdout:
        figure += (
            f"; held-out register: duplicate precision {holdout['precision']}, "
            f"recall {holdout['recall']}"
        )
    return figure, f"< {scale['target_seconds']} s", ""


def _api(r: dict[str, Any]) -> tuple[str, str, str]:
    figure = (
        f"gzip: {r['requests_per_s']:,.0f} req/s, p50 {r['p50_ms']:.0f} ms, p99 "
        f"{r['p99_ms']:.0f} ms; identity: p99 {r['identity_p99_ms']:.0f} ms; stream "
        f"{r['stream_mb'] / max(r['stream_s'], 1e-9):.0f} MB/s"
    )
    target = "≥ 200 req/s, p99 < 250 ms (identity < 100 ms), stream ≥ 50 MB/s"
    if "floor_p99_ms" not in r:
        return figure, target, ""
    floor = (
        f"bare asyncio server sending the same bytes: p99 {r['floor_p99_ms']:.0f} ms gzip, "
        f"{r['identity_floor_p99_ms']:.0f} ms identity; {target}"
    )
    ratio = f"p99 {r['p99_ratio_to_floor']}× gzip, {r['identity_p99_ratio_to_floor']}× identity"
    return figure, floor, ratio


def _soak(r: dict[str, Any]) -> tuple[str, str, str]:
    return (
        f"{r['errors']} errors, reconciled {r['reconciled']}; {r.get('uploads', '?')} uploads "
        f"({r.get('uploads_per_s', '?')}/s), p50 {r['upload_p50_ms']:,.0f} ms, p99 "
        f"{r['upload_p99_ms']:,.0f} ms; {r.get('pulls', '?'):,} pulls "
        f"({r.get('pulls_per_s', '?')}/s), p99 {r['pull_p99_ms']:,.0f} ms; server RSS "
        f"{r.get('server_rss_mb_start', 0):,.0f} → peak {r.get('peak_rss_mb', 0):,.0f} → end "
        f"{r.get('server_rss_mb_end', 0):,.0f} MB",
        "0 errors, reconciled",
        "",
    )


def _spc(r: dict[str, Any]) -> tuple[str, str, str]:
    return (
        f"{r['seconds']} s for {r['points']:,} points ({r['series']:,} series)",
        f"per-series loop {r['loop_seconds_extrapolated']:.0f} s (extrapolated); ≤ 20 s, ≥ 50×",
        f"{r['speedup_vs_loop']:.0f}× faster than the loop",
    )


def _packs(r: dict[str, Any]) -> tuple[str, str, str]:
    return (
        f"{r['seconds']} s for {r['providers']} providers ({r['series']:,} series, "
        f"{r['files']} files)",
        f"≤ {r['target_seconds']} s",
        "",
    )


def _rollup(r: dict[str, Any]) -> tuple[str, str, str]:
    return (
        f"{r['seconds']} s for {r['unified_rows']:,} values ({r['providers']} providers, "
        f"{r['months']} months), peak {r['peak_python_mb']:,.0f} MB",
        "",
        "",
    )


def _scaleout(r: dict[str, Any]) -> tuple[str, str, str]:
    parts = [
        f"{row.get('workload', '?')} ({row.get('size', '')}) {row.get('one_worker_s')} s → "
        f"{row.get('two_workers_s')} s, {row.get('speedup', '?')}×"
        for row in r.get("results", [])
        if isinstance(row, dict)
    ]
    return "one worker → two: " + "; ".join(parts), f"{r.get('cores')} cores", ""


def _xlsx(r: dict[str, Any]) -> tuple[str, str, str]:
    read = r["read_s"]
    big = next(k for k in read if k.startswith("long_"))
    figure = (
        f"read 50-value template: openpyxl {read['template_50']['openpyxl'] * 1000:.1f} ms"
        + (
            f", calamine {read['template_50']['calamine'] * 1000:.1f} ms"
            if "calamine" in read["template_50"]
            else ""
        )
        + f"; read {r['rows']:,} values: openpyxl {read[big]['openpyxl']} s"
        + (f", calamine {read[big]['calamine']} s" if "calamine" in read[big] else "")
        + f"; write them: xlsxwriter {r['write_s']['xlsxwriter']} s, openpyxl "
        f"{r['write_s']['openpyxl']} s"
    )
    imports = ", ".join(f"{k} {v} s" for k, v in r["import_s"].items())
    return figure, f"imports: {imports}", ""


@dataclass(frozen=True)
class Benchmark:
    name: str
    what: str
    args: tuple[str, ...]
    summary: Summary


BENCHMARKS = (
    Benchmark("small_submit", "a 50-value file, CLI and warm API", ("--runs", "3"), _small_submit),
    Benchmark("ingest", "ingest 10 million values", ("--rows", "10000000", "--runs", "3"), _ingest),
    Benchmark("catalog_load", "catalogue load and checks", (), _catalog_load),
    Benchmark("dedupe", "`requests dedupe`, 10,000-item register", (), _dedupe),
    Benchmark("api", "API pull of a one-quarter view, 32 clients", (), _api),
    Benchmark("soak", "soak: 50 uploaders and 32 pullers for 60 s", (), _soak),
    Benchmark("spc", "SPC over 600,000 series", (), _spc),
    Benchmark("packs", "packs for every provider", (), _packs),
    Benchmark("rollup", "roll-ups to regions and England", (), _rollup),
    Benchmark("scaleout", "one Dask worker → two", (), _scaleout),
    Benchmark("xlsx", "XLSX readers and writers", ("--rows", "100000"), _xlsx),
)


def command_of(bench: Benchmark) -> str:
    return " ".join(["python", f"benchmarks/{bench.name}.py", *bench.args])


def run_one(bench: Benchmark) -> dict[str, Any] | None:
    """Run one benchmark with --json and keep its object with how and when it was made
    (None when it failed: its last kept figures stay)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(HERE / f"{bench.name}.py"), *bench.args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"{command_of(bench)} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
        return None
    text = done.stdout.strip()
    result = json.loads(text[text.index("{") :])
    kept = {
        "command": command_of(bench),
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count() or 0,
        "python": platform.python_version(),
        "result": result,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{bench.name}.json").write_text(json.dumps(kept, indent=2) + "\n")
    return kept


def kept_results() -> dict[str, dict[str, Any]]:
    out = {}
    for bench in BENCHMARKS:
        path = RESULTS / f"{bench.name}.json"
        if path.is_file():
            out[bench.name] = json.loads(path.read_text())
    return out


def table(kept: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| what | figure | floor / target | ratio to floor | command | measured (load average) |",
        "|---|---|---|---|---|---|",
    ]
    for bench in BENCHMARKS:
        entry = kept.get(bench.name)
        if entry is None:
            cells = ["not yet measured by `benchmarks/all.py`", "", "", f"`{command_of(bench)}`"]
            lines.append(f"| {bench.what} | " + " | ".join(cells) + " | |")
            continue
        try:
            figure, floor, ratio = bench.summary(entry["result"])
        except (KeyError, TypeError, StopIteration, ZeroDivisionError) as exc:
            figure, floor, ratio = f"see `results/{bench.name}.json` ({exc!r})", "", ""
        load = ", ".join(str(x) for x in entry["load_average"])
        when = f"{entry['measured_at']} ({load} on {entry['cpus']} cores)"
        cells = [bench.what, figure, floor, ratio, f"`{entry['command']}`", when]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md has no {START!r} … {END!r} section")
    head, rest = readme.split(START, 1)
    _old, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names")
    parser.add_argument("--table", action="store_true", help="run nothing; use kept results")
    parser.add_argument("--write-readme", action="store_true", help="put the table in README")
    parser.add_argument("--json", action="store_true", help="print every kept result as JSON")
    args = parser.parse_args(argv)
    names = {b.name for b in BENCHMARKS}
    only = {n for n in args.only.split(",") if n}
    skip = {n for n in args.skip.split(",") if n}
    if unknown := (only | skip) - names:
        raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))}; one of {sorted(names)}")
    failed: list[str] = []
    if not args.table:
        for bench in BENCHMARKS:
            if (only and bench.name not in only) or bench.name in skip:
                continue
            print(f"running {command_of(bench)} …", file=sys.stderr, flush=True)
            if run_one(bench) is None:
                failed.append(bench.name)
    kept = kept_results()
    text = table(kept)
    if args.write_readme:
        write_readme(text)
    if args.json:
        print(json.dumps(kept))
    else:
        print(text)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
