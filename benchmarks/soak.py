"""Soak the service: providers uploading at the deadline while regulators pull, then reconcile.

`collectonce serve` is started in a subprocess on loopback (a free port) over a data folder
back-filled with the real A&E data (``data/ae_attendances.csv``, April 2016 - March 2018) and
published once. Then, for ``--duration`` seconds:

* ``--uploaders`` provider clients (50) each send their own trust's later months
  (April 2018 onwards), one file a month, through ``POST /v1/submissions`` with the provider's
  token. The files are shaped as providers make them, rotating through: the canonical long CSV
  (pandas), the wide CSV, an XLSX written cell by cell with openpyxl (with a title row), an
  XLSX written by pandas, the A&E by-department-type CSV, Parquet and JSON records. Each client
  ends by sending its first file again, which must be answered as a duplicate.
* ``--pullers`` regulator clients (32) pull one-quarter views of their own requests (JSON with
  and without gzip, CSV) and providers' own data.
* half-way through, ``collectonce publish`` runs once.

Afterwards ``collectonce publish`` runs again and everything is reconciled through the doors a
user has (``collectonce submissions list``, ``collectonce query``): every upload answered with a
receipt, every receipt listed, each accepted fact stored once (no key twice in the published
table, each file's facts published with its values), and the published row count equal to the
sum of the receipts' stored values. Errors (any answer other than 200/201, a timeout, a failed
publish) must be 0. The server's RSS (with its upload processes') is sampled throughout.

    python benchmarks/soak.py                       # 50 uploaders, 32 pullers, 60 s
    python benchmarks/soak.py --uploaders 8 --pullers 6 --duration 10 --json
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from collectonce import testing

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "ae_attendances.csv"
CATALOG = ROOT / "catalog"
#: The back-fill covers these months; uploads send the months after them.
BACKFILL_TO = "2018-03"
TARGETS = {"errors": 0, "upload_p99_ms": None, "pull_p99_ms": 250.0}
SHAPES = ("long_csv", "wide_csv", "openpyxl_xlsx", "pandas_xlsx", "by_type_csv", "parquet", "json")
UPLOAD_TIMEOUT_S = 300.0
PULL_TIMEOUT_S = 60.0
ACCEPTED = {"accepted", "accepted_with_warnings", "partially_accepted"}


@dataclass
class Report:
    uploaders: int
    pullers: int
    duration_s: float
    backfill_values: int
    uploads: int
    duplicates_answered: int
    pulls: int
    errors: int
    error_samples: list[str]
    upload_p50_ms: float
    upload_p99_ms: float
    pull_p50_ms: float
    pull_p99_ms: float
    uploads_per_s: float
    pulls_per_s: float
    publish_mid_s: float
    publish_mid_version: int | None
    publish_end_version: int | None
    receipts_listed: int
    published_collected_rows: int
    receipts_values_stored: int
    duplicate_keys: int
    facts_missing: int
    facts_wrong: int
    reconciled: bool
    reconcile_problems: list[str]
    server_rss_mb_start: float
    server_rss_mb_peak: float
    server_rss_mb_end: float
    peak_rss_mb: float
    load_average: list[float] = field(default_factory=list)
    python: str = platform.python_version()
    cpus: int = os.cpu_count() or 0


# --------------------------------------------------------------------------- the files


@dataclass
class Upload:
    provider: str
    month: str
    shape: str
    path: Path
    facts: pd.DataFrame  # provider_code, period, metric_id, value: what the file says


def real_long() -> pd.DataFrame:
    """The real A&E figures as canonical long rows for the shipped catalogue's providers."""
    from collectonce.catalog import load_catalog
    from collectonce.demo_data import ae_to_long

    raw = pd.read_csv(SOURCE, dtype={"org_code": str, "type": str})
    return ae_to_long(raw, load_catalog(CATALOG))


