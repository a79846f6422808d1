"""The loaded catalogue (`Catalog`) and its look-ups: regions, derived-metric order, which
requests use a metric and which providers answer a request."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from collectonce.catalog.errors import CatalogProblem
from collectonce.catalog.layouts import Layout
from collectonce.catalog.models import (
    CatalogInfo,
    Item,
    Levels,
    Metric,
    Provider,
    Request,
    Requester,
    Targets,
)


@dataclass(frozen=True)
class Catalog:
    """The loaded catalogue: the single source of truth for everything downstream."""

    root: Path
    info: CatalogInfo
    metrics: dict[str, Metric]
    requesters: dict[str, Requester]
    requests: dict[str, Request]
    providers: dict[str, Provider]
    targets: Targets
    fingerprint: str
    metric_files: dict[str, str] = field(default_factory=dict)
    request_files: dict[str, str] = field(default_factory=dict)
    levels: Levels = field(default_factory=Levels)
    #: The file layouts mapped through the catalogue (``layouts/*.yaml``), by layout name.
    layouts: dict[str, Layout] = field(default_factory=dict)
    layout_files: dict[str, str] = field(default_factory=dict)
    #: Problems that do not stop the catalogue being used (e.g. providers with no region).
    warnings: tuple[CatalogProblem, ...] = ()

    @property
    def version(self) -> str:
        return self.info.version

    @cached_property
    def regions(self) -> dict[str, list[str]]:
        """Each region's providers (ODS codes, sorted); providers with no region are listed
        under the catalogue's unassigned label."""
        out: dict[str, list[str]] = {}
        for code in sorted(self.providers):
            region = self.providers[code].region or self.levels.unassigned_label
            out.setdefault(region, []).append(code)
        return dict(sorted(out.items()))

    @cached_property
    def icbs(self) -> dict[str, list[str]]:
        """Each integrated care board's providers, for providers.csv rows that name one
        (empty when none does); providers with none are under the unassigned label."""
        if not any(p.icb for p in self.providers.values()):
            return {}
        out: dict[str, list[str]] = {}
        for code in sorted(self.providers):
            icb = self.providers[code].icb or self.levels.unassigned_label
            out.setdefault(icb, []).append(code)
        return dict(sorted(out.items()))

    def icb_of(self, ods: str) -> str:
        """The provider's integrated care board, or the unassigned label when it has none."""
        provider = self.providers.get(ods)
        return (provider.icb if provider else "") or self.levels.unassigned_label

    def region_of(self, ods: str) -> str:
        """The provider's region, or the unassigned label when it has none."""
        provider = self.providers.get(ods)
        return (provider.region if provider else "") or self.levels.unassigned_label

    @cached_property
    def collected_metrics(self) -> list[Metric]:
        """Metrics a provider submits: active and not derived."""
        return [m for m in self.metrics.values() if m.is_active and not m.is_derived]

    @cached_property
    def derived_order(self) -> list[Metric]:
        """Derived metrics in an order where inputs come before the metrics built on them."""
        order: list[Metric] = []
        seen: set[str] = set()

        def visit(code: str) -> None:
            if code in seen:
                return
            seen.add(code)
            metric = self.metrics[code]
            if metric.derived:
                for dep in metric.derived.inputs:
                    visit(dep)
                order.append(metric)

        for code in sorted(self.metrics):
            visit(code)
        return [m for m in order if m.is_active]

    @cached_property
    def items_by_metric(self) -> dict[str, list[tuple[Request, Item]]]:
        """Every request item that a metric serves (one metric, many items)."""
        out: dict[str, list[tuple[Request, Item]]] = defaultdict(list)
        for request in self.requests.values():
            for item in request.items:
                for code in item.metric_codes:
                    out[code].append((request, item))
        return dict(out)

    @cached_property
    def _inputs(self) -> dict[str, tuple[str, ...]]:
        """Each metric's collected inputs, worked out once (derived metrics may nest)."""
        out: dict[str, tuple[str, ...]] = {}

        def resolve(code: str) -> tuple[str, ...]:
            if code not in out:
                metric = self.metrics[code]
                if not metric.derived:
                    out[code] = (code,)
                else:
                    found: dict[str, None] = {}
                    for dep in metric.derived.inputs:
                        found.update(dict.fromkeys(resolve(dep)))
                    out[code] = tuple(found)
            return out[code]

        for code in self.metrics:
            resolve(code)
        return out

    def collected_inputs(self, code: str) -> list[str]:
        """The collected metrics a metric rests on (itself when collected)."""
        return list(self._inputs[code])

    @cached_property
    def _users(self) -> dict[str, frozenset[str]]:
        users: dict[str, set[str]] = defaultdict(set)
        for code, uses in self.items_by_metric.items():
            direct = {request.requester for request, _item in uses}
            users[code] |= direct
            for base in self._inputs.get(code, ()):
                users[base] |= direct
        return {code: frozenset(found) for code, found in users.items()}

    def requesters_of(self, code: str) -> list[str]:
        """Requester codes that use a metric, directly or through a derived metric built on it."""
        return sorted(self._users.get(code, ()))

    def requests_for(self, provider: Provider) -> list[Request]:
        """The requests a provider must answer (a request made at a region or England is served
        from the roll-ups and asks nothing of providers)."""
        return [
            r
            for r in self.requests.values()
            if r.level == "provider"
            and (r.respondents == "all" or provider.peer_group in r.respondents)
        ]

    def respondents(self, request: Request) -> list[Provider]:
        return [p for p in self.providers.values() if request in self.requests_for(p)]
