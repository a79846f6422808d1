"""Files made the way providers and data teams make them, from the bundled real A&E data.

Each maker writes one file for RF4 and a month (January 2019 unless given) into a folder and
returns a `UserFile`: the file, and what its receipt and the submissions table must say once it
is submitted. The figures are RF4's real ones (NHS England A&E Attendances and Emergency
Admissions, Open Government Licence).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "catalog"
DATA = ROOT / "data" / "ae_attendances.csv"
PROVIDER, MONTH = "RF4", "2019-01"
#: A note a person types: an en dash and a pound sign (bytes that differ in Windows-1252).
NOTE = "Winter pressures – £0 spent on agency cover"

#: The value of one stored fact: a number (a true zero included), or None with its status.
Fact = tuple[float | None, str]


@dataclass
class UserFile:
    name: str
    path: Path
    #: The month the file reports (YYYY-MM).
    month: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    #: metric -> (value, status) for PROVIDER and `month`, exactly what must be stored.
    facts: dict[str, Fact]
    #: metric -> the comment stored with it.
    comments: dict[str, str] = field(default_factory=dict)
    #: Rows read and deliberately not stored (a published file's total row).
    rows_skipped: int = 0


def real_by_type(month: str = MONTH) -> pd.DataFrame:
    """RF4's three rows of a month in the bundled data (one per department type)."""
    data = pd.read_csv(DATA, dtype={"type": str})
    return data[(data["org_code"] == PROVIDER) & (data["period"] == f"{month}-01")].reset_index(
        drop=True
    )


def real_facts(month: str = MONTH) -> dict[str, float]:
    """The canonical metrics of RF4's A&E figures for a month."""
    rows = real_by_type(month).set_index("type")
    return {
        "ae_attendances_type1": float(rows.loc["1", "attendances"]),
        "ae_attendances_type2": float(rows.loc["2", "attendances"]),
        "ae_attendances_other": float(rows.loc["other", "attendances"]),
        "ae_breaches_4hr_type1": float(rows.loc["1", "breaches"]),
        "ae_breaches_4hr_type2": float(rows.loc["2", "breaches"]),
        "ae_breaches_4hr_other": float(rows.loc["other", "breaches"]),
        "ae_emergency_admissions": float(rows["admissions"].sum()),
    }


def long_frame(month: str = MONTH, *, suppressed: bool = True) -> pd.DataFrame:
    """The canonical long template as a person fills it: the real figures, a trolley-wait count,
    a suppressed small number (``*``) or a true zero, and a comment on the first row."""
    rows = [
        {"provider_code": PROVIDER, "period": month, "metric_id": m, "value": v, "comment": ""}
        for m, v in real_facts(month).items()
    ]
    rows[0]["comment"] = NOTE
    rows.append(
        {
            "provider_code": PROVIDER,
            "period": month,
            "metric_id": "ae_dta_waits_over_4hr",
            "value": 312,
            "comment": "",
        }
    )
    rows.append(
        {
            "provider_code": PROVIDER,
            "period": month,
            "metric_id": "ae_dta_waits_over_12hr",
            "value": "*" if suppressed else 0,
            "comment": "",
        }
    )
    frame = pd.DataFrame(rows)
    if not suppressed:
        frame["value"] = frame["value"].astype(int)
    return frame


def long_facts(month: str = MONTH, *, suppressed: bool = True) -> dict[str, Fact]:
    facts: dict[str, Fact] = {m: (v, "reported") for m, v in real_facts(month).items()}
    facts["ae_dta_waits_over_4hr"] = (312.0, "reported")
    facts["ae_dta_waits_over_12hr"] = (None, "suppressed") if suppressed else (0.0, "reported")
    return facts


def _long(name: str, path: Path, month: str, *, suppressed: bool = True) -> UserFile:
    frame = long_frame(month, suppressed=suppressed)
    n = len(frame)
    return UserFile(
        name,
        path,
        month,
        n,
        n,
        0,
        long_facts(month, suppressed=suppressed),
        {"ae_attendances_type1": NOTE},
    )


# -------------------------------------------------------------------------------- the makers


def pandas_xlsx(folder: Path, month: str = MONTH) -> UserFile:
    path = folder / f"RF4_{month}_pandas.xlsx"
    long_frame(month).to_excel(path, index=False, sheet_name="Return")
    return _long("pandas to_excel", path, month)


