"""What a metric cell stands for: catalogue metric codes and labels, and the item codes and
labels of each request's template, looked up in the catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from collectonce.catalog import Catalog
from collectonce.catalog.models import Item, Metric
from collectonce.ingest.department_types import by_type_metrics
from collectonce.ingest.normalise.periods import CALENDAR_YEAR, GRAIN_CODE
from collectonce.ingest.normalise.text import header_key
from collectonce.ingest.published_ae import published_metrics

CANONICAL_LONG = "canonical_long"


CANONICAL_WIDE = "canonical_wide"


Kind = Literal["metric", "item", "derived", "multi", "unmapped", "unknown"]


@dataclass(frozen=True)
class Target:
    """What a metric cell (a long row's code, or a wide column) stands for."""

    kind: Kind
    metric: str | None = None
    grain: int = -1
    unit: str | None = None
    scale: float = 1.0
    request: str | None = None
    item: Item | None = None
    label: str = ""

    @property
    def stored(self) -> bool:
        return self.kind in ("metric", "item", "unknown")


class Resolver:
    """Looks up metric codes and request item codes (or labels) in the catalogue."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.metrics: dict[str, Metric] = {header_key(c): m for c, m in catalog.metrics.items()}
        for metric in catalog.metrics.values():  # a metric's label names it too
            self.metrics.setdefault(header_key(metric.label), metric)
        self.items: dict[str, dict[str, Item]] = {}
        for code, request in sorted(catalog.requests.items()):
            lookup: dict[str, Item] = {}
            for item in request.items:
                lookup.setdefault(header_key(item.their_label), item)
            for item in request.items:
                lookup[header_key(item.their_code)] = item
            self.items[code] = lookup
        self._by_type: dict[tuple[str, str], Target] | None = None
        self._published: dict[str, Target] | None = None
        self._calendar_years = calendar_year_metrics(catalog)

    def grain_code(self, metric: Metric) -> int:
        """The metric's grain code: a year is a financial year unless every request asking for
        the metric counts calendar years (``year_start: january``)."""
        if metric.grain.period == "year" and metric.code in self._calendar_years:
            return CALENDAR_YEAR
        return GRAIN_CODE[metric.grain.period]

    def metric_target(self, key: str) -> Target | None:
        metric = self.metrics.get(key)
        if metric is None:
            return None
        if metric.is_derived:
            return Target("derived", metric.code, label=metric.code)
        return Target(
            "metric",
            metric.code,
            self.grain_code(metric),
            metric.unit,
            label=metric.code,
        )

    def item_target(self, key: str, request_code: str) -> Target | None:
        item = self.items.get(request_code, {}).get(key)
        if item is None:
            return None
        request = self.catalog.requests[request_code]
        label = f"item {item.their_code} ({item.their_label}) of {request.code}"
        codes = item.metric_codes
        if not codes:
            return Target("unmapped", request=request.code, item=item, label=label)
        if len(codes) > 1:
            return Target("multi", request=request.code, item=item, label=label)
        metric = self.catalog.metrics.get(codes[0])
        if metric is None:
            return Target("unmapped", request=request.code, item=item, label=label)
        if metric.is_derived:
            return Target("derived", metric.code, request=request.code, item=item, label=label)
        scale = item.transform.scale if item.transform else 1.0
        return Target(
            "item",
            metric.code,
            self.grain_code(metric),
            metric.unit,
            scale or 1.0,
            request.code,
            item,
            label,
        )

    def by_type_targets(self) -> dict[tuple[str, str], Target]:
        """(department class, measure) → the collected metric it is stored as (A&E layout)."""
        if self._by_type is None:
            found: dict[tuple[str, str], Target] = {}
            for key, code in by_type_metrics(self.catalog).items():
                target = self.metric_target(header_key(code))
                if target is not None and target.kind == "metric":
                    found[key] = target
            self._by_type = found
        return self._by_type

    def published_targets(self) -> dict[str, Target]:
        """Metric → its target, for the metrics of the published monthly A&E file that the
        catalogue collects."""
        if self._published is None:
            found: dict[str, Target] = {}
            for code in published_metrics(self.catalog):
                target = self.metric_target(header_key(code))
                if target is not None and target.kind == "metric":
                    found[code] = target
            self._published = found
        return self._published

    def resolve(self, key: str, template: str) -> Target:
        """A key under a template: the request's items first, then catalogue metric codes."""
        if template in self.items:
            found = self.item_target(key, template)
            if found is not None:
                return found
        return self.metric_target(key) or Target("unknown", label=key)

    def best_template(self, keys: Sequence[str]) -> tuple[str, int]:
        """The template whose codes match most of `keys`: canonical wins ties."""
        distinct = {k for k in keys if k}
        best, best_count = "", sum(1 for k in distinct if k in self.metrics)
        for code, lookup in self.items.items():
            count = sum(1 for k in distinct if k in lookup)
            if count > best_count:
                best, best_count = code, count
        return best, best_count


def calendar_year_metrics(catalog: Catalog) -> frozenset[str]:
    """Metrics every request of which counts calendar years (``year_start: january``)."""
    starts: dict[str, set[str]] = {}
    for request in catalog.requests.values():
        for item in request.items:
            for code in item.metric_codes:
                starts.setdefault(code, set()).add(request.year_start)
    return frozenset(code for code, seen in starts.items() if seen == {"january"})
