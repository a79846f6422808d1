"""The collection plan's parts: its errors, the months and periods a request covers, and the
plan itself (`CollectionPlan`, one `PlanItem` per metric owed)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from collectonce import nhs_periods
from collectonce.catalog.models import Metric, Provider, Request
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
