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

import datetime as dt
from collections import defaultdict
from typing import Any

from collectonce import nhs_periods
from collectonce.burden.model import item_inputs, requests_for_group
from collectonce.burden.plan_model import (
    CollectionPlan,
    PlanItem,
    UnknownProvider,
    due_date,
    grain_periods,
    is_due,
    parse_period,
    reporting_period,
    span_months,
)
from collectonce.catalog import Catalog
from collectonce.catalog.models import PERIODS_PER_YEAR, Metric, Provider, Request


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