def busiest_providers(long: pd.DataFrame, n: int) -> list[str]:
    """The providers with the most months after the back-fill (ties by code), n of them."""
    later = long[long["period"] > BACKFILL_TO]
    months = later.groupby("provider_code")["period"].nunique()
    ranked = sorted(months.index, key=lambda p: (-months[p], p))
    if len(ranked) < n:
        raise SystemExit(f"only {len(ranked)} providers have data after {BACKFILL_TO}; lower -u")
    return ranked[:n]


def _wide(facts: pd.DataFrame) -> pd.DataFrame:
    wide = facts.pivot_table(
        index=["provider_code", "period"], columns="metric_id", values="value", aggfunc="first"
    )
    return wide.reset_index().rename_axis(columns=None)


def _by_type(raw: pd.DataFrame, provider: str, month: str) -> pd.DataFrame:
    rows = raw[(raw["org_code"] == provider) & (raw["period"].str.startswith(month))]
    return rows[["period", "org_code", "type", "attendances", "breaches", "admissions"]]


def write_file(folder: Path, raw: pd.DataFrame, facts: pd.DataFrame, shape: str) -> Path:
    """One provider-month file in the given shape, written as the tool a provider uses would."""
    provider, month = facts["provider_code"].iat[0], facts["period"].iat[0]
    stem = folder / f"{provider}_{month}_{shape}"
    if shape == "long_csv":
        path = stem.with_suffix(".csv")
        facts.to_csv(path, index=False)
    elif shape == "wide_csv":
        path = stem.with_suffix(".csv")
        _wide(facts).to_csv(path, index=False)
    elif shape == "openpyxl_xlsx":
        import openpyxl

        path = stem.with_suffix(".xlsx")
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "Monthly return"
        sheet.append([f"A&E monthly return: {provider}, {month}"])
        sheet.append([])
        wide = _wide(facts)
        sheet.append(list(wide.columns))
        for row in wide.itertuples(index=False):
            sheet.append([v.item() if isinstance(v, np.generic) else v for v in row])
        book.save(path)
    elif shape == "pandas_xlsx":
        path = stem.with_suffix(".xlsx")
        facts.to_excel(path, index=False, sheet_name="Return")
    elif shape == "by_type_csv":
        path = stem.with_suffix(".csv")
        _by_type(raw, provider, month).to_csv(path, index=False)
    elif shape == "parquet":
        path = stem.with_suffix(".parquet")
        facts.to_parquet(path, index=False)
    elif shape == "json":
        path = stem.with_suffix(".json")
        facts.to_json(path, orient="records")
    else:  # pragma: no cover - SHAPES lists them all
        raise ValueError(shape)
    return path


def make_uploads(folder: Path, long: pd.DataFrame, providers: list[str]) -> list[list[Upload]]:
    """Per uploader, its provider's months after the back-fill, each in a rotating shape."""
    raw = pd.read_csv(SOURCE, dtype={"org_code": str, "type": str})
    later = long[long["period"] > BACKFILL_TO]
    plans: list[list[Upload]] = []
    for i, provider in enumerate(providers):
        mine = later[later["provider_code"] == provider]
        files = []
        for j, (month, facts) in enumerate(mine.groupby("period", sort=True)):
            shape = SHAPES[(i + j) % len(SHAPES)]
            if shape == "by_type_csv" and set(facts["metric_id"]) - _BY_TYPE_METRICS:
                shape = "long_csv"
            facts = facts.reset_index(drop=True)
            path = write_file(folder, raw, facts, shape)
            files.append(Upload(provider, str(month), shape, path, facts))
        plans.append(files)
    return plans


_BY_TYPE_METRICS = {
    "ae_attendances_type1",
    "ae_breaches_4hr_type1",
    "ae_attendances_type2",
    "ae_breaches_4hr_type2",
    "ae_attendances_other",
    "ae_breaches_4hr_other",
    "ae_emergency_admissions",
}


# --------------------------------------------------------------------------- the server


