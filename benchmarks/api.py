"""Benchmark the pull API on loopback: view latency under 32 clients, and a streamed 5-year pull.

The unified table is built from the real A&E data (``data/ae_attendances.csv``), scaled up
synthetically: the 274 real trusts' type 1 series (attendances, breaches, emergency admissions)
are repeated to 60 months and re-used, scaled and jittered, for extra providers and metrics, up
to 5 years x 500 providers x 300 metrics (9M rows). It is written straight to a Delta table
with the UNIFIED schema, beside a synthetic catalogue of 300 metrics, one quarterly request
covering 40 of them and one monthly request covering 40. `collectonce serve` is started in a
subprocess, then:

* 32 concurrent clients pull the same one-quarter view (JSON, sent gzipped as every HTTP client
  asks) for ~15 s: p50, p99, req/s; then for ~7 s without gzip (``identity_*``).
* the floor, just before each: the same clients against a bare asyncio server (uvloop when the
  server has it) that answers every request with the bytes the server sent for that view,
  headers and all. It is what moving those bytes over loopback costs on this machine at that
  moment, so the ``*_ratio_to_floor`` figures compare runs made on a busy and a quiet machine.
  The load generator is `wrk` when installed (``apt-get install -y wrk``), else an async
  httpx client (which shares the machine's two cores with the server, so it understates).
* one full five-year pull of the monthly request streamed as CSV, three times: MB/s and the
  server's RSS before, at peak and after (flat RSS means large pulls do not accumulate).

    python benchmarks/api.py                                  # 500 x 300 x 5 years
    python benchmarks/api.py --providers 100 --metrics 60 --years 2 --duration 5 --json

Targets (2 cores): p99 < 250 ms (< 100 ms without gzip), >= 200 requests/s, >= 50 MB/s
streamed with flat RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from collectonce import testing

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "ae_attendances.csv"
QUARTER_ITEMS = 40
MONTH_ITEMS = 40
TARGETS = {
    "p99_ms": 250.0,
    "identity_p99_ms": 100.0,
    "requests_per_s": 200.0,
    "stream_mb_per_s": 50.0,
}
#: Figures that must stay below their target (the others must reach it).
BELOW = {"p99_ms", "identity_p99_ms"}


@dataclass
class Report:
    providers: int
    metrics: int
    months: int
    unified_rows: int
    build_s: float
    load_generator: str
    clients: int
    duration_s: float
    first_view_ms: float
    cold_view_ms: float
    view_rows: int
    view_bytes: int
    view_bytes_gzip: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    requests_per_s: float
    identity_p50_ms: float
    identity_p99_ms: float
    identity_requests_per_s: float
    floor_p99_ms: float
    floor_requests_per_s: float
    identity_floor_p99_ms: float
    identity_floor_requests_per_s: float
    p99_ratio_to_floor: float
    identity_p99_ratio_to_floor: float
    stream_rows: int
    stream_mb: float
    stream_s: float
    stream_first_byte_s: float
    stream_mb_per_s: float
    server_rss_mb_start: float
    server_rss_mb_peak: float
    server_rss_mb_end: float
    server_rss_mb_after_each_pull: list[float]
    python: str = platform.python_version()
    cpus: int = os.cpu_count() or 0


# --------------------------------------------------------------------------- the data


def provider_codes(real: list[str], n: int) -> list[str]:
    """The real ODS codes first, then synthetic ones (``X`` and four digits) up to n."""
    codes = sorted(real)[:n]
    extra = (f"X{i:04d}" for i in range(10_000))
    return codes + [next(extra) for _ in range(n - len(codes))]


def base_series(source: Path, months: int) -> tuple[list[str], np.ndarray]:
    """Real type 1 series per trust: (codes, array[trust, 3 measures, months]), gaps filled by
    each series' mean and the 36 real months repeated to `months`."""
    raw = pd.read_csv(source, dtype={"org_code": str, "type": str})
    raw = raw[raw["type"] == "1"]
    cube = raw.pivot_table(
        index="org_code",
        columns="period",
        values=["attendances", "breaches", "admissions"],
        aggfunc="sum",
    )
    codes = list(cube.index)
    out = np.stack(
        [cube[m].to_numpy(dtype=float) for m in ("attendances", "breaches", "admissions")], axis=1
    )
    means = np.nanmean(out, axis=2, keepdims=True)
    out = np.where(np.isnan(out), means, out)
    reps = -(-months // out.shape[2])
    return codes, np.tile(out, (1, 1, reps))[:, :, :months]


def build_unified(
    codes: list[str], series: np.ndarray, providers: int, metrics: int, months: int
) -> pd.DataFrame:
    """providers x months x metrics rows with the UNIFIED columns, sorted as published."""
    rng = np.random.default_rng(7)
    n_real = series.shape[0]
    pick = np.arange(providers) % n_real
    scale_p = np.where(np.arange(providers) < n_real, 1.0, rng.uniform(0.5, 1.5, providers))
    measure = np.arange(metrics) % 3
    scale_m = np.where(np.arange(metrics) < 3, 1.0, rng.uniform(0.1, 2.0, metrics))
    # values[metric, month, provider]
    base = series[pick][:, measure, :]  # provider, metric, month
    values = base.transpose(1, 2, 0) * scale_m[:, None, None] * scale_p[None, None, :]
    jitter = rng.normal(1.0, 0.03, values.shape)
    jitter[:3] = 1.0
    values = np.round(values * jitter)
    start = dt.date(2014, 4, 1)
    periods = pd.date_range(start, periods=months, freq="MS").to_numpy().astype("datetime64[s]")
    names = metric_codes(metrics)
    n = metrics * months * providers
    received = pd.Timestamp("2019-05-01", tz="UTC")
    frame = pd.DataFrame(
        {
            "provider_code": np.tile(
                np.array(provider_codes(codes, providers), dtype=object), metrics * months
            ),
            "period": np.tile(np.repeat(periods, providers), metrics),
            "metric_id": np.repeat(np.array(names, dtype=object), months * providers),
            "value": values.reshape(-1),
            "value_status": np.full(n, "reported", dtype=object),
            "is_derived": np.zeros(n, dtype=bool),
            "is_late": np.zeros(n, dtype=bool),
            "revision": np.ones(n, dtype="int32"),
            "submission_id": np.full(n, "bench", dtype=object),
            "file_sha256": np.full(n, "0" * 64, dtype=object),
            "source_row": pd.array(np.arange(n) % 100_000 + 2, dtype="Int64"),
            "received_at": pd.Series(received, index=range(n)).astype("datetime64[us, UTC]"),
            "comment": np.full(n, None, dtype=object),
        }
    )
    return frame


def metric_codes(metrics: int) -> list[str]:
    real = ["ae_attendances_type1", "ae_breaches_4hr_type1", "ae_emergency_admissions"]
    return sorted(real[:metrics] + [f"bench_metric_{i:03d}" for i in range(3, metrics)])


def write_catalog(folder: Path, providers: list[str], metrics: list[str]) -> None:
    """A catalogue of `metrics` count metrics, one quarterly and one monthly request."""
    (folder / "metrics" / "bench").mkdir(parents=True)
    (folder / "requests" / "bench").mkdir(parents=True)
    (folder / "catalog.yaml").write_text(
        "name: api benchmark\nversion: '1.0.0'\neffective_from: 2014-04-01\nhourly_cost_gbp: 30\n"
    )
    (folder / "requesters.yaml").write_text(
        "requesters:\n  - {code: bench_regulator, name: Benchmark regulator, kind: regulator}\n"
    )
    lines = ["ods_code,name,peer_group,region"]
    lines += [f"{code},Trust {code},acute,England" for code in providers]
    (folder / "providers.csv").write_text("\n".join(lines) + "\n")
    for code in metrics:
        (folder / "metrics" / "bench" / f"{code}.yaml").write_text(
            f"code: {code}\nlabel: Benchmark measure {code}\n"
            "definition: A monthly count scaled from real A&E activity.\n"
            "why_collected: Exercises the pull API at national scale.\n"
            "unit: count\nvalue_type: integer\ngrain: {entity: provider, period: month}\n"
            "valid: {min: 0}\nzero_is_significant: true\nimprovement_direction: neutral\n"
            "status: {state: active, version: 1, effective_from: 2014-04-01}\n"
        )
    for code, frequency, count in (
        ("bench_quarterly", "quarter", QUARTER_ITEMS),
        ("bench_monthly", "month", MONTH_ITEMS),
    ):
        chosen = metrics[:count] if frequency == "quarter" else metrics[-count:]
        items = [
            f'  - {{their_code: "Q{i:02d}", their_label: "Item {i}", metric: {m}, '
            f"transform: {{aggregate: {'sum' if i % 2 else 'mean'}}}}}"
            for i, m in enumerate(chosen, start=1)
        ]
        (folder / "requests" / "bench" / f"{code}.yaml").write_text(
            f"code: {code}\nrequester: bench_regulator\ntitle: Benchmark {frequency}ly return\n"
            f"frequency: {frequency}\ndue_days_after_period: 20\nminutes_per_item: 5\n"
            "items:\n" + "\n".join(items) + "\n"
        )


def write_table(settings: object, frame: pd.DataFrame, catalog_version: str) -> None:
    import pyarrow as pa
    from deltalake import CommitProperties, WriterProperties, write_deltalake

    from collectonce.contracts import UNIFIED

    table = pa.Table.from_pandas(frame, schema=UNIFIED, preserve_index=False)
    meta = {
        "collectonce.published_at": dt.datetime.now(dt.UTC).isoformat(),
        "collectonce.catalog_version": catalog_version,
        "collectonce.counts": json.dumps({"rows": len(frame)}),
        "collectonce.content_hash": "benchmark",
    }
    write_deltalake(
        settings.tables_dir / "unified",  # type: ignore[attr-defined]
        table.replace_schema_metadata(UNIFIED.metadata),
        mode="overwrite",
        writer_properties=WriterProperties(compression="ZSTD", max_row_group_size=131_072),
        commit_properties=CommitProperties(custom_metadata=meta),
    )


# --------------------------------------------------------------------------- the server


def start_server(home: Path, catalog: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    try:
        return testing.start_server(home, catalog, extra_args=["--workers", str(workers)])
    except testing.ServerFailedError as exc:
        raise SystemExit(str(exc)) from None


stop_server = testing.stop_server


def server_rss_mb(pid: int) -> float:
    """RSS of the server and its worker processes."""
    import psutil

    main = psutil.Process(pid)
    procs = [main, *main.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs if p.is_running()) / 1e6


# --------------------------------------------------------------------------- the floor


def raw_response(url: str, headers: dict[str, str]) -> bytes:
    """The server's whole answer to one GET as it went over the wire: status line, headers and
    the body undecoded (gzipped when it was sent gzipped)."""
    import httpx

    with httpx.stream("GET", url, headers=headers, timeout=300) as response:
        response.raise_for_status()
        body = b"".join(response.iter_raw())
    head = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}".encode()]
    head += [k + b": " + v for k, v in response.headers.raw]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def serve_floor(port: int, gzipped: Path, plain: Path) -> None:
    """Answer every request on this keep-alive connection with the gzipped or the plain
    answer, as its Accept-Encoding asks; nothing else is done per request."""
    packed, whole = gzipped.read_bytes(), plain.read_bytes()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).lower()
                writer.write(packed if b"accept-encoding: gzip" in head else whole)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", port, reuse_port=True)
        async with server:
            await server.serve_forever()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


