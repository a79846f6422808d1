"""Which XLSX reader and writer: openpyxl, python-calamine and xlsxwriter, timed on the same files.

Readers (each reads every cell of the first sheet, values only, in a warm process; median of
``--runs``), on workbooks made the way providers make them:

* a filled 50-value template (canonical long layout, written cell by cell with openpyxl);
* NHS England's published monthly A&E workbook layout with its title block
  (``tests/fixtures/submissions``);
* the real A&E statistics (``data/ae_attendances.csv``) as one long sheet, ``--rows`` values.

Writers (a sheet of the same real values, numbers as numbers, one bold header row): xlsxwriter
in constant-memory mode and openpyxl's write-only mode. The import time of each library is
timed apart, in a fresh process, because a 50-value file pays it on every `collectonce submit`.

    python benchmarks/xlsx.py [--rows 200000] [--runs 3] [--json]

python-calamine is optional here: its rows are left out when it is not installed.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "ae_attendances.csv"
TITLE_BLOCK = (
    ROOT
    / "tests"
    / "fixtures"
    / "submissions"
    / "rf4__nhse_published_monthly_ae_current_headings_title_block.xlsx"
)


def _median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _long_rows(rows: int) -> list[list[Any]]:
    import pandas as pd

    raw = pd.read_csv(SOURCE, dtype={"org_code": str})
    long = raw.melt(id_vars=["period", "org_code", "type"], var_name="metric", value_name="value")
    long = long.dropna(subset=["value"])
    while len(long) < rows:
        long = pd.concat([long, long], ignore_index=True)
    long = long.head(rows)
    return [["provider_code", "period", "metric_id", "value"]] + [
        [o, str(p)[:7], f"{m}_{t}", float(v)]
        for o, p, m, t, v in long[["org_code", "period", "metric", "type", "value"]].itertuples(
            index=False
        )
    ]


def write_openpyxl(path: Path, rows: list[list[Any]]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Data")
    bold = Font(bold=True)
    header = []
    for text in rows[0]:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows[1:]:
        sheet.append(row)
    book.save(path)


def write_xlsxwriter(path: Path, rows: list[list[Any]]) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("Data")
    sheet.write_row(0, 0, rows[0], book.add_format({"bold": True}))
    for i, row in enumerate(rows[1:], start=1):
        sheet.write_row(i, 0, row)
    book.close()


def read_openpyxl(path: Path) -> int:
    import openpyxl

    with path.open("rb") as handle:
        book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        try:
            return sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()


def read_calamine(path: Path) -> int:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes()))
    return sum(1 for _ in book.get_sheet_by_index(0).iter_rows())


def _import_time(module: str, runs: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if done.returncode != 0:
            return float("nan")
        times.append(float(done.stdout))
    return statistics.median(times)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def run(rows: int, runs: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="collectonce-xlsx-"))
    big = _long_rows(rows)
    small = _long_rows(50)
    template = work / "template_50.xlsx"
    write_openpyxl(template, small)
    files = {"template_50": template, "title_block": TITLE_BLOCK}
    result: dict[str, Any] = {"rows": rows, "runs": runs, "read_s": {}, "write_s": {}}
    big_path = work / "long.xlsx"
    result["write_s"]["xlsxwriter"] = round(
        _median(lambda: write_xlsxwriter(big_path, big), runs), 3
    )
    other = work / "long_openpyxl.xlsx"
    result["write_s"]["openpyxl"] = round(_median(lambda: write_openpyxl(other, big), runs), 3)
    files[f"long_{rows}"] = big_path
    readers: dict[str, Callable[[Path], int]] = {"openpyxl": read_openpyxl}
    if _has("python_calamine"):
        readers["calamine"] = read_calamine
    for label, path in files.items():
        counts = {name: fn(path) for name, fn in readers.items()}  # also warms each reader
        if len(set(counts.values())) != 1:
            raise SystemExit(f"{label}: the readers disagree on the rows: {counts}")
        result["read_s"][label] = {
            name: round(_median(lambda fn=fn, path=path: fn(path), runs), 4)
            for name, fn in readers.items()
        }
    result["import_s"] = {
        m: round(_import_time(m, runs), 3)
        for m in ("openpyxl", "xlsxwriter", "python_calamine")
        if _has(m)
    }
    return result


def print_table(r: dict[str, Any]) -> None:
    print(f"{'what':40} " + "  ".join(f"{k:>12}" for k in ("openpyxl", "calamine", "xlsxwriter")))
    for label, times in r["read_s"].items():
        cells = [f"{times.get(k, float('nan')):>11.4f}s" for k in ("openpyxl", "calamine")]
        print(f"{'read ' + label:40} " + "  ".join(cells) + f"  {'':>12}")
    w = r["write_s"]
    label = f"write long_{r['rows']}"
    print(f"{label:40} {w['openpyxl']:>11.3f}s  {'':>12}  {w['xlsxwriter']:>11.3f}s")
    imp = r["import_s"]
    cells = [
        f"{imp.get(k, float('nan')):>11.3f}s" for k in ("openpyxl", "python_calamine", "xlsxwriter")
    ]
    print(f"{'import (fresh process)':40} " + "  ".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="values in the long workbook")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args.rows, max(1, args.runs))
    show = (lambda r: print(json.dumps(r))) if args.json else print_table
    show(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
