"""The templates a provider fills in from its collection plan: the canonical long CSV, and an
XLSX workbook with value checks and dropdowns, a Metrics sheet and a README sheet."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from collectonce.burden.plan_model import TEMPLATE_COLUMNS, CollectionPlan, PlanItem
from collectonce.catalog.models import Metric


def write_csv_template(plan: CollectionPlan, path: Path | str) -> Path:
    """Write the canonical long CSV template: one row per metric and period, value blank."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        fieldnames: list[str] = list(TEMPLATE_COLUMNS)
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(plan.template_rows())
    return path


def _range_text(metric: Metric) -> str:
    kind = "a whole number" if metric.value_type == "integer" else "a number"
    lo, hi = metric.valid.min, metric.valid.max
    if lo is not None and hi is not None:
        return f"{kind} from {lo:g} to {hi:g}"
    if lo is not None:
        return f"{kind} of at least {lo:g}"
    if hi is not None:
        return f"{kind} of at most {hi:g}"
    return kind


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def write_xlsx_template(plan: CollectionPlan, path: Path | str) -> Path:
    """Write the XLSX template: a Data sheet with checks and dropdowns, Metrics and README sheets.

    Value cells carry a whole-number or decimal check from the metric's valid range. The check
    warns rather than blocks, so a provider can still type `*` for a suppressed small number.
    Written with xlsxwriter, the one XLSX writer (see ``benchmarks/xlsx.py``).
    """
    import xlsxwriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    try:
        _write_template(book, plan)
    finally:
        book.close()
    return path


_METRIC_COLUMNS = (
    "metric_id",
    "label",
    "definition",
    "why_collected",
    "unit",
    "value_type",
    "valid_min",
    "valid_max",
    "periods",
    "due",
    "requesters",
)


def _write_template(book: Any, plan: CollectionPlan) -> None:
    header = book.add_format({"bold": True, "bg_color": "#DDE7F0", "pattern": 1})
    key = book.add_format({"bg_color": "#F2F2F2", "pattern": 1})
    wrapped = book.add_format({"text_wrap": True, "valign": "top"})
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})

    data = book.add_worksheet("Data")
    data.write_row(0, 0, list(TEMPLATE_COLUMNS), header)
    data.freeze_panes(1, 0)
    for column, width in enumerate((14, 10, 34, 14, 48)):
        data.set_column(column, column, width)

    metrics_sheet = book.add_worksheet("Metrics")
    metrics_sheet.write_row(0, 0, list(_METRIC_COLUMNS), header)
    for column, width in enumerate((34, 40, 60, 60, 10, 10, 10, 10, 22, 12, 40)):
        metrics_sheet.set_column(column, column, width)
    metrics_sheet.freeze_panes(1, 1)

    row = 1
    for index, item in enumerate(plan.items, start=1):
        metric = item.metric
        values = [
            metric.code,
            metric.label,
            metric.definition,
            metric.why_collected,
            metric.unit,
            metric.value_type,
            metric.valid.min,
            metric.valid.max,
            ", ".join(item.periods),
            item.due.isoformat(),
            ", ".join(name for _, name in item.requesters),
        ]
        for column, value in enumerate(values):
            if value is None:
                metrics_sheet.write_blank(index, column, None, wrapped)
            else:
                metrics_sheet.write(index, column, value, wrapped)
        first = row
        for period in item.periods:
            data.write_string(row, 0, plan.provider.ods_code, key)
            data.write_string(row, 1, period, key)
            data.write_string(row, 2, metric.code, key)
            row += 1
        if row > first:
            data.data_validation(first, 3, row - 1, 3, _value_check(metric, item))
    if row > 1:
        n_metrics = max(len(plan.items), 1)
        data.data_validation(
            1,
            2,
            row - 1,
            2,
            {
                "validate": "list",
                "source": f"=Metrics!$A$2:$A${n_metrics + 1}",
                "ignore_blank": False,
                "show_error": True,
                "error_title": "Unknown metric",
                "error_message": "Pick a metric_id from the list (see the Metrics sheet).",
            },
        )

    readme = book.add_worksheet("README")
    readme.set_column(0, 0, 110)
    lines = [
        f"Collection template for {plan.provider.ods_code} {plan.provider.name}".rstrip(),
        f"Period: {plan.period}    Catalogue version: {plan.catalog_version}",
        "",
        "How to fill it in",
        "1. Type each figure in the `value` column of the Data sheet. Leave the other keys as they "
        "are.",
        "2. Type 0 for a true zero. Type * for a small number you must suppress. "
        "Leave the cell blank only when the figure is not available, and say why in `comment`.",
        "3. Each value cell shows why the figure is collected and the range it must fall in.",
        "4. Save the file and submit it once: every request below is served from it.",
        "",
        "Requests served by this submission",
    ]
    lines += [
        f"- {r['requester_name']}: {r['title']} ({r['reporting_period']}), due {r['due']}"
        for r in plan.requests_due
    ]
    if plan.unmapped_items:
        lines += ["", "Still collected by each request's own form (not in this template)"]
        lines += [
            f"- {u['request']} {u['their_code']}: {u['their_label']}" for u in plan.unmapped_items
        ]
    lines += [
        "",
        "Derived figures such as percentages are computed from these counts: do not submit them.",
        "The Metrics sheet gives each metric's definition, why it is collected and who uses it.",
    ]
    sections = {"How to fill it in", "Requests served by this submission"}
    for number, line in enumerate(lines):
        if not line:
            continue
        if number == 0:
            readme.write_string(number, 0, line, title)
        elif line in sections or line.startswith("Still collected"):
            readme.write_string(number, 0, line, bold)
        else:
            readme.write_string(number, 0, line)


def _value_check(metric: Metric, item: PlanItem) -> dict[str, Any]:
    """xlsxwriter's data validation of one metric's value cells."""
    lo, hi = metric.valid.min, metric.valid.max
    if lo is not None and hi is not None:
        bounds: dict[str, Any] = {"criteria": "between", "minimum": lo, "maximum": hi}
    elif lo is not None:
        bounds = {"criteria": ">=", "value": lo}
    elif hi is not None:
        bounds = {"criteria": "<=", "value": hi}
    else:
        bounds = {"criteria": "between", "minimum": -1e15, "maximum": 1e15}
    bounds = {k: (_number(v) if k != "criteria" else v) for k, v in bounds.items()}
    users = ", ".join(name for _, name in item.requesters)
    prompt = f"{metric.why_collected} Used by {users}. Enter {_range_text(metric)} ({metric.unit})."
    return {
        "validate": "integer" if metric.value_type == "integer" else "decimal",
        **bounds,
        "ignore_blank": True,
        "show_input": True,
        "input_title": _clip(metric.label, 32),
        "input_message": _clip(prompt, 255),
        "show_error": True,
        "error_type": "warning",
        "error_title": _clip("Outside the valid range", 32),
        "error_message": _clip(
            f"{metric.label}: expected {_range_text(metric)}. Type * only for a suppressed "
            "small number.",
            255,
        ),
    }


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
