"""Levels: which region each provider belongs to, and whom a level expects for a metric.

A provider rolls up to its integrated care board (the ``icb`` column of ``providers.csv``,
when any row names one), to its region (``providers.csv``) and to England. A provider with no region
rolls up to England and shows under the catalogue's unassigned label (``Unassigned``) in
regional output; it is never dropped.

Expected providers
    For a metric, a level and a period, the providers *expected* are those of the level that
    (1) answer at least one request needing the metric (directly, or through a derived metric
    built on it; every provider when no request needs it), and (2) are active for the metric:
    between the first and the last period they reported it, and also in the latest periods
    when they reported it within the last ``levels.yaml: closed_after_periods`` periods of the
    publication (a provider silent for longer is taken to have closed or merged). A provider
    expected but not contributing is what makes a value partial.
"""

from __future__ import annotations

from collections.abc import Callable

from collectonce.catalog import Catalog
from collectonce.rollup.errors import NotAggregable, UnknownLevel

LEVELS = ("icb", "region", "england")
ENGLAND = "England"


def region_map(catalog: Catalog) -> dict[str, str]:
    """Each provider's region (the unassigned label when it has none)."""
    return {ods: catalog.region_of(ods) for ods in catalog.providers}


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise UnknownLevel(f"unknown level {str(level)[:40]!r}: use icb, region or england")
    return level


def resolve_region(catalog: Catalog, name: str) -> str:
    """The catalogue's spelling of a region name given in any case; UnknownLevel if none."""
    wanted = " ".join(str(name).split()).casefold()
    for region in catalog.regions:
        if region.casefold() == wanted:
            return region
    known = ", ".join(catalog.regions)
    raise UnknownLevel(f"there is no region {str(name)[:60]!r}: use one of {known}")


def resolve_code(catalog: Catalog, level: str, name: str) -> str:
    """A region's or ICB's name as the catalogue spells it (England for england)."""
    check_level(level)
    if level == "england":
        return ENGLAND
    if level == "region":
        return resolve_region(catalog, name)
    wanted = " ".join(str(name).split()).casefold()
    for icb in catalog.icbs:
        if icb.casefold() == wanted:
            return icb
    known = ", ".join(catalog.icbs) or "none: providers.csv names no integrated care board"
    raise UnknownLevel(f"there is no integrated care board {str(name)[:60]!r}: use one of {known}")


def aggregable_metric(catalog: Catalog, code: str) -> str:
    """The metric's aggregation (sum or recompute); raises when it cannot be rolled up."""
    metric = catalog.metrics.get(code)
    if metric is None:
        raise UnknownLevel(f"unknown metric {str(code)[:60]!r}: see `collectonce catalog check`")
    how = metric.rolls_up
    if how == "none":
        raise NotAggregable(
            f"metric {code} ({metric.label}) cannot be rolled up: its aggregation is `none` "
            f"({_why_none(metric.unit, metric.is_derived)}), so a region's or England's figure "
            "is not the sum of its providers' and is never averaged. Roll up the counts it is "
            "built from instead, or collect them and make it a derived metric"
        )
    return how


def _why_none(unit: str, derived: bool) -> str:
    if unit in {"percent", "rate"} and not derived:
        return f"a {unit} sent without its numerator and denominator"
    if unit in {"minutes", "days", "weeks"}:
        return f"a median or mean time in {unit}"
    return f"a {unit} figure such as a median, percentile or mean"


def requesting_sets(catalog: Catalog) -> Callable[[str], set[str]]:
    """A function giving, for a metric, the providers that answer a request needing it
    (directly, or through a derived metric built on it, or for a derived metric its inputs);
    every provider when no request needs it."""
    by_group: dict[str, set[str]] = {}
    for ods, provider in catalog.providers.items():
        by_group.setdefault(provider.peer_group, set()).add(ods)
    everyone = set(catalog.providers)
    answering: dict[str, set[str]] = {}
    for code, request in catalog.requests.items():
        if request.respondents == "all":
            answering[code] = everyone
        else:
            answering[code] = set().union(*(by_group.get(g, set()) for g in request.respondents))
    built_on: dict[str, set[str]] = {}
    for other, metric in catalog.metrics.items():
        if metric.is_derived:
            for code in catalog.collected_inputs(other):
                built_on.setdefault(code, set()).add(other)
    memo: dict[str, set[str]] = {}

    def providers_for(code: str) -> set[str]:
        if code not in memo:
            needed_by = {code, *built_on.get(code, set())}
            metric = catalog.metrics.get(code)
            if metric is not None and metric.is_derived:
                needed_by.update(catalog.collected_inputs(code))
            requests = {
                request.code
                for metric_code in needed_by
                for request, _item in catalog.items_by_metric.get(metric_code, [])
                if request.level == "provider"
            }
            memo[code] = set().union(*(answering[r] for r in requests)) if requests else everyone
        return memo[code]

    return providers_for


def members(catalog: Catalog, level: str, code: str) -> list[str]:
    """The providers of one level code (an ICB's, a region's, or every provider for England)."""
    check_level(level)
    if level == "england":
        return sorted(catalog.providers)
    if level == "icb":
        return list(catalog.icbs.get(code, []))
    return list(catalog.regions.get(code, []))
