"""Benchmark building the feedback packs of every provider in the real A&E data.

The input is NHS England's monthly A&E statistics, April 2016 to March 2019, 274 organisations
(``data/ae_attendances.csv``; pass ``--csv`` to read it from elsewhere). It becomes the
unified table through the publish stage's own `build_unified`: attendances and four-hour
breaches of every department type (1, 2 and other) per provider and month, mapped to metrics
as the demo maps them, emergency admissions summed over department types, and the derived
metrics the catalogue computes from them (the type 1 four-hour performance).

Two figures are timed, and the target is at most 60 seconds for both together:

* SPC: preparing every provider x metric series and running the Making Data Count rules over
  all of them in one vectorised call, plus peer positions;
* packs: `build_all_packs` writing HTML, XLSX and CSV for every provider (it runs the SPC
  again itself, so its time is the full cost of the step after a publication).

    python benchmarks/packs.py
    python benchmarks/packs.py --json
    python benchmarks/packs.py --csv path/to/ae_attendances.csv --out packs/
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from collectonce.catalog import Catalog, load_catalog
from collectonce.feedback.pack import build_all_packs, peer_positions, prepare_series, run_spc
from collectonce.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 60.0


def current_from_csv(path: Path, catalog: Catalog) -> pd.DataFrame:
    """Current values (one per provider x month x metric) shaped as the publish stage reads,
    through the catalogue's A&E by-department-type layout."""
    from collectonce.demo_data import ae_to_long

    rows = ae_to_long(pd.read_csv(path, dtype={"org_code": str, "type": str}), catalog)
    rows = rows.assign(period=pd.to_datetime(rows["period"]))
    n = len(rows)
    return rows.assign(
        value=rows["value"].astype("float64"),
        value_status="reported",
        comment=None,
        revision=1,
        submission_id="benchmark",
        file_sha256="0" * 64,
        source_row=range(2, n + 2),
        received_at=rows["period"].dt.tz_localize("UTC") + pd.DateOffset(months=1, days=5),
    )


def run(csv_path: Path, catalog_dir: Path, out: Path | None) -> dict[str, Any]:
    from collectonce.publish.unified import build_unified

    catalog = load_catalog(catalog_dir)
    start = time.perf_counter()
    unified = build_unified(catalog, current_from_csv(csv_path, catalog))
    load_seconds = time.perf_counter() - start

    start = time.perf_counter()
    series = prepare_series(catalog, unified)
    points, summary = run_spc(series)
    peer_positions(catalog, series)
    spc_seconds = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings(home=out if out is not None else Path(tmp))
        start = time.perf_counter()
        built = build_all_packs(catalog, settings, changed_only=False, unified=unified, receipts=[])
        packs_seconds = time.perf_counter() - start
        files = [p for ods in built for p in (settings.packs_dir / ods).iterdir()]
        size = sum(p.stat().st_size for p in files)

        start = time.perf_counter()
        unchanged = build_all_packs(catalog, settings, unified=unified, receipts=[])
        recheck_seconds = time.perf_counter() - start

    providers_in_data = unified["provider_code"].nunique()
    total = spc_seconds + packs_seconds
    return {
        "providers": len(built),
        "providers_in_data": int(providers_in_data),
        "providers_missing_from_catalogue": len(
            set(unified["provider_code"]) - set(catalog.providers)
        ),
        "series": len(summary),
        "points": len(points),
        "special_cause_points": int(
            (points["point_type"].fillna("common_cause") != "common_cause").sum()
        ),
        "unified_rows": len(unified),
        "build_unified_seconds": round(load_seconds, 3),
        "spc_seconds": round(spc_seconds, 3),
        "packs_seconds": round(packs_seconds, 3),
        "per_pack_ms": round(1000 * packs_seconds / max(len(built), 1), 1),
        "unchanged_recheck_seconds": round(recheck_seconds, 3),
        "rebuilt_when_unchanged": len(unchanged),
        "files": len(files),
        "megabytes": round(size / 1e6, 1),
        "seconds": round(total, 3),
        "target_seconds": TARGET_SECONDS,
        "within_target": total <= TARGET_SECONDS,
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=ROOT / "data" / "ae_attendances.csv")
    parser.add_argument("--catalog", type=Path, default=ROOT / "catalog")
    parser.add_argument("--out", type=Path, default=None, help="keep the packs in this data folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if not args.csv.is_file():
        print(
            f"error: {args.csv} not found: pass --csv path/to/ae_attendances.csv", file=sys.stderr
        )
        return 1
    result = run(args.csv, args.catalog, args.out)
    if args.json:
        print(json.dumps(result))
        return 0 if result["within_target"] else 1
    rows = [
        ("providers (packs built)", result["providers"]),
        ("series / points", f"{result['series']:,} / {result['points']:,}"),
        ("special-cause points", f"{result['special_cause_points']:,}"),
        ("SPC + peers, all series (s)", result["spc_seconds"]),
        ("packs: HTML + XLSX + CSV (s)", result["packs_seconds"]),
        ("per pack (ms)", result["per_pack_ms"]),
        ("re-check, nothing changed (s)", result["unchanged_recheck_seconds"]),
        ("files / MB written", f"{result['files']} / {result['megabytes']}"),
        ("total (s), target <= 60", result["seconds"]),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print("within target" if result["within_target"] else "OVER TARGET")
    return 0 if result["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
