"""The burden report as a workbook analysts keep: targets, requesters, peer groups and providers,
each an Excel table, with a README sheet (see `collectonce.publish.workbook`)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from collectonce.burden.model import BurdenReport
from collectonce.publish import workbook

#: Sheets: (name, rows key or callable, columns as (header, key, number kind)).
_HOURS = "number"


def _sheets(d: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]], list[tuple[str, str]]]]:
    targets = [
        {
            "measure": t["measure"],
            "description": t["description"],
            "target": t["target"],
            "actual": t["actual"],
            "met": "met" if t["met"] else "not met",
            "gap": t["gap"],
            "by": t["by"] or "",
        }
        for t in d["targets"]
    ]
    requesters = [
        {
            "requester": r["requester"],
            "name": r["name"],
            "requests": ", ".join(r["requests"]),
            "items": r["items"],
            "hours_before": r["hours_before"],
            "hours_after": r["hours_after"],
            "hours_saved": r["hours_saved"],
            "reduction_pct": r["reduction_pct"],
            "cost_saved_gbp": r["cost_saved_gbp"],
        }
        for r in d["per_requester"]
    ]
    groups = [
        {
            "peer_group": g["peer_group"],
            "providers": g["providers"],
            "items_before_per_provider": g["items_before_per_provider"],
            "metrics_after_per_provider": g["metrics_after_per_provider"],
            "hours_before_per_provider": g["per_provider"]["hours_before"],
            "hours_after_per_provider": g["per_provider"]["hours_after"],
            "hours_saved_per_provider": g["per_provider"]["hours_saved"],
            "hours_saved": g["hours_saved"],
        }
        for g in d["per_peer_group"]
    ]
    providers = [
        {
            "provider": p["provider"],
            "name": p["name"],
            "peer_group": p["peer_group"],
            "items_before": p["items_before"],
            "metrics_after": p["metrics_after"],
            "hours_before": p["hours_before"],
            "hours_after": p["hours_after"],
            "hours_saved": p["hours_saved"],
            "cost_saved_gbp": p["cost_saved_gbp"],
        }
        for p in d["per_provider"]
    ]
    return [
        ("Targets", targets, _kinds(targets)),
        ("Requesters", requesters, _kinds(requesters)),
        ("Peer groups", groups, _kinds(groups)),
        ("Providers", providers, _kinds(providers)),
    ]


def _kinds(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    if not rows:
        return []
    out = []
    for key, value in rows[0].items():
        if key.endswith("_pct") or key in ("target", "actual", "gap"):
            kind = "number"
        elif key.endswith("_gbp"):
            kind = "gbp"
        elif key.startswith("hours"):
            kind = "number"
        elif isinstance(value, int) and not isinstance(value, bool):
            kind = "count"
        else:
            kind = "text"
        out.append((key, kind))
    return out


def burden_workbook(report: BurdenReport) -> bytes:
    """The report as XLSX bytes."""
    import xlsxwriter

    d = report.to_dict()
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    fmts = workbook.formats(book)
    fmts["gbp"] = book.add_format({"num_format": '"£"#,##0'})
    used: set[str] = set()
    for name, rows, columns in _sheets(d):
        sheet = book.add_worksheet(name)
        headers = [c for c, _ in columns] or ["(none)"]
        workbook.add_table(
            sheet,
            headers,
            0,
            len(rows),
            name=workbook.table_name(name, used),
            head=fmts["head"],
            column_formats={c: fmts[k] for c, k in columns if k in fmts},
            widths={"name": 44, "description": 60, "requests": 40, "peer_group": 24},
            default_width=16,
        )
        for i, row in enumerate(rows, start=1):
            for j, (column, _kind) in enumerate(columns):
                value = row[column]
                if isinstance(value, int | float) and not isinstance(value, bool):
                    sheet.write_number(i, j, value)
                else:
                    sheet.write_string(i, j, str(value))
    about = [
        ("Catalogue version", d["catalog_version"]),
        ("Providers", d["providers"]),
        ("Hourly cost", f"£{d['hourly_cost_gbp']:,.2f}"),
        ("Hours a year before", f"{d['hours_before']:,.0f}"),
        ("Hours a year after collecting once", f"{d['hours_after']:,.0f}"),
        ("Items requested", d["items_requested"]),
        ("Unique items", d["unique_items"]),
    ]
    definitions = [
        ("hours_before", "Hours a year when each request is collected separately."),
        ("hours_after", "Hours a year when each distinct metric is collected once."),
        ("hours_saved", "hours_before − hours_after."),
        ("cost_saved_gbp", "Hours saved at the hourly cost."),
        *((f"assumption {i}", a) for i, a in enumerate(d["assumptions"], start=1)),
    ]
    workbook.readme_sheet(book, fmts, "Reporting burden", about, definitions, used=used)
    book.close()
    return buffer.getvalue()


def write_burden_xlsx(report: BurdenReport, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(burden_workbook(report))
    return path
