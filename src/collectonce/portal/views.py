"""What the portal's pages are rendered from, as typed rows rather than dictionaries indexed by
strings: a request in a list, an item and the metrics it maps to, and who owes a month."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog
    from collectonce.catalog.models import Request as CatalogRequest

Owed = Literal["on time", "late", "missing"]


@dataclass(frozen=True)
class MetricRef:
    """A catalogue metric an item maps to, with its label."""

    code: str
    label: str


@dataclass(frozen=True)
class ItemRow:
    """One of a request's items: the requester's code and the catalogue metrics behind it."""

    their_code: str
    their_label: str
    metrics: list[MetricRef]
    aggregate: str | None
    scale: float
    unmapped_reason: str | None

    @classmethod
    def of_request(cls, catalog: Catalog, req: CatalogRequest) -> list[ItemRow]:
        rows = []
        for item in req.items:
            metrics = [
                MetricRef(c, catalog.metrics[c].label if c in catalog.metrics else c)
                for c in item.metric_codes
            ]
            rows.append(
                cls(
                    their_code=item.their_code,
                    their_label=item.their_label,
                    metrics=metrics,
                    aggregate=item.transform.aggregate if item.transform else None,
                    scale=item.transform.scale if item.transform else 1.0,
                    unmapped_reason=item.unmapped_reason,
                )
            )
        return rows


@dataclass(frozen=True)
class RequestRow:
    """A request in the list of requests: who asks, how often, and how much of it is mapped."""

    code: str
    title: str
    requester: str | None
    frequency: str
    items: int
    mapped: int
    due_days: int

    @classmethod
    def of(cls, req: CatalogRequest, requester_name: str | None) -> RequestRow:
        return cls(
            code=req.code,
            title=req.title,
            requester=requester_name,
            frequency=req.frequency,
            items=len(req.items),
            mapped=sum(1 for i in req.items if i.is_mapped),
            due_days=req.due_days_after_period,
        )


@dataclass(frozen=True)
class PeriodStatus:
    """A provider that owes a month: whether its data came on time, late or not at all."""

    ods: str
    name: str
    due: dt.date
    status: Owed
    received_at: dt.datetime | None = None
    submission_id: str | None = None

    @property
    def order(self) -> tuple[int, str]:
        """Missing first, then late, then on time; by code within each."""
        return ({"missing": 0, "late": 1}.get(self.status, 2), self.ods)


@dataclass(frozen=True)
class ChartPanel:
    """One metric's SPC chart on the charts page (no chart: too few points for limits)."""

    code: str
    label: str
    svg: str | None
    limits: str
    points: int


@dataclass(frozen=True)
class ViewPreview:
    """The first rows of a request's view shown on its page, and how many there are in all."""

    rows: list[dict[str, object]]
    total: int
    version: int