def cli(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`collectonce ARGS` against the soak's data folder."""
    env = {**os.environ, "COLLECTONCE_HOME": str(home)}
    command = [sys.executable, "-m", "collectonce.cli", *args, "--catalog", str(CATALOG)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def _proc_rss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _proc_descendants(pid: int) -> list[int]:
    """The processes started by `pid`, and by them, from /proc (no psutil)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = [child for child, p in parents.items() if p == parent]
        found += children
        todo += children
    return found


def rss_mb(pid: int) -> float:
    """The RSS of the server and of the processes it started (its upload processes)."""
    try:
        import psutil
    except ImportError:
        return sum(_proc_rss_mb(p) for p in [pid, *_proc_descendants(pid)])
    total = 0.0
    try:
        server = psutil.Process(pid)
        processes = [server, *server.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for process in processes:
        try:
            total += float(process.memory_info().rss) / 2**20
        except psutil.Error:  # a process that ended meanwhile
            continue
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every_s: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.peak = 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._stop_event.wait(self.every_s)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`collectonce serve` on the soak's data folder; (process, base URL)."""
    try:
        return testing.start_server(home, CATALOG)
    except testing.ServerFailedError as exc:
        raise SystemExit(str(exc)) from None


stop_server = testing.stop_server


# --------------------------------------------------------------------------- the load


@dataclass
class Tally:
    upload_ms: list[float] = field(default_factory=list)
    pull_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: (upload, receipt) for every upload answered with a receipt
    receipts: list[tuple[Upload, dict[str, Any]]] = field(default_factory=list)
    duplicates: int = 0


async def uploader(
    client: Any, base: str, token: str, files: list[Upload], stop_at: float, tally: Tally
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    sent: list[tuple[Upload, dict[str, Any]]] = []
    for upload in files:
        if time.monotonic() >= stop_at:
            break
        receipt = await _send(client, base, headers, upload, tally, expect=(201,))
        if receipt is not None:
            sent.append((upload, receipt))
            tally.receipts.append((upload, receipt))
    if sent:  # the same bytes again: the first receipt, as a duplicate, nothing stored twice
        first, original = sent[0]
        again = await _send(client, base, headers, first, tally, expect=(200,))
        if again is not None:
            if again.get("status") != "duplicate" or again.get("submission_id") != original.get(
                "submission_id"
            ):
                tally.errors.append(f"resent {first.path.name}: answered {again.get('status')}")
            else:
                tally.duplicates += 1


async def _send(
    client: Any,
    base: str,
    headers: dict[str, str],
    upload: Upload,
    tally: Tally,
    expect: tuple[int, ...],
) -> dict[str, Any] | None:
    import httpx

    body = upload.path.read_bytes()
    started = time.perf_counter()
    try:
        response = await client.post(
            f"{base}/v1/submissions",
            headers=headers,
            files={"file": (upload.path.name, body)},
            timeout=UPLOAD_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        tally.errors.append(f"upload {upload.path.name}: {type(exc).__name__}: {exc}")
        return None
    tally.upload_ms.append((time.perf_counter() - started) * 1000)
    if response.status_code not in expect:
        tally.errors.append(
            f"upload {upload.path.name}: HTTP {response.status_code}: {response.text[:300]}"
        )
        return None
    receipt: dict[str, Any] = response.json()
    if not receipt.get("submission_id"):
        tally.errors.append(f"upload {upload.path.name}: answered without a receipt")
        return None
    return receipt


@dataclass
class Pull:
    token: str
    path: str
    params: dict[str, str]
    gzip: bool


def pull_menu(
    tokens: dict[str, str], provider_tokens: dict[str, str], seed: int = 15
) -> list[Pull]:
    """One-quarter views of every provider-level request by its own requester, in JSON (with and
    without gzip) and CSV, and providers' own data for a quarter."""
    from collectonce.catalog import load_catalog

    catalog = load_catalog(CATALOG)
    quarters = [
        (f"{y}-{a:02d}", f"{y}-{b:02d}")
        for y in (2016, 2017, 2018)
        for a, b in ((1, 3), (4, 6), (7, 9), (10, 12))
    ]
    menu: list[Pull] = []
    for code, req in sorted(catalog.requests.items()):
        token = tokens.get(req.requester)
        if token is None:
            continue
        for lo, hi in quarters:
            for fmt, gz in (("json", True), ("json", False), ("csv", False)):
                menu.append(Pull(token, f"/v1/requests/{code}/view", _q(lo, hi, fmt), gz))
    for ods, token in sorted(provider_tokens.items()):
        lo, hi = quarters[len(menu) % len(quarters)]
        menu.append(Pull(token, f"/v1/providers/{ods}/data", _q(lo, hi, "json"), True))
    random.Random(seed).shuffle(menu)
    return menu


def _q(lo: str, hi: str, fmt: str) -> dict[str, str]:
    return {"from": lo, "to": hi, "format": fmt}


async def puller(
    client: Any, base: str, menu: list[Pull], offset: int, stop_at: float, tally: Tally
) -> None:
    import httpx

    i = offset
    while time.monotonic() < stop_at:
        pull = menu[i % len(menu)]
        i += 7
        headers = {
            "Authorization": f"Bearer {pull.token}",
            "Accept-Encoding": "gzip" if pull.gzip else "identity",
        }
        started = time.perf_counter()
        try:
            response = await client.get(
                f"{base}{pull.path}", params=pull.params, headers=headers, timeout=PULL_TIMEOUT_S
            )
        except httpx.HTTPError as exc:
            tally.errors.append(f"pull {pull.path}: {type(exc).__name__}: {exc}")
            continue
        tally.pull_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            tally.errors.append(
                f"pull {pull.path} {pull.params}: HTTP {response.status_code}: "
                f"{response.text[:300]}"
            )


async def publish_midway(home: Path, at: float, tally: Tally) -> tuple[float, int | None]:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    started = time.perf_counter()
    done = await asyncio.to_thread(cli, home, "publish", "--json")
    took = time.perf_counter() - started
    if done.returncode != 0:
        tally.errors.append(f"publish in the middle exited {done.returncode}: {done.stdout[-500:]}")
        return took, None
    return took, json.loads(done.stdout).get("version")


async def run_load(
    base: str,
    home: Path,
    plans: list[list[Upload]],
    provider_tokens: dict[str, str],
    menu: list[Pull],
    pullers: int,
    duration: float,
) -> tuple[Tally, float, int | None, float]:
    import httpx

    tally = Tally()
    limits = httpx.Limits(max_connections=len(plans) + pullers + 8, max_keepalive_connections=None)
    started = time.monotonic()
    stop_at = started + duration
    async with httpx.AsyncClient(limits=limits) as client:
        jobs = [
            uploader(client, base, provider_tokens[files[0].provider], files, stop_at, tally)
            for files in plans
            if files
        ]
        jobs += [puller(client, base, menu, k, stop_at, tally) for k in range(pullers)]
        mid = asyncio.ensure_future(publish_midway(home, started + duration / 2, tally))
        await asyncio.gather(*jobs)
        publish_s, version = await mid
    return tally, publish_s, version, time.monotonic() - started


# --------------------------------------------------------------------------- reconciling


def reconcile(
    home: Path, tally: Tally, backfill: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Check the receipts and the published table through the CLI; (figures, problems)."""
    problems: list[str] = []
    end = cli(home, "publish", "--json")
    if end.returncode != 0:
        problems.append(f"the final publish exited {end.returncode}: {end.stdout[-500:]}")
    end_version = json.loads(end.stdout).get("version") if end.returncode == 0 else None

    listed = cli(home, "submissions", "list", "--limit", "100000", "--json")
    ids = {row["submission_id"] for row in json.loads(listed.stdout)["submissions"]}
    answered = {r["submission_id"] for _u, r in tally.receipts} | {backfill["submission_id"]}
    if missing := answered - ids:
        problems.append(f"{len(missing)} receipts answered over HTTP are not listed: {missing}")
    if extra := ids - answered:
        problems.append(f"{len(extra)} receipts listed that no upload was answered with")

    sql = (
        "SELECT provider_code, strftime(period, '%Y-%m') AS period, metric_id, value, "
        "submission_id FROM unified WHERE NOT is_derived"
    )
    queried = cli(home, "query", sql, "--format", "csv")
    if queried.returncode != 0:
        problems.append(f"collectonce query failed: {queried.stderr[-500:]}")
        published = pd.DataFrame(columns=["provider_code", "period", "metric_id", "value"])
    else:
        published = pd.read_csv(io.StringIO(queried.stdout), dtype={"provider_code": str})
    keys = ["provider_code", "period", "metric_id"]
    duplicate_keys = int(published.duplicated(keys).sum())
    if duplicate_keys:
        problems.append(f"{duplicate_keys} provider x period x metric keys published twice")

    stored = backfill["values_stored"] + sum(r["values_stored"] for _u, r in tally.receipts)
    if len(published) != stored:
        problems.append(
            f"published {len(published)} collected rows; the receipts stored {stored} values"
        )
    per_submission = published.groupby("submission_id").size()
    for upload, receipt in tally.receipts:
        got = int(per_submission.get(receipt["submission_id"], 0))
        if receipt["status"] not in ACCEPTED:
            problems.append(f"{upload.path.name} was {receipt['status']}: {receipt['findings']}")
        elif got != receipt["values_stored"]:
            problems.append(
                f"{upload.path.name}: receipt stored {receipt['values_stored']}, published {got}"
            )

    sent = (
        pd.concat([u.facts for u, _r in tally.receipts], ignore_index=True)
        if tally.receipts
        else None
    )
    missing_facts = wrong = 0
    if sent is not None and not sent.empty:
        both = sent.merge(published, on=keys, how="left", suffixes=("_sent", "_published"))
        missing_facts = int(both["value_published"].isna().sum())
        wrong = int(
            (
                ~np.isclose(both["value_sent"], both["value_published"])
                & both["value_published"].notna()
            ).sum()
        )
        if missing_facts:
            problems.append(f"{missing_facts} accepted facts are not in the published table")
        if wrong:
            problems.append(f"{wrong} published values differ from the files sent")
    figures = {
        "publish_end_version": end_version,
        "receipts_listed": len(ids),
        "published_collected_rows": len(published),
        "receipts_values_stored": stored,
        "duplicate_keys": duplicate_keys,
        "facts_missing": missing_facts,
        "facts_wrong": wrong,
    }
    return figures, problems


# --------------------------------------------------------------------------- the run


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else 0.0


def soak(uploaders: int, pullers: int, duration: float, home: Path) -> Report:
    from collectonce.access.auth import create_token
    from collectonce.catalog import load_catalog
    from collectonce.settings import get_settings

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    catalog = load_catalog(CATALOG)
    settings = get_settings(home=home)
    long = real_long()
    history = home / "ae_history_2016-04_to_2018-03.csv"
    long[long["period"] <= BACKFILL_TO].to_csv(history, index=False)
    done = cli(home, "submit", str(history), "--json")
    if done.returncode != 0:
        raise SystemExit(f"the back-fill was not accepted:\n{done.stdout[-2000:]}")
    backfill = json.loads(done.stdout)
    if (done := cli(home, "publish", "--json")).returncode != 0:
        raise SystemExit(f"the first publish failed:\n{done.stdout[-2000:]}")

    providers = busiest_providers(long, uploaders)
    files_dir = home / "outbox"
    files_dir.mkdir()
    plans = make_uploads(files_dir, long, providers)
    provider_tokens = {
        p: create_token(settings, role="provider", subject=p, catalog=catalog)[1] for p in providers
    }
    requester_tokens = {
        r: create_token(settings, role="requester", subject=r, catalog=catalog)[1]
        for r in sorted(catalog.requesters)
    }
    menu = pull_menu(requester_tokens, provider_tokens)

    proc, base = start_server(home)
    try:
        rss_start = rss_mb(proc.pid)
        sampler = RssSampler(proc.pid)
        sampler.start()
        tally, publish_s, mid_version, took = asyncio.run(
            run_load(base, home, plans, provider_tokens, menu, pullers, duration)
        )
        peak = sampler.stop()
        rss_end = rss_mb(proc.pid)
        if proc.poll() is not None:
            tally.errors.append(f"the server died: exit {proc.returncode}")
    finally:
        stop_server(proc)
    log = (home / "server.log").read_text(errors="replace")
    if "Traceback" in log:
        tally.errors.append("the server logged a traceback: " + log[log.index("Traceback") :][:500])

    figures, problems = reconcile(home, tally, backfill)
    uploads = len(tally.upload_ms)
    return Report(
        uploaders=uploaders,
        pullers=pullers,
        duration_s=round(took, 1),
        backfill_values=int(backfill["values_stored"]),
        uploads=uploads,
        duplicates_answered=tally.duplicates,
        pulls=len(tally.pull_ms),
        errors=len(tally.errors),
        error_samples=tally.errors[:10],
        upload_p50_ms=percentile(tally.upload_ms, 50),
        upload_p99_ms=percentile(tally.upload_ms, 99),
        pull_p50_ms=percentile(tally.pull_ms, 50),
        pull_p99_ms=percentile(tally.pull_ms, 99),
        uploads_per_s=round(uploads / took, 2),
        pulls_per_s=round(len(tally.pull_ms) / took, 1),
        publish_mid_s=round(publish_s, 2),
        publish_mid_version=mid_version,
        reconciled=not problems,
        reconcile_problems=problems[:20],
        server_rss_mb_start=round(rss_start, 1),
        server_rss_mb_peak=round(max(peak, rss_start, rss_end), 1),
        server_rss_mb_end=round(rss_end, 1),
        peak_rss_mb=round(max(peak, rss_start, rss_end), 1),
        load_average=[round(x, 2) for x in os.getloadavg()],
        **figures,
    )


def print_table(r: Report) -> None:
    rows = [
        ("clients", f"{r.uploaders} uploaders, {r.pullers} pullers, {r.duration_s} s", ""),
        ("errors", str(r.errors), "0"),
        ("reconciled", "yes" if r.reconciled else "NO", "yes"),
        ("uploads (and duplicates resent)", f"{r.uploads} ({r.duplicates_answered})", ""),
        ("upload p50 / p99", f"{r.upload_p50_ms} / {r.upload_p99_ms} ms", ""),
        ("pulls", f"{r.pulls} ({r.pulls_per_s}/s)", ""),
        ("pull p50 / p99", f"{r.pull_p50_ms} / {r.pull_p99_ms} ms", "p99 < 250 ms"),
        ("publish in the middle", f"{r.publish_mid_s} s (version {r.publish_mid_version})", ""),
        (
            "published collected rows / receipts' stored values",
            f"{r.published_collected_rows} / {r.receipts_values_stored}",
            "equal",
        ),
        (
            "keys published twice / facts missing / wrong",
            f"{r.duplicate_keys} / {r.facts_missing} / {r.facts_wrong}",
            "0 / 0 / 0",
        ),
        (
            "server RSS start / peak / end",
            f"{r.server_rss_mb_start} / {r.server_rss_mb_peak} / {r.server_rss_mb_end} MB",
            "",
        ),
        ("load average (1, 5, 15 min)", " ".join(map(str, r.load_average)), ""),
    ]
    width = max(len(a) for a, _b, _c in rows)
    vwidth = max(len(b) for _a, b, _c in rows)
    print(f"{'what'.ljust(width)}  {'figure'.ljust(vwidth)}  target")
    for a, b, c in rows:
        print(f"{a.ljust(width)}  {b.ljust(vwidth)}  {c}")
    for line in r.error_samples + r.reconcile_problems:
        print(f"  ! {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-u", "--uploaders", type=int, default=50, help="provider clients")
    parser.add_argument("-p", "--pullers", type=int, default=32, help="regulator clients")
    parser.add_argument("-d", "--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--home", type=Path, help="data folder (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="collectonce-soak-"))
    home.mkdir(parents=True, exist_ok=True)
    try:
        report = soak(args.uploaders, args.pullers, args.duration, home)
    finally:
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)
    if args.json:
        print(json.dumps(asdict(report)))
    else:
        print_table(report)
    return 0 if report.errors == 0 and report.reconciled else 1


if __name__ == "__main__":
    sys.exit(main())
