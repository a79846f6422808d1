"""The burden model: the hours and cost of answering every request, before and after collect-once.

The method joins the US Paperwork Reduction Act burden-hours count (respondents × responses per
year × time per response) with the Standard Cost Model price (hours × hourly cost):

    burden = Σ over requests r, items i:
             providers(r) × periods_per_year(r) × minutes(r, i) / 60 × hourly_cost

Before
    Every request is answered separately and every item counts, mapped or not.

After
    For each provider, each distinct *collected* metric that any of its requests needs is
    submitted once per period, at the finest frequency any of those requests needs it. An item
    mapped to a derived metric needs that metric's collected inputs instead: derived metrics are
    computed, never collected. An item mapped to several metrics needs each of them.

    Minutes for a metric after = the smallest ``minutes_per_item`` among the provider's requests
    that need it. Assumption: once a figure is defined once, supplying it costs what the quickest
    existing return already shows it can cost.

    Unmapped items stay as they were: each is still collected separately by its own request.
    They are the burden that remains. So do items mapped to a draft metric, until it is active.

Per requester
    Before = the requester's own requests. After = its unmapped items in full plus a share of each
    collected metric it needs, allocated in proportion to the requester's before-burden on that
    metric (an item resting on several collected metrics splits its before-burden equally among
    them). The shares add up exactly to the total after.

Providers that answer the same set of requests (the same peer group) carry the same burden, so
the model works per peer group and multiplies by the number of providers in it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from collectonce.catalog import Catalog
from collectonce.catalog.models import Item, Provider, Request

#: Human-readable statements of the model, repeated in every report.
ASSUMPTIONS: tuple[str, ...] = (
    "Before: every request is answered separately; every item counts, mapped or not.",
    "After: each collected metric is submitted once per provider and period, at the finest "
    "frequency any of that provider's requests needs it.",
    "Derived metrics (ratios and percentages) are computed from their collected inputs, "
    "never collected.",
    "Minutes for a metric after = the smallest minutes_per_item among the requests that need it.",
    "Unmapped items, and items mapped to a draft metric, are still collected separately, as "
    "before: they are the burden that remains.",
    "A requester's share of a shared metric is in proportion to its before-burden on that metric.",
)


def is_served(catalog: Catalog, item: Item) -> bool:
    """Whether the catalogue serves an item now: mapped, and every metric it rests on active.

    An item mapped to a draft metric is still collected by its request's own form until the
    metric is agreed and made active.
    """
    return item.is_mapped and all(
        catalog.metrics[c].is_active
        for code in item.metric_codes
        for c in [code, *catalog.collected_inputs(code)]
    )


def item_inputs(
    catalog: Catalog, item: Item, cache: dict[str, list[str]] | None = None
) -> list[str]:
    """The collected metrics an item rests on, in order (empty for an unmapped item)."""
    out: list[str] = []
    for code in item.metric_codes:
        if cache is not None:
            if code not in cache:
                cache[code] = catalog.collected_inputs(code)
            inputs = cache[code]
        else:
            inputs = catalog.collected_inputs(code)
        out.extend(c for c in inputs if c not in out)
    return out


def requests_for_group(catalog: Catalog, peer_group: str) -> list[Request]:
    """The requests every provider of a peer group must answer (not those served from the
    roll-ups at a region or England)."""
    return [
        r
        for r in catalog.requests.values()
        if r.level == "provider" and (r.respondents == "all" or peer_group in r.respondents)
    ]


def _pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def _r(value: float, digits: int = 2) -> float:
    return round(value + 0.0, digits)


@dataclass(frozen=True)
class Burden:
    """Minutes per year before and after, with helpers for hours and cost."""

    minutes_before: float
    minutes_after: float

    @property
    def hours_before(self) -> float:
        return self.minutes_before / 60.0

    @property
    def hours_after(self) -> float:
        return self.minutes_after / 60.0

    @property
    def hours_saved(self) -> float:
        return self.hours_before - self.hours_after

    @property
    def reduction_pct(self) -> float:
        return _pct(self.hours_saved, self.hours_before)

    def as_dict(self, hourly_cost: float) -> dict[str, float]:
        return {
            "hours_before": _r(self.hours_before),
            "hours_after": _r(self.hours_after),
            "hours_saved": _r(self.hours_saved),
            "cost_before_gbp": _r(self.hours_before * hourly_cost),
            "cost_after_gbp": _r(self.hours_after * hourly_cost),
            "cost_saved_gbp": _r(self.hours_saved * hourly_cost),
            "reduction_pct": _r(self.reduction_pct, 1),
        }


@dataclass(frozen=True)
class GroupBurden:
    """The burden of one provider in a peer group (every provider in it answers the same)."""

    peer_group: str
    providers: tuple[Provider, ...]
    requests: tuple[str, ...]
    items_before: int
    metrics_after: int
    unmapped_items: int
    burden: Burden
    by_requester: dict[str, Burden]


@dataclass(frozen=True)
class TargetResult:
    measure: str
    description: str
    target: float
    actual: float
    by: dt.date | None

    @property
    def met(self) -> bool:
        return self.actual >= self.target

    @property
    def gap(self) -> float:
        """How far short of the target (0 when met)."""
        return max(0.0, self.target - self.actual)

    def to_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "description": self.description,
            "target": self.target,
            "actual": _r(self.actual, 1),
            "met": self.met,
            "gap": _r(self.gap, 1),
            "by": self.by.isoformat() if self.by else None,
        }


@dataclass(frozen=True)
class BurdenReport:
    """Burden before and after collect-once, for every provider, requester and in total."""

    catalog_version: str
    hourly_cost_gbp: float
    total: Burden
    groups: tuple[GroupBurden, ...]
    requesters: dict[str, str]
    requester_requests: dict[str, tuple[str, ...]]
    requester_items: dict[str, int]
    requester_before: dict[str, float]
    requester_after: dict[str, float]
    items_requested: int
    items_mapped: int
    items_unmapped: int
    items_derived: int
    unique_metrics_collected: int
    targets: tuple[TargetResult, ...] = field(default=())

    @property
    def providers(self) -> int:
        return sum(len(g.providers) for g in self.groups)

    @property
    def unique_items(self) -> int:
        """Distinct things collected after: collected metrics plus each unmapped item."""
        return self.unique_metrics_collected + self.items_unmapped

    @property
    def unique_items_ratio(self) -> float:
        return self.unique_items / self.items_requested if self.items_requested else 0.0

    @property
    def unique_items_reduction_pct(self) -> float:
        return 100.0 * (1.0 - self.unique_items_ratio) if self.items_requested else 0.0

    @property
    def items_served_from_catalogue_pct(self) -> float:
        return _pct(self.items_mapped, self.items_requested)

    def measure(self, name: str) -> float:
        """The actual value of a burden-reduction target measure."""
        values = {
            "hours_reduction_pct": self.total.reduction_pct,
            "cost_reduction_pct": self.total.reduction_pct,
            "items_served_from_catalogue_pct": self.items_served_from_catalogue_pct,
            "unique_items_reduction_pct": self.unique_items_reduction_pct,
        }
        return values[name]

    def per_provider(self) -> list[dict[str, Any]]:
        rows = []
        cost = self.hourly_cost_gbp
        for group in self.groups:
            for provider in group.providers:
                rows.append(
                    {
                        "provider": provider.ods_code,
                        "name": provider.name,
                        "peer_group": group.peer_group,
                        "region": provider.region,
                        "requests": len(group.requests),
                        "items_before": group.items_before,
                        "metrics_after": group.metrics_after,
                        "unmapped_items": group.unmapped_items,
                        **group.burden.as_dict(cost),
                    }
                )
        return sorted(rows, key=lambda row: row["provider"])

    def per_peer_group(self) -> list[dict[str, Any]]:
        cost = self.hourly_cost_gbp
        rows = []
        for group in self.groups:
            n = len(group.providers)
            scaled = Burden(group.burden.minutes_before * n, group.burden.minutes_after * n)
            per = group.burden.as_dict(cost)
            rows.append(
                {
                    "peer_group": group.peer_group,
                    "providers": n,
                    "requests": list(group.requests),
                    "items_before_per_provider": group.items_before,
                    "metrics_after_per_provider": group.metrics_after,
                    "unmapped_items_per_provider": group.unmapped_items,
                    **scaled.as_dict(cost),
                    "per_provider": {
                        "hours_before": per["hours_before"],
                        "hours_after": per["hours_after"],
                        "hours_saved": per["hours_saved"],
                        "cost_saved_gbp": per["cost_saved_gbp"],
                    },
                }
            )
        return rows

    def per_requester(self) -> list[dict[str, Any]]:
        rows = []
        for code in sorted(self.requester_before):
            if not self.requester_requests.get(code):
                continue
            burden = Burden(self.requester_before[code], self.requester_after.get(code, 0.0))
            rows.append(
                {
                    "requester": code,
                    "name": self.requesters.get(code, code),
                    "requests": list(self.requester_requests.get(code, ())),
                    "items": self.requester_items.get(code, 0),
                    **burden.as_dict(self.hourly_cost_gbp),
                }
            )
        return sorted(rows, key=lambda row: (-row["hours_before"], row["requester"]))

    def to_dict(self) -> dict[str, Any]:
        n = self.providers
        cost = self.hourly_cost_gbp
        average = Burden(
            self.total.minutes_before / n if n else 0.0,
            self.total.minutes_after / n if n else 0.0,
        )
        return {
            "catalog_version": self.catalog_version,
            "hourly_cost_gbp": cost,
            "providers": n,
            **self.total.as_dict(cost),
            "per_provider_average": average.as_dict(cost),
            "items_requested": self.items_requested,
            "items_mapped": self.items_mapped,
            "items_unmapped": self.items_unmapped,
            "items_derived": self.items_derived,
            "unique_metrics_collected": self.unique_metrics_collected,
            "unique_items": self.unique_items,
            "unique_items_ratio": _r(self.unique_items_ratio, 3),
            "unique_items_reduction_pct": _r(self.unique_items_reduction_pct, 1),
            "items_served_from_catalogue_pct": _r(self.items_served_from_catalogue_pct, 1),
            "targets": [t.to_dict() for t in self.targets],
            "per_peer_group": self.per_peer_group(),
            "per_requester": self.per_requester(),
            "per_provider": self.per_provider(),
            "assumptions": list(ASSUMPTIONS),
        }


@dataclass
class _Need:
    periods_per_year: int = 0
    minutes: float = float("inf")
    weights: dict[str, float] = field(default_factory=lambda: defaultdict(float))


@dataclass(frozen=True)
class _RequestNeeds:
    """What one request asks of a provider: items, unmapped items and collected-metric shares."""

    items: int
    unmapped: int
    shares: dict[str, float]  # collected metric → Σ over items of 1 / (collected metrics of item)


def _request_needs(
    catalog: Catalog, request: Request, cache: dict[str, list[str]]
) -> _RequestNeeds:
    shares: dict[str, float] = defaultdict(float)
    unmapped = 0
    for item in request.items:
        inputs = item_inputs(catalog, item, cache) if is_served(catalog, item) else []
        if not inputs:
            unmapped += 1
            continue
        for code in inputs:
            shares[code] += 1.0 / len(inputs)
    return _RequestNeeds(items=len(request.items), unmapped=unmapped, shares=dict(shares))


def _group_burden(
    peer_group: str,
    providers: list[Provider],
    requests: list[Request],
    request_needs: dict[str, _RequestNeeds],
) -> GroupBurden:
    before_by_requester: dict[str, float] = defaultdict(float)
    after_by_requester: dict[str, float] = defaultdict(float)
    needs: dict[str, _Need] = defaultdict(_Need)
    unmapped_minutes = 0.0
    items_before = 0
    unmapped_items = 0
    for request in requests:
        asked = request_needs[request.code]
        per_item = request.periods_per_year * request.minutes_per_item
        items_before += asked.items
        unmapped_items += asked.unmapped
        before_by_requester[request.requester] += per_item * asked.items
        unmapped_minutes += per_item * asked.unmapped
        after_by_requester[request.requester] += per_item * asked.unmapped
        for code, share in asked.shares.items():
            need = needs[code]
            if request.periods_per_year > need.periods_per_year:
                need.periods_per_year = request.periods_per_year
            if request.minutes_per_item < need.minutes:
                need.minutes = request.minutes_per_item
            need.weights[request.requester] += per_item * share
    metric_minutes = 0.0
    for need in needs.values():
        minutes = need.periods_per_year * need.minutes
        metric_minutes += minutes
        total_weight = sum(need.weights.values())
        for requester, weight in need.weights.items():
            after_by_requester[requester] += minutes * weight / total_weight
    before = sum(before_by_requester.values())
    return GroupBurden(
        peer_group=peer_group,
        providers=tuple(sorted(providers, key=lambda p: p.ods_code)),
        requests=tuple(r.code for r in requests),
        items_before=items_before,
        metrics_after=len(needs),
        unmapped_items=unmapped_items,
        burden=Burden(before, metric_minutes + unmapped_minutes),
        by_requester={
            code: Burden(before_by_requester[code], after_by_requester.get(code, 0.0))
            for code in before_by_requester
        },
    )


def compute_burden(catalog: Catalog) -> BurdenReport:
    """Burden before and after collect-once, per provider, per requester and in total."""
    cache: dict[str, list[str]] = {}
    by_group: dict[str, list[Provider]] = defaultdict(list)
    for provider in catalog.providers.values():
        by_group[provider.peer_group].append(provider)
    request_needs = {
        code: _request_needs(catalog, request, cache) for code, request in catalog.requests.items()
    }
    groups = tuple(
        _group_burden(name, members, requests_for_group(catalog, name), request_needs)
        for name, members in sorted(by_group.items())
    )

    total_before = sum(g.burden.minutes_before * len(g.providers) for g in groups)
    total_after = sum(g.burden.minutes_after * len(g.providers) for g in groups)
    requester_before: dict[str, float] = {code: 0.0 for code in catalog.requesters}
    requester_after: dict[str, float] = {code: 0.0 for code in catalog.requesters}
    for group in groups:
        n = len(group.providers)
        for code, burden in group.by_requester.items():
            requester_before[code] = requester_before.get(code, 0.0) + burden.minutes_before * n
            requester_after[code] = requester_after.get(code, 0.0) + burden.minutes_after * n

    requester_requests: dict[str, list[str]] = defaultdict(list)
    requester_items: dict[str, int] = defaultdict(int)
    items_requested = items_mapped = items_derived = 0
    collected: set[str] = set()
    for request in catalog.requests.values():
        if request.level != "provider":
            continue  # a regional, board or England request asks nothing of providers
        requester_requests[request.requester].append(request.code)
        for item in request.items:
            items_requested += 1
            requester_items[request.requester] += 1
            if not is_served(catalog, item):
                continue
            items_mapped += 1
            if any(catalog.metrics[c].is_derived for c in item.metric_codes):
                items_derived += 1
            collected.update(item_inputs(catalog, item, cache))

    report = BurdenReport(
        catalog_version=catalog.version,
        hourly_cost_gbp=catalog.info.hourly_cost_gbp,
        total=Burden(total_before, total_after),
        groups=groups,
        requesters={code: r.name for code, r in catalog.requesters.items()},
        requester_requests={k: tuple(v) for k, v in requester_requests.items()},
        requester_items=dict(requester_items),
        requester_before=requester_before,
        requester_after=requester_after,
        items_requested=items_requested,
        items_mapped=items_mapped,
        items_unmapped=items_requested - items_mapped,
        items_derived=items_derived,
        unique_metrics_collected=len(collected),
    )
    targets = tuple(
        TargetResult(
            measure=t.measure,
            description=t.description,
            target=t.value,
            actual=report.measure(t.measure),
            by=t.by,
        )
        for t in catalog.targets.targets
    )
    return replace(report, targets=targets)
