"""The collection plan: what one provider owes for one month, each metric once.

When a request is due
    A monthly request is due every month. A quarterly request is due in the last month of its
    NHS quarter: the plan for 2019-03 includes quarterly requests for 2018/19 Q4 (January to
    March 2019). A yearly request is due in March, the last month of the NHS financial year
    (April to March): the plan for 2019-03 includes yearly requests for 2018/19. A request whose
    file says ``year_start: january`` counts calendar quarters and years instead (2019-Q1, 2019,
    due in December). Periods are worked out by `collectonce.nhs_periods`.

What the provider owes
    The deduplicated union of the items of every request due, mapped down to *collected* metrics:
    an item mapped to a derived metric is replaced by that metric's collected inputs, and derived
    metrics are never listed. Each metric appears once, with the earliest deadline among the
    requests due, and with every requester and request item that uses the month's figure: the
    requests due now, and the quarterly or yearly requests still open that will add this month in
    (any aggregate but ``last``, which takes only the period's final month). Items of the requests
    due that rest on a draft metric (not collected yet) are listed with the unmapped items.

    A metric is collected at the finest frequency any of the provider's requests needs it (the
    same rule as the burden model). So a monthly metric that only a quarterly request needs is
    owed at the quarter's end, for each month of the quarter; once any monthly request needs it,
    it is owed every month for that month alone. The `periods` of a plan item are the metric's own
    grain periods that end within the months the plan covers, written as the submission readers
    read them: ``2019-03`` for a month, ``2018/19 Q4`` for an NHS quarter, ``2018/19`` for a
    financial year.

A plan asks only for what is in force: a metric is left out for a month before it was first
collected (``status.first_collected``, or ``effective_from`` when the metric has had one
version) or after ``effective_to``, and a period outside those dates is never put in the
template. A metric whose current version took effect later (``effective_from``) is asked for
under the definition in force at the time, so a filled template draws no warnings about dates.

Unmapped items of the requests due are listed apart: they are still collected by each request's
own form.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectonce import nhs_periods
from collectonce.burden.model import item_inputs, requests_for_group
from collectonce.catalog import Catalog
from collectonce.catalog.models import PERIODS_PER_YEAR, Metric, Provider, Request
from collectonce.errors import BurdenError
from collectonce.nhs_periods import MONTHS_IN

PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")
TEMPLATE_COLUMNS = ("provider_code", "period", "metric_id", "value", "comment")


class PlanError(BurdenError, ValueError):
    """A plan cannot be made; the message says what to change. `exit_code` suits the CLI."""

    exit_code = 1


class UnknownProvider(PlanError):
    exit_code = 1


class BadPeriod(PlanError):
    exit_code = 2


def parse_period(text: str) -> tuple[int, int]:
    """Read a YYYY-MM month, or raise BadPeriod saying how to write it."""
    match = PERIOD_RE.match(str(text).strip())
    if not match:
        raise BadPeriod(f"period {text!r} is not a month: write it as YYYY-MM, e.g. 2019-03")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 1900:
        raise BadPeriod(f"period {text!r} is not a real month: write it as YYYY-MM, e.g. 2019-03")
    return year, month


def is_due(frequency: str, month: int, year_start: str = nhs_periods.NHS_YEAR_START) -> bool:
    """Whether a request of this frequency is due in a plan for this calendar month: the month
    ends its period (an NHS quarter or financial year unless the request counts calendar ones)."""
    day = dt.date(2000, month, 1)
    return nhs_periods.last_month_of(day, frequency, year_start).month == month


def reporting_period(
    frequency: str, year: int, month: int, year_start: str = nhs_periods.NHS_YEAR_START
) -> str:
    """The period a request due in this month reports on: 2019-03, 2018/19 Q4 or 2018/19."""
    return nhs_periods.label_of(dt.date(year, month, 1), frequency, year_start)


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def span_months(frequency: str, year: int, month: int) -> list[tuple[int, int]]:
    """The months a request of this frequency, due in this month, covers (oldest first)."""
    n = MONTHS_IN[frequency]
    return [_add_months(year, month, -k) for k in range(n - 1, -1, -1)]


def grain_periods(grain: str, months: list[tuple[int, int]]) -> list[str]:
    """The metric's own periods that end within `months`, written as the readers accept them.

    Month: ``YYYY-MM``; quarter: ``2018/19 Q4`` (NHS quarters); year: ``2018/19`` (financial
    years).
    """
    if grain == "month":
        return [f"{y}-{m:02d}" for y, m in months]
    return [
        nhs_periods.label_of(dt.date(y, m, 1), grain)
        for y, m in months
        if is_due(grain, m)  # the month ends the metric's own period
    ]


def due_date(request: Request, year: int, month: int) -> dt.date:
    last_day = dt.date(year, month, calendar.monthrange(year, month)[1])
    return last_day + dt.timedelta(days=request.due_days_after_period)


@dataclass(frozen=True)
class PlanItem:
    """One collected metric the provider owes, once, with who uses it and why."""

    metric: Metric
    periods: tuple[str, ...]
    due: dt.date
    requesters: tuple[tuple[str, str], ...]
    uses: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        m = self.metric
        return {
            "metric": m.code,
            "label": m.label,
            "definition": m.definition,
            "why_collected": m.why_collected,
            "unit": m.unit,
            "value_type": m.value_type,
            "valid_min": m.valid.min,
            "valid_max": m.valid.max,
            "zero_is_significant": m.zero_is_significant,
            "grain": m.grain.period,
            "periods": list(self.periods),
            "due": self.due.isoformat(),
            "requesters": [{"code": c, "name": n} for c, n in self.requesters],
            "requests": [dict(u) for u in self.uses],
            "status": m.status.state,
        }


@dataclass(frozen=True)
class CollectionPlan:
    """What one provider owes for one month."""

    provider: Provider
    period: str
    catalog_version: str
    requests_due: tuple[dict[str, Any], ...]
    items: tuple[PlanItem, ...]
    unmapped_items: tuple[dict[str, Any], ...] = field(default=())
    items_requested: int = 0
    derived_items: int = 0

    def template_rows(self) -> list[dict[str, str]]:
        """Rows of the canonical long template: keys prefilled, value and comment blank."""
        return [
            {
                "provider_code": self.provider.ods_code,
                "period": period,
                "metric_id": item.metric.code,
                "value": "",
                "comment": "",
            }
            for item in self.items
            for period in item.periods
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider.ods_code,
            "provider_name": self.provider.name,
            "peer_group": self.provider.peer_group,
            "period": self.period,
            "catalog_version": self.catalog_version,
            "requests_due": [dict(r) for r in self.requests_due],
            "items": [item.to_dict() for item in self.items],
            "unmapped_items": [dict(u) for u in self.unmapped_items],
            "summary": {
                "requests_due": len(self.requests_due),
                "items_requested": self.items_requested,
                "metrics_to_collect": len(self.items),
                "template_rows": sum(len(item.periods) for item in self.items),
                "items_computed_from_derived_metrics": self.derived_items,
                "unmapped_items": len(self.unmapped_items),
            },
        }


def find_provider(catalog: Catalog, provider_code: str) -> Provider:
    code = str(provider_code).strip().upper()
    provider = catalog.providers.get(code)
    if provider is None:
        known = sorted(catalog.providers)
        examples = ", ".join(known[:5]) + (", …" if len(known) > 5 else "")
        raise UnknownProvider(
            f"unknown provider {provider_code!r}: use an ODS code listed in providers.csv"
            + (f" ({examples})" if known else "")
        )
    return provider


def period_end(
    frequency: str, year: int, month: int, year_start: str = nhs_periods.NHS_YEAR_START
) -> tuple[int, int]:
    """The last month of the request period (NHS quarter, financial year) holding a month."""
    end = nhs_periods.last_month_of(dt.date(year, month, 1), frequency, year_start)
    return end.year, end.month


def in_force(metric: Metric, first_day: dt.date) -> bool:
    """Whether the metric is collected for the month starting on `first_day`."""
    status = metric.status
    start = status.collected_from
    if first_day < dt.date(start.year, start.month, 1):
        return False
    return not (status.effective_to and status.effective_to < first_day)


def _not_collected_reason(metric: Metric, first_day: dt.date) -> str | None:
    """Why a provider cannot submit this metric for a month starting on `first_day`, if so."""
    status = metric.status
    if status.state == "draft":
        return f"{metric.code} is a draft metric, not collected yet"
    if status.state == "retired" or (status.effective_to and status.effective_to < first_day):
        return f"{metric.code} is no longer collected"
    if not in_force(metric, first_day):
        return f"{metric.code} is collected from {status.collected_from:%Y-%m-%d}"
    return None


def collection_plan(catalog: Catalog, provider_code: str, period: str) -> CollectionPlan:
    """What `provider_code` owes for the month `period` (YYYY-MM), each collected metric once.

    Each item's `requesters` are every body that uses the month's figure: those whose requests
    are due now, and those whose quarterly or yearly request will add this month in (any
    aggregate but `last`). Each of its `requests` says which, with `due_now`.
    """
    year, month = parse_period(period)
    provider = find_provider(catalog, provider_code)
    requests = requests_for_group(catalog, provider.peer_group)
    cache: dict[str, list[str]] = {}
    first_day = dt.date(year, month, 1)

    def inputs_of(code: str) -> list[str]:
        if code not in cache:
            cache[code] = catalog.collected_inputs(code)
        return cache[code]

    # The finest frequency each collected metric is needed at, across all the provider's requests.
    finest: dict[str, str] = {}
    for request in requests:
        for item in request.items:
            for code in item_inputs(catalog, item, cache):
                current = finest.get(code)
                if (
                    current is None
                    or PERIODS_PER_YEAR[request.frequency] > PERIODS_PER_YEAR[current]
                ):
                    finest[code] = request.frequency

    requests_due = []
    uses: dict[str, list[dict[str, Any]]] = defaultdict(list)
    users: dict[str, dict[str, str]] = defaultdict(dict)
    deadlines: dict[str, dt.date] = {}
    unmapped: list[dict[str, Any]] = []
    items_requested = derived_items = 0
    later: list[tuple[Request, dt.date, str]] = []
    for request in requests:
        requester = catalog.requesters.get(request.requester)
        requester_name = requester.name if requester else request.requester
        due_now = is_due(request.frequency, month, request.year_start)
        end_year, end_month = period_end(request.frequency, year, month, request.year_start)
        deadline = due_date(request, end_year, end_month)
        reported = reporting_period(request.frequency, end_year, end_month, request.year_start)
        if not due_now:
            later.append((request, deadline, reported))
        else:
            requests_due.append(
                {
                    "request": request.code,
                    "title": request.title,
                    "requester": request.requester,
                    "requester_name": requester_name,
                    "frequency": request.frequency,
                    "reporting_period": reported,
                    "items": len(request.items),
                    "due": deadline.isoformat(),
                }
            )
        for item in request.items:
            if due_now:
                items_requested += 1
            reason = item.unmapped_reason
            if item.is_mapped:
                reason = next(
                    (
                        why
                        for code in item.metric_codes
                        for c in dict.fromkeys([code, *inputs_of(code)])
                        if (why := _not_collected_reason(catalog.metrics[c], first_day))
                    ),
                    None,
                )
            if reason:
                if due_now:
                    unmapped.append(
                        {
                            "request": request.code,
                            "requester": request.requester,
                            "their_code": item.their_code,
                            "their_label": item.their_label,
                            "reason": reason,
                            "due": deadline.isoformat(),
                        }
                    )
                continue
            aggregate = item.transform.aggregate if item.transform else "sum"
            if not due_now and aggregate == "last":
                continue  # only the period's last month serves this item
            if due_now and any(catalog.metrics[c].is_derived for c in item.metric_codes):
                derived_items += 1
            for mapped in item.metric_codes:
                via = mapped if catalog.metrics[mapped].is_derived else None
                for code in inputs_of(mapped):
                    uses[code].append(
                        {
                            "request": request.code,
                            "requester": request.requester,
                            "their_code": item.their_code,
                            "their_label": item.their_label,
                            "via": via,
                            "reporting_period": reported,
                            "due": deadline.isoformat(),
                            "due_now": due_now,
                        }
                    )
                    users[code][request.requester] = requester_name
                    if due_now and (code not in deadlines or deadline < deadlines[code]):
                        deadlines[code] = deadline

    items = []
    for code in sorted(deadlines, key=lambda c: (catalog.metrics[c].domain, c)):
        metric = catalog.metrics[code]
        frequency = finest[code]
        months = [
            (y, m)
            for y, m in span_months(frequency, year, month)
            if in_force(metric, dt.date(y, m, 1))
        ]
        periods = grain_periods(metric.grain.period, months)
        if not periods:
            continue
        items.append(
            PlanItem(
                metric=metric,
                periods=tuple(periods),
                due=deadlines[code],
                requesters=tuple(sorted(users[code].items())),
                uses=tuple(_dedupe(sorted(uses[code], key=lambda u: not u["due_now"]))),
            )
        )
    return CollectionPlan(
        provider=provider,
        period=f"{year}-{month:02d}",
        catalog_version=catalog.version,
        requests_due=tuple(requests_due),
        items=tuple(items),
        unmapped_items=tuple(unmapped),
        items_requested=items_requested,
        derived_items=derived_items,
    )


def _dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for row in rows:
        key = tuple(row.values())
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


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