def pandas_parquet(folder: Path, month: str = MONTH) -> UserFile:
    path = folder / f"RF4_{month}.parquet"
    long_frame(month, suppressed=False).to_parquet(path, index=False)
    return _long("pandas to_parquet", path, month, suppressed=False)


def pandas_json_records(folder: Path, month: str = MONTH) -> UserFile:
    path = folder / f"RF4_{month}_records.json"
    long_frame(month).to_json(path, orient="records")
    return _long("pandas to_json records", path, month)


def pandas_json_lines(folder: Path, month: str = MONTH) -> UserFile:
    path = folder / f"RF4_{month}_lines.jsonl"
    long_frame(month).to_json(path, orient="records", lines=True)
    return _long("pandas to_json lines", path, month)


def _csv_maker(label: str, suffix: str, **to_csv: object) -> Callable[..., UserFile]:
    def make(folder: Path, month: str = MONTH) -> UserFile:
        path = folder / f"RF4_{month}_{suffix}.csv"
        long_frame(month).to_csv(path, index=False, **to_csv)  # type: ignore[arg-type]
        return _long(label, path, month)

    make.__name__ = f"csv_{suffix}"
    return make


csv_utf8_bom = _csv_maker("CSV UTF-8 with BOM", "bom", encoding="utf-8-sig")
csv_cp1252 = _csv_maker("CSV Windows-1252", "cp1252", encoding="cp1252")
csv_semicolon = _csv_maker("CSV ; delimited", "semicolon", sep=";", encoding="cp1252")
csv_tab = _csv_maker("CSV tab delimited", "tab", sep="\t")
csv_pipe = _csv_maker("CSV | delimited", "pipe", sep="|")


def by_type_csv(folder: Path, month: str = MONTH) -> UserFile:
    """The layout of the bundled data: one row per provider, month and department type."""
    path = folder / f"RF4_{month}_by_type.csv"
    real_by_type(month).to_csv(path, index=False)
    facts: dict[str, Fact] = {m: (v, "reported") for m, v in real_facts(month).items()}
    return UserFile("A&E by department type", path, month, 3, 3, 0, facts)


def request_template(folder: Path, month: str = MONTH) -> UserFile:
    """NHS England's own monthly A&E return (request nhse_ae_monthly), one column per item code,
    its totals included (they are computed, so they are not stored)."""
    path = folder / f"RF4_{month}_nhse_ae_monthly.csv"
    real = real_facts(month)
    values = {
        "AEA01": real["ae_attendances_type1"],
        "AEA02": real["ae_attendances_type2"],
        "AEA03": real["ae_attendances_other"],
        "AEA04": real["ae_attendances_type1"]
        + real["ae_attendances_type2"]
        + real["ae_attendances_other"],
        "AEA05": real["ae_breaches_4hr_type1"],
        "AEA06": real["ae_breaches_4hr_type2"],
        "AEA07": real["ae_breaches_4hr_other"],
        "AEA08": real["ae_breaches_4hr_type1"]
        + real["ae_breaches_4hr_type2"]
        + real["ae_breaches_4hr_other"],
        "AEA09": real["ae_emergency_admissions"],
        "AEA10": 1850,
        "AEA11": 312,
        "AEA12": 0,
    }
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Org Code", "Org Name", "Period", *values])
        writer.writerow(
            [
                PROVIDER,
                "Barking, Havering and Redbridge University Hospitals NHS Trust",
                month,
                *(f"{v:.0f}" for v in values.values()),
            ]
        )
    facts: dict[str, Fact] = {m: (v, "reported") for m, v in real.items()}
    facts["emergency_admissions_not_via_ae"] = (1850.0, "reported")
    facts["ae_dta_waits_over_4hr"] = (312.0, "reported")
    facts["ae_dta_waits_over_12hr"] = (0.0, "reported")
    return UserFile("a request's own template", path, month, 1, 1, 0, facts)


