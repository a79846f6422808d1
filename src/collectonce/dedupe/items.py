"""The things the engine compares: requested items (catalogue or register) and catalogue metrics."""

from __future__ import annotations

from dataclasses import dataclass

from collectonce.catalog import Catalog


@dataclass(frozen=True)
class DedupeItem:
    """One requested item, from a catalogue request or from an outside register."""

    requester: str
    request: str
    item_code: str
    label: str
    definition: str = ""
    unit: str = ""
    frequency: str = ""
    origin: str = "catalog"  # "catalog" or "register"
    metric: str | None = None  # the catalogue metric(s) it is mapped to, joined by "+"
    row: int | None = None  # the register row, for messages
    context: str = ""  # the request's title, read for a topic the label does not name

    @property
    def key(self) -> tuple[str, str]:
        return (self.request, self.item_code)

    def ref(self) -> dict[str, str]:
        return {"request": self.request, "item_code": self.item_code}


@dataclass(frozen=True)
class MetricText:
    """A catalogue metric as the engine reads it: its own label, definition and unit."""

    code: str
    label: str
    definition: str
    unit: str
    domain: str
    is_active: bool


def catalog_items(catalog: Catalog) -> list[DedupeItem]:
    """Every item of every request in the catalogue, mapped or not, in file order."""
    out = []
    for request in catalog.requests.values():
        for item in request.items:
            codes = item.metric_codes
            out.append(
                DedupeItem(
                    requester=request.requester,
                    request=request.code,
                    item_code=item.their_code,
                    label=item.their_label,
                    unit=item.unit or "",
                    frequency=request.frequency,
                    origin="catalog",
                    metric="+".join(codes) if codes else None,
                    context=request.title,
                )
            )
    return out


def catalog_metrics(catalog: Catalog) -> list[MetricText]:
    """Metrics an item may be matched to (retired ones are left out)."""
    return [
        MetricText(
            code=m.code,
            label=m.label,
            definition=m.definition,
            unit=m.unit,
            domain=m.domain,
            is_active=m.is_active,
        )
        for m in catalog.metrics.values()
        if m.status.state != "retired"
    ]