def start_floor(work: Path, gzipped: bytes, plain: bytes, workers: int) -> tuple[list, str]:
    """As many floor processes as the server has (sharing one port), once they answer."""
    import httpx

    (work / "floor_gzip.http").write_bytes(gzipped)
    (work / "floor_plain.http").write_bytes(plain)
    port = testing.free_port()
    command = [sys.executable, __file__, "--serve-floor", str(port), str(work)]
    procs = [subprocess.Popen(command) for _ in range(workers)]
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(base + "/", headers={"Accept-Encoding": "identity"}, timeout=5)
            return procs, base
        except httpx.TransportError:
            if time.monotonic() > deadline:
                for proc in procs:
                    proc.kill()
                raise SystemExit("the floor server did not start") from None
            time.sleep(0.1)


def stop_floor(procs: list) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=10)


# --------------------------------------------------------------------------- load


async def _httpx_load(url: str, headers: dict[str, str], clients: int, duration: float):
    import httpx

    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                response = await client.get(url)
                await response.aread()
                latencies.append(time.perf_counter() - t0)
                errors += response.status_code != 200

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return latencies, errors, elapsed


def load_httpx(url: str, headers: dict[str, str], clients: int, duration: float) -> dict:
    latencies, errors, elapsed = asyncio.run(_httpx_load(url, headers, clients, duration))
    ms = np.array(latencies) * 1000
    return {
        "requests": len(ms),
        "errors": errors,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "requests_per_s": len(ms) / elapsed,
    }


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def load_wrk(url: str, headers: dict[str, str], clients: int, duration: float) -> dict:
    command = ["wrk", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{max(int(duration), 1)}s"]
    command += ["--latency", "--timeout", "10s"]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout

    def latency(pct: str) -> float:
        match = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        if not match:
            raise SystemExit(f"cannot read wrk's {pct}% latency from:\n{out}")
        return float(match.group(1)) * _WRK_UNITS[match.group(2)]

    total = re.search(r"(\d+) requests in", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {
        "requests": int(total.group(1)) if total else 0,
        "errors": errors,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "requests_per_s": float(rate.group(1)) if rate else 0.0,
    }


def stream_pull(
    url: str, headers: dict[str, str], pid: int
) -> tuple[int, int, float, float, float]:
    """Stream one pull: (bytes, rows, seconds, seconds to the first byte, peak server RSS MB)."""
    import httpx

    peak = server_rss_mb(pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, server_rss_mb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = lines = 0
    first = None
    t0 = time.perf_counter()
    plain = {**headers, "Accept-Encoding": "identity"}
    with httpx.stream("GET", url, headers=plain, timeout=600) as response:
        if response.status_code != 200:
            raise SystemExit(f"the streamed pull answered {response.status_code}")
        for chunk in response.iter_raw():
            if first is None:
                first = time.perf_counter() - t0
            size += len(chunk)
            lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - t0
    done.set()
    sampler.join()
    return size, lines - 1, elapsed, first or elapsed, peak


# --------------------------------------------------------------------------- run


def run(args: argparse.Namespace) -> Report:
    import httpx

    from collectonce.access.auth import create_token
    from collectonce.catalog import load_catalog
    from collectonce.settings import get_settings

    months = args.years * 12
    work = Path(tempfile.mkdtemp(prefix="collectonce-api-bench-"))
    proc = None
    try:
        t0 = time.perf_counter()
        codes, series = base_series(args.source, months)
        frame = build_unified(codes, series, args.providers, args.metrics, months)
        home, catalog_dir = work / "home", work / "catalog"
        write_catalog(
            catalog_dir, provider_codes(codes, args.providers), metric_codes(args.metrics)
        )
        catalog = load_catalog(catalog_dir)
        settings = get_settings(home=home, catalog=catalog_dir)
        write_table(settings, frame, catalog.version)
        rows = len(frame)
        del frame
        _, token = create_token(
            settings, role="requester", subject="bench_regulator", catalog=catalog
        )
        build_s = time.perf_counter() - t0
        headers = {"Authorization": f"Bearer {token}"}

        proc, base = start_server(home, catalog_dir, args.workers)
        last = 2014 + (months + 3 - 1) // 12
        quarter = f"{base}/v1/requests/bench_quarterly/view?from={last - 1}-01&to={last - 1}-03"
        other = f"{base}/v1/requests/bench_quarterly/view?from={last - 1}-04&to={last - 1}-06"

        t1 = time.perf_counter()
        plain = {**headers, "Accept-Encoding": "identity"}
        first = httpx.get(quarter, headers=plain, timeout=300)
        first_view_ms = (time.perf_counter() - t1) * 1000
        if first.status_code != 200:
            raise SystemExit(f"the view answered {first.status_code}: {first.text[:200]}")
        t1 = time.perf_counter()
        httpx.get(other, headers=headers, timeout=300).raise_for_status()
        cold_view_ms = (time.perf_counter() - t1) * 1000
        gzip = {**headers, "Accept-Encoding": "gzip"}
        packed = httpx.get(quarter, headers=gzip, timeout=300)
        for _ in range(max(args.workers - 1, 0) * 4):  # let every worker render once
            httpx.get(quarter, headers=headers, timeout=300)
        floors, floor_base = start_floor(
            work, raw_response(quarter, gzip), raw_response(quarter, plain), args.workers
        )
        floor_url = floor_base + quarter.removeprefix(base)

        use_wrk = args.load == "wrk" or (args.load == "auto" and shutil.which("wrk"))
        loader = load_wrk if use_wrk else load_httpx
        try:
            # as every HTTP client does (httpx, requests, curl --compressed, browsers)
            floor = loader(floor_url, gzip, args.clients, args.duration)
            load = loader(quarter, gzip, args.clients, args.duration)
            # and once more for clients that cannot take gzip (the full 3 MB per answer)
            identity_floor = loader(floor_url, plain, args.clients, args.duration / 2)
            identity = loader(quarter, plain, args.clients, args.duration / 2)
        finally:
            stop_floor(floors)

        full = f"{base}/v1/requests/bench_monthly/view?format=csv"
        rss_start = server_rss_mb(proc.pid)
        peak = rss_start
        best = (0, 0, float("inf"), 0.0)
        after_each = []
        for _ in range(3):
            size, lines, seconds, first_byte, top = stream_pull(full, headers, proc.pid)
            peak = max(peak, top)
            after_each.append(round(server_rss_mb(proc.pid), 1))
            if seconds < best[2]:
                best = (size, lines, seconds, first_byte)
        rss_end = server_rss_mb(proc.pid)
        size, lines, seconds, first_byte = best
        return Report(
            providers=args.providers,
            metrics=args.metrics,
            months=months,
            unified_rows=rows,
            build_s=round(build_s, 1),
            load_generator="wrk" if use_wrk else "httpx-async",
            clients=args.clients,
            duration_s=args.duration,
            first_view_ms=round(first_view_ms, 1),
            cold_view_ms=round(cold_view_ms, 1),
            view_rows=len(first.json()["rows"]),
            view_bytes=len(first.content),
            view_bytes_gzip=int(packed.headers.get("content-length", 0)),
            requests=load["requests"],
            errors=load["errors"] + identity["errors"],
            p50_ms=round(load["p50_ms"], 2),
            p99_ms=round(load["p99_ms"], 2),
            requests_per_s=round(load["requests_per_s"], 1),
            identity_p50_ms=round(identity["p50_ms"], 2),
            identity_p99_ms=round(identity["p99_ms"], 2),
            identity_requests_per_s=round(identity["requests_per_s"], 1),
            floor_p99_ms=round(floor["p99_ms"], 2),
            floor_requests_per_s=round(floor["requests_per_s"], 1),
            identity_floor_p99_ms=round(identity_floor["p99_ms"], 2),
            identity_floor_requests_per_s=round(identity_floor["requests_per_s"], 1),
            p99_ratio_to_floor=round(load["p99_ms"] / max(floor["p99_ms"], 1e-9), 2),
            identity_p99_ratio_to_floor=round(
                identity["p99_ms"] / max(identity_floor["p99_ms"], 1e-9), 2
            ),
            stream_rows=lines,
            stream_mb=round(size / 1e6, 1),
            stream_s=round(seconds, 2),
            stream_first_byte_s=round(first_byte, 2),
            stream_mb_per_s=round(size / 1e6 / seconds, 1),
            server_rss_mb_start=round(rss_start, 1),
            server_rss_mb_peak=round(peak, 1),
            server_rss_mb_end=round(rss_end, 1),
            server_rss_mb_after_each_pull=after_each,
        )
    finally:
        if proc is not None:
            stop_server(proc)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=500)
    parser.add_argument("--metrics", type=int, default=300)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--load", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--source", type=Path, default=SOURCE, help="the real A&E CSV")
    parser.add_argument("--keep", action="store_true", help="keep the generated data folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--serve-floor", nargs=2, metavar=("PORT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_floor:
        port, folder = args.serve_floor
        serve_floor(int(port), Path(folder) / "floor_gzip.http", Path(folder) / "floor_plain.http")
        return 0
    if args.metrics < QUARTER_ITEMS or args.metrics < MONTH_ITEMS:
        parser.error(f"--metrics must be at least {max(QUARTER_ITEMS, MONTH_ITEMS)}")
    if not 1 <= args.providers <= 10_000 or args.years < 1 or args.clients < 1:
        parser.error("--providers 1..10000, --years and --clients must be positive")
    if not args.source.exists():
        parser.error(f"{args.source} not found: run from the project folder or pass --source")
    report = run(args)
    if args.json:
        print(json.dumps(asdict(report)))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pull API benchmark (loopback)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    for name, value in asdict(report).items():
        target = TARGETS.get(name)
        shown = f"{value:,}" if isinstance(value, int | float) else str(value)
        goal = ""
        if target is not None:
            below = name in BELOW
            ok = value < target if below else value >= target
            goal = f"{'<' if below else '>='} {target:g} {'ok' if ok else 'MISSED'}"
        table.add_row(name, shown, goal)
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