def nhse_published(folder: Path, month: str = MONTH) -> UserFile:
    """NHS England's published monthly A&E file (the headings of files since 2020), with its
    total row, saved as CSV."""
    when = pd.Period(month, freq="M")
    path = folder / f"Monthly-AE-{when.strftime('%B-%Y')}.csv"
    rows = real_by_type(month).set_index("type")
    header = [
        "Period",
        "Org Code",
        "Parent Org",
        "Org name",
        "A&E attendances Type 1",
        "A&E attendances Type 2",
        "A&E attendances Other A&E Department",
        "A&E attendances Booked Appointments Type 1",
        "A&E attendances Booked Appointments Type 2",
        "A&E attendances Booked Appointments Other Department",
        "Attendances over 4hrs Type 1",
        "Attendances over 4hrs Type 2",
        "Attendances over 4hrs Other Department",
        "Attendances over 4hrs Booked Appointments Type 1",
        "Attendances over 4hrs Booked Appointments Type 2",
        "Attendances over 4hrs Booked Appointments Other Department",
        "Patients who have waited 4-12 hs from DTA to admission",
        "Patients who have waited 12+ hrs from DTA to admission",
        "Emergency admissions via A&E - Type 1",
        "Emergency admissions via A&E - Type 2",
        "Emergency admissions via A&E - Other A&E department",
        "Other emergency admissions",
    ]
    figures = [
        rows.loc["1", "attendances"],
        rows.loc["2", "attendances"],
        rows.loc["other", "attendances"],
        0,
        0,
        0,
        rows.loc["1", "breaches"],
        rows.loc["2", "breaches"],
        rows.loc["other", "breaches"],
        0,
        0,
        0,
        300,
        12,
        rows.loc["1", "admissions"],
        rows.loc["2", "admissions"],
        rows.loc["other", "admissions"],
        1850,
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerow(
            [
                f"MSitAE-{when.strftime('%B-%Y').upper()}",
                PROVIDER,
                "NHS ENGLAND LONDON",
                "BARKING, HAVERING AND REDBRIDGE UNIVERSITY HOSPITALS NHS TRUST",
                *figures,
            ]
        )
        writer.writerow(["TOTAL", "TOTAL", "-", "TOTAL", *figures])
    facts: dict[str, Fact] = {m: (v, "reported") for m, v in real_facts(month).items()}
    facts["ae_dta_waits_over_4hr"] = (312.0, "reported")
    facts["ae_dta_waits_over_12hr"] = (12.0, "reported")
    facts["emergency_admissions_not_via_ae"] = (1850.0, "reported")
    # The total row is read and skipped with a warning: its figures are not stored (collectonce
    # works totals out itself).
    return UserFile("NHS England's published A&E file", path, month, 2, 1, 0, facts, rows_skipped=1)


def plan_values(metrics: list[str], month: str = MONTH) -> dict[str, float]:
    """A figure for every metric of the plan that passes the catalogue's range and cross-metric
    rules: the real A&E figures, and for the rest values raised until every rule holds."""
    from collectonce.catalog import load_catalog

    catalog = load_catalog(CATALOG)
    real = real_facts(month)
    values: dict[str, float] = {}
    for code in metrics:
        metric = catalog.metrics[code]
        if code in real:
            values[code] = real[code]
        elif metric.unit == "percent":
            values[code] = 90.0
        else:
            values[code] = 40.0
    for _ in range(50):
        changed = False
        for code in metrics:
            for rule in catalog.metrics[code].rules:
                if rule.other not in values:
                    continue
                a, b = values[code], values[rule.other]
                small, big = (code, rule.other) if rule.op in ("lte", "lt") else (rule.other, code)
                if rule.op == "eq" and a != b:
                    values[code] = values[rule.other] = max(a, b)
                    changed = True
                elif rule.op != "eq" and values[small] >= values[big]:
                    if big in real:
                        values[small] = values[big] - 1
                    else:
                        values[big] = values[small] + 10
                    changed = True
        if not changed:
            break
    return values


def _plan(folder: Path, which: str, month: str) -> Path:
    out = folder / f"plan_{which}_{month}"
    out.mkdir(exist_ok=True)
    target = out / f"RF4_{month}_template.{which}"
    subprocess.run(
        [
            collectonce_command(),
            "plan",
            "--provider",
            PROVIDER,
            "--period",
            month,
            "--catalog",
            str(CATALOG),
            f"--{which}-template",
            str(target),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "COLLECTONCE_HOME": str(out / "home")},
    )
    return target


def collectonce_command() -> str:
    """The `collectonce` command installed beside this Python."""
    beside = Path(sys.executable).with_name("collectonce")
    return str(beside) if beside.exists() else "collectonce"


def run_cli(home: Path, *args: str, env: Mapping[str, str] | None = None) -> tuple[int, Any, str]:
    """Run `collectonce ARGS` with its data folder at `home`: the exit code, the JSON printed
    on stdout (or None) and all the output."""
    result = subprocess.run(
        [collectonce_command(), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLLECTONCE_HOME": str(home), **(env or {})},
        timeout=300,
    )
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        data = None
    return result.returncode, data, result.stdout + result.stderr


def plan_xlsx(folder: Path, month: str = MONTH) -> UserFile:
    """The plan's own XLSX template, filled in with openpyxl as a provider fills it in Excel."""
    import openpyxl

    folder.mkdir(parents=True, exist_ok=True)
    template = _plan(folder, "xlsx", month)
    book = openpyxl.load_workbook(template)
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    col = {name: i for i, name in enumerate(header)}
    rows = list(sheet.iter_rows(min_row=2))
    metrics = [str(r[col["metric_id"]].value) for r in rows if r[col["metric_id"]].value]
    values = plan_values(metrics, month)
    for row in rows:
        code = row[col["metric_id"]].value
        if code:
            row[col["value"]].value = values[str(code)]
            if code == "ae_attendances_type1":
                row[col["comment"]].value = NOTE
    path = folder / f"RF4_{month}_filled.xlsx"
    book.save(path)
    facts: dict[str, Fact] = {m: (v, "reported") for m, v in values.items()}
    n = len(metrics)
    return UserFile(
        "the plan's XLSX template", path, month, n, n, 0, facts, {"ae_attendances_type1": NOTE}
    )


def plan_csv(folder: Path, month: str = MONTH) -> UserFile:
    """The plan's own CSV template, filled in and saved again as CSV."""
    template = _plan(folder, "csv", month)
    with template.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    values = plan_values([r["metric_id"] for r in rows], month)
    for row in rows:
        row["value"] = f"{values[row['metric_id']]:g}"
        if row["metric_id"] == "ae_attendances_type1":
            row["comment"] = NOTE
    path = folder / f"RF4_{month}_filled.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    facts: dict[str, Fact] = {m: (v, "reported") for m, v in values.items()}
    n = len(rows)
    return UserFile(
        "the plan's CSV template", path, month, n, n, 0, facts, {"ae_attendances_type1": NOTE}
    )


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _save_with_libreoffice(folder: Path, source: Path, *extra: str) -> Path:
    """`source` opened and saved as XLSX by LibreOffice Calc (headless)."""
    exe = soffice()
    if exe is None:
        raise FileNotFoundError("soffice")
    out = folder / "libreoffice"
    out.mkdir(exist_ok=True)
    subprocess.run(
        [
            exe,
            "--headless",
            "--norestore",
            f"-env:UserInstallation=file://{folder / 'lo-profile'}",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            *extra,
            "--outdir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return out / (source.stem + ".xlsx")


def libreoffice_plan_xlsx(folder: Path, month: str = MONTH) -> UserFile:
    """The plan's XLSX template filled in, then opened and saved again in LibreOffice Calc."""
    made = plan_xlsx(folder / "for_libreoffice", month)
    path = _save_with_libreoffice(folder, made.path)
    saved = path.with_name(f"RF4_{month}_saved_by_libreoffice.xlsx")
    path.rename(saved)
    return UserFile(
        "the plan's XLSX template saved by LibreOffice",
        saved,
        month,
        made.rows_read,
        made.rows_accepted,
        made.rows_rejected,
        made.facts,
        made.comments,
    )


def libreoffice_xlsx(folder: Path, month: str = MONTH) -> UserFile:
    """The CSV template opened in LibreOffice Calc and saved as XLSX."""
    made = csv_utf8_bom(folder, month)
    path = _save_with_libreoffice(folder, made.path, "--infilter=CSV:44,34,76,1")
    return UserFile(
        "LibreOffice-saved XLSX",
        path,
        month,
        made.rows_read,
        made.rows_accepted,
        made.rows_rejected,
        made.facts,
        made.comments,
    )


#: Every maker, by a short id used in test names.
MAKERS: dict[str, Callable[..., UserFile]] = {
    "plan_xlsx": plan_xlsx,
    "plan_csv": plan_csv,
    "pandas_xlsx": pandas_xlsx,
    "pandas_parquet": pandas_parquet,
    "json_records": pandas_json_records,
    "json_lines": pandas_json_lines,
    "csv_bom": csv_utf8_bom,
    "csv_cp1252": csv_cp1252,
    "csv_semicolon": csv_semicolon,
    "csv_tab": csv_tab,
    "csv_pipe": csv_pipe,
    "by_type": by_type_csv,
    "request_template": request_template,
    "nhse_published": nhse_published,
    "libreoffice_xlsx": libreoffice_xlsx,
    "libreoffice_plan_xlsx": libreoffice_plan_xlsx,
}
