"""A provider's everyday file: how long a 50-value submission takes, from the CLI and the API.

Each file is one real trust's A&E figures (``data/ae_attendances.csv``) in the canonical long
template, 50 values, a different trust each time (so none is a duplicate), checked by Great
Expectations and stored as every submission is.

* **CLI, as installed** (``COLLECTONCE_WORKER=auto``, the default): ``collectonce submit FILE
  --json`` in a fresh process, end to end. The first submission into an empty data folder does
  its file in the command (and creates the GX project) and then starts the data folder's
  validation worker; once the worker answers, each later submission hands its file to it. The
  figure with the target is the median of the later ones; the first is shown apart, with how
  long its worker took to be ready.
* **CLI, worker off** (``COLLECTONCE_WORKER=off``): every submission does all the work in its own
  process (start-up, imports, archive, read, validate, store, receipt), on a data folder that has
  received a file before. Importing Great Expectations alone, in a fresh process, is shown
  beside it: no submission without a worker can take less.
* Floors: ``python -c pass`` (the interpreter alone), a bare pyarrow read of the same file in a
  fresh process, and ``collectonce --version`` (the interpreter and the CLI, nothing else); the
  ratio is to the last.
* **Help**: ``collectonce --help`` and every ``collectonce X --help`` in a fresh process (the
  slowest is reported beside the median; target <= 0.5 s each).
* **API**: ``POST /v1/submissions`` to a warm ``collectonce serve`` on loopback, with the
  provider's own token. Warm means ``/health`` says every upload process has warmed up (the
  time from the server answering to that is shown); the first upload after that is shown
  apart, as it is the first each code path meets.

    python benchmarks/small_submit.py [--runs 3] [--help-runs 1] [--json]

Targets: CLI as installed <= 1.5 s, warm API <= 300 ms, every --help <= 0.5 s (medians).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collectonce.testing import wait_until_warm
from soak import CATALOG, SOURCE, start_server, stop_server

VALUES = 50
TARGETS = {
    "cli_median_s": 1.5,
    "api_median_ms": 300.0,
    "help_max_s": 0.5,
}
#: Seconds to wait for the worker the first submission started.
WORKER_READY_SECONDS = 120.0


def every_command() -> list[tuple[str, ...]]:
    """`collectonce` itself and every command and sub-command under it."""
    import click
    import typer.main

    from collectonce.cli import app

    found: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


def small_files(folder: Path, count: int) -> list[tuple[str, Path]]:
    """`count` files of 50 real values each, one trust each: (ODS code, path)."""
    from collectonce.catalog import load_catalog
    from collectonce.demo_data import ae_to_long

    raw = pd.read_csv(SOURCE, dtype={"org_code": str, "type": str})
    long = ae_to_long(raw, load_catalog(CATALOG))
    later = long[long["period"] > "2018-03"]
    sizes = later.groupby("provider_code").size()
    trusts = sorted(sizes[sizes >= VALUES].index)[:count]
    if len(trusts) < count:
        raise SystemExit(f"only {len(trusts)} trusts have {VALUES} values; lower --runs")
    out = []
    for ods in trusts:
        path = folder / f"{ods}_ae_2018-19.csv"
        later[later["provider_code"] == ods].head(VALUES).to_csv(path, index=False)
        out.append((ods, path))
    return out


def timed_cli(
    home: Path, *args: str, worker: str = "off"
) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "COLLECTONCE_HOME": str(home), "COLLECTONCE_WORKER": worker}
    collectonce = Path(sys.executable).with_name("collectonce")
    command = [str(collectonce) if collectonce.exists() else "collectonce", *args]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    return time.perf_counter() - started, done


def timed_python(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, check=True)
    return time.perf_counter() - started


def help_times(home: Path, runs: int) -> dict[str, float]:
    """Median seconds of `collectonce X --help` per command, in a fresh process each time."""
    out = {}
    for command in every_command():
        times = []
        for _ in range(runs):
            took, done = timed_cli(home, *command, "--help")
            if done.returncode != 0 or "Usage" not in done.stdout:
                raise SystemExit(f"collectonce {' '.join(command)} --help failed: {done.stderr}")
            times.append(took)
        out[" ".join(("collectonce", *command, "--help"))] = round(statistics.median(times), 3)
    return out


#: CPU seconds (user + system) of each timed `collectonce submit`: less at the mercy of other
#: work on a shared machine than the wall-clock time.
CPU_SECONDS: list[float] = []


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_submit(home: Path, path: Path, worker: str = "auto") -> float:
    cpu = _children_cpu()
    took, done = timed_cli(
        home, "submit", str(path), "--json", "--catalog", str(CATALOG), worker=worker
    )
    if worker == "off":
        CPU_SECONDS.append(_children_cpu() - cpu)
    receipt = json.loads(done.stdout)
    if receipt.get("values_stored") != VALUES:
        raise SystemExit(f"{path.name} was not stored whole: {done.stdout[-1500:]}")
    return took


def worker_status(home: Path) -> dict[str, Any]:
    _took, done = timed_cli(home, "worker", "status", "--json")
    try:
        status = json.loads(done.stdout)
    except ValueError:
        return {}
    return status if isinstance(status, dict) else {}


def wait_for_worker(home: Path) -> float:
    """Seconds until the worker started by the first submission answers."""
    started = time.perf_counter()
    while time.perf_counter() - started < WORKER_READY_SECONDS:
        if worker_status(home).get("running"):
            return time.perf_counter() - started
        time.sleep(0.1)
    raise SystemExit(f"no worker answered within {WORKER_READY_SECONDS:.0f} s of a submission")


def api_submit(client: Any, base: str, token: str, path: Path) -> float:
    started = time.perf_counter()
    response = client.post(
        f"{base}/v1/submissions",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (path.name, path.read_bytes())},
        timeout=120,
    )
    took = time.perf_counter() - started
    if response.status_code != 201 or response.json().get("values_stored") != VALUES:
        raise SystemExit(f"{path.name}: HTTP {response.status_code}: {response.text[:1500]}")
    return took


def run(runs: int, help_runs: int = 1) -> dict[str, Any]:
    import httpx

    from collectonce.access.auth import create_token
    from collectonce.catalog import load_catalog
    from collectonce.settings import get_settings

    for name, value in (
        ("GX_ANALYTICS_ENABLED", "false"),
        ("DO_NOT_TRACK", "1"),
        ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
    ):
        os.environ.setdefault(name, value)
    work = Path(tempfile.mkdtemp(prefix="collectonce-small-"))
    try:
        files = small_files(work, 3 * runs + 3)
        cli_files, api_files = files[: runs + 1], files[runs + 1 : 2 * runs + 2]
        worker_files = files[2 * runs + 2 :]

        floor = [timed_cli(work / "floor", "--version")[0] for _ in range(runs)]
        bare_python = [timed_python("-c", "pass") for _ in range(runs)]
        read = "import sys, pyarrow.csv as c; c.read_csv(sys.argv[1])"
        bare_read = [timed_python("-c", read, str(cli_files[1][1])) for _ in range(runs)]
        gx = "from collectonce.validate.gx_import import load_gx; load_gx()"
        gx_import = [timed_python("-c", gx) for _ in range(runs)]
        helps = help_times(work / "floor", help_runs)

        cold_home = work / "cold_home"
        cold_first = cli_submit(cold_home, cli_files[0][1], worker="off")
        cold_times = [cli_submit(cold_home, p, worker="off") for _o, p in cli_files[1:]]

        auto_home = work / "auto_home"
        ods, first = worker_files[0]
        cli_first = cli_submit(auto_home, first)
        worker_ready = wait_for_worker(auto_home)
        try:
            cli_times = [cli_submit(auto_home, p) for _o, p in worker_files[1:]]
            served = worker_status(auto_home).get("served")
        finally:
            timed_cli(auto_home, "worker", "stop", "--json", "--catalog", str(CATALOG))
        if served != len(cli_times):
            raise SystemExit(f"the worker served {served} of {len(cli_times)} submissions")

        api_home = work / "api_home"
        api_home.mkdir(parents=True, exist_ok=True)
        settings = get_settings(home=api_home)
        catalog = load_catalog(CATALOG)
        tokens = {
            ods: create_token(settings, role="provider", subject=ods, catalog=catalog)[1]
            for ods, _p in api_files
        }
        proc, base = start_server(api_home)
        try:
            started = time.perf_counter()
            wait_until_warm(base)
            api_warm_up = time.perf_counter() - started
            with httpx.Client() as client:
                ods, path = api_files[0]
                api_first = api_submit(client, base, tokens[ods], path)
                api_times = [api_submit(client, base, tokens[o], p) for o, p in api_files[1:]]
        finally:
            stop_server(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cli_median = statistics.median(cli_times)
    api_median = statistics.median(api_times) * 1000
    floor_median = statistics.median(floor)
    return {
        "values": VALUES,
        "runs": runs,
        "python_floor_s": round(statistics.median(bare_python), 3),
        "pyarrow_read_floor_s": round(statistics.median(bare_read), 3),
        "cli_floor_s": round(floor_median, 2),
        "cli_first_s": round(cli_first, 2),
        "worker_ready_s": round(worker_ready, 2),
        "cli_s": [round(t, 2) for t in cli_times],
        "cli_median_s": round(cli_median, 2),
        "cli_ratio_to_floor": round(cli_median / floor_median, 1),
        "cold_first_s": round(cold_first, 2),
        "cli_cold_s": [round(t, 2) for t in cold_times],
        "cli_cold_median_s": round(statistics.median(cold_times), 2),
        "cli_cpu_median_s": round(statistics.median(CPU_SECONDS[1:]), 2),
        "gx_import_s": round(statistics.median(gx_import), 2),
        "api_warm_up_s": round(api_warm_up, 2),
        "api_first_ms": round(api_first * 1000, 1),
        "api_ms": [round(t * 1000, 1) for t in api_times],
        "api_median_ms": round(api_median, 1),
        "help_s": helps,
        "help_root_s": helps["collectonce --help"],
        "help_median_s": round(statistics.median(helps.values()), 3),
        "help_max_s": max(helps.values()),
        "targets": TARGETS,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "cpus": os.cpu_count() or 0,
    }


def print_table(r: dict[str, Any]) -> None:
    rows = [
        ("floor: `python -c pass`", f"{r['python_floor_s']} s", ""),
        (
            "floor: pyarrow reads the same file (fresh process)",
            f"{r['pyarrow_read_floor_s']} s",
            "",
        ),
        ("CLI floor (`collectonce --version`)", f"{r['cli_floor_s']} s", ""),
        (
            "CLI submit, worker off, empty data folder",
            f"{r['cold_first_s']} s",
            "",
        ),
        (
            f"CLI submit, worker off (median of {r['runs']})",
            f"{r['cli_cold_median_s']} s (CPU {r['cli_cpu_median_s']} s)",
            "",
        ),
        ("floor of the above: importing Great Expectations alone", f"{r['gx_import_s']} s", ""),
        (
            "CLI submit as installed: first file (starts the worker)",
            f"{r['cli_first_s']} s",
            "",
        ),
        ("  ... its worker answering, after that", f"{r['worker_ready_s']} s", ""),
        (
            f"CLI submit as installed: later files (median of {r['runs']})",
            f"{r['cli_median_s']} s ({r['cli_ratio_to_floor']}x floor)",
            f"<= {TARGETS['cli_median_s']} s",
        ),
        ("API server: its upload processes warm, after /health", f"{r['api_warm_up_s']} s", ""),
        ("API upload, the first once warm", f"{r['api_first_ms']} ms", ""),
        (
            f"API upload, {r['values']} values, warm (median of {r['runs']})",
            f"{r['api_median_ms']} ms",
            f"<= {TARGETS['api_median_ms']:.0f} ms",
        ),
        ("`collectonce --help`", f"{r['help_root_s']} s", f"<= {TARGETS['help_max_s']} s"),
        (
            f"`--help` of {len(r['help_s'])} commands (median / slowest)",
            f"{r['help_median_s']} s / {r['help_max_s']} s",
            f"<= {TARGETS['help_max_s']} s each",
        ),
        ("load average (1, 5, 15 min)", " ".join(map(str, r["load_average"])), ""),
    ]
    width = max(len(a) for a, _b, _c in rows)
    vwidth = max(len(b) for _a, b, _c in rows)
    print(f"{'what'.ljust(width)}  {'figure'.ljust(vwidth)}  target")
    for a, b, c in rows:
        print(f"{a.ljust(width)}  {b.ljust(vwidth)}  {c}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed submissions per door")
    parser.add_argument("--help-runs", type=int, default=1, help="runs of each --help")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(max(1, args.runs), max(1, args.help_runs))
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
