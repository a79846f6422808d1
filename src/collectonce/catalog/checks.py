"""Cross-reference checks over a loaded catalogue: items against their metrics, units and
targets, aggregation and levels, regions, and derived metrics that depend on themselves. Each
problem names the file, the field, the bad value and the fix."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable

from collectonce.catalog.errors import CatalogProblem
from collectonce.catalog.models import (
    PERIODS_PER_YEAR,
    Item,
    Levels,
    Metric,
    Provider,
    Request,
    Requester,
)
from collectonce.suggest import closest


def check_aggregation(
    metrics: dict[str, Metric], metric_files: dict[str, str]
) -> list[CatalogProblem]:
    """A metric's `aggregation` must fit what it is: never sum a share, never recompute a
    figure that has no numerator and denominator."""
    problems: list[CatalogProblem] = []
    for code, metric in metrics.items():
        declared = metric.aggregation
        if declared is None:
            continue
        rel = metric_files[code]
        if declared == "sum" and metric.derived is not None:
            problems.append(
                CatalogProblem(
                    rel,
                    "aggregation",
                    declared,
                    "a derived metric cannot be summed across providers",
                    "use `aggregation: recompute`, which divides the summed numerator by the "
                    "summed denominator",
                )
            )
        elif declared == "sum" and metric.unit in _NOT_SUMMABLE:
            problems.append(
                CatalogProblem(
                    rel,
                    "aggregation",
                    declared,
                    f"a {metric.unit} cannot be summed across providers",
                    "collect its numerator and denominator and make it derived "
                    "(`aggregation: recompute`), or use `aggregation: none`",
                )
            )
        elif declared == "recompute" and metric.derived is None:
            problems.append(
                CatalogProblem(
                    rel,
                    "aggregation",
                    declared,
                    "only a derived metric can be recomputed: this one has no numerator and "
                    "denominator",
                    "add `derived: {numerator: ..., denominator: ...}`, or use `aggregation: none`",
                )
            )
    return problems


#: Units whose values never add up across providers (shares, averages, scores, durations).
_NOT_SUMMABLE = frozenset({"percent", "rate", "score", "minutes", "weeks"})


def check_levels(
    requests: dict[str, Request], request_files: dict[str, str], metrics: dict[str, Metric]
) -> list[CatalogProblem]:
    """A request served at a region or England may only hold items that roll up."""
    problems: list[CatalogProblem] = []
    for code, request in requests.items():
        if request.level == "provider":
            continue
        for i, item in enumerate(request.items):
            for metric_code in item.metric_codes:
                metric = metrics.get(metric_code)
                if metric is not None and metric.rolls_up == "none":
                    problems.append(
                        CatalogProblem(
                            request_files[code],
                            f"items[{i}] ({item.their_code})",
                            metric_code,
                            f"the request is served at level {request.level}, but the metric "
                            "cannot be rolled up (aggregation: none)",
                            "ask for a metric that sums or recomputes, or serve the request "
                            "per provider",
                        )
                    )
    return problems


def region_warnings(providers: dict[str, Provider], levels: Levels) -> list[CatalogProblem]:
    """Providers with no region (they roll up to England and show as Unassigned), and a region
    spelt in more than one way."""
    warnings: list[CatalogProblem] = []
    spellings: dict[str, set[str]] = {}
    for p in providers.values():
        if p.region:
            spellings.setdefault(" ".join(p.region.split()).casefold(), set()).add(p.region)
    for names in spellings.values():
        if len(names) > 1:
            listed = " and ".join(repr(n) for n in sorted(names))
            warnings.append(
                CatalogProblem(
                    "providers.csv",
                    "region",
                    listed,
                    "one region is spelt in more than one way, so its providers roll up to "
                    "separate regions",
                    "spell each region the same way on every row",
                )
            )
    without = sorted(code for code, p in providers.items() if not p.region)
    if not without:
        return warnings
    shown = ", ".join(without[:8]) + (f" and {len(without) - 8} more" if len(without) > 8 else "")
    return [
        *warnings,
        CatalogProblem(
            "providers.csv",
            "region",
            shown,
            f"{len(without)} provider(s) have no region: they roll up to England and show as "
            f"{levels.unassigned_label!r} in regional output",
            "fill the region column with the provider's NHS England region",
        ),
    ]


_CONVERTIBLE: dict[str, dict[str, float]] = {
    "money": {"gbp": 1.0, "gbp_thousands": 1000.0},
    "time": {"minutes": 1.0, "days": 1440.0, "weeks": 10080.0},
}
_SHARE_UNITS = frozenset({"percent", "rate"})


def _conversion(from_unit: str, to_unit: str) -> float | None:
    """The scale that turns a value in `from_unit` into `to_unit`, or None if it cannot."""
    for sizes in _CONVERTIBLE.values():
        if from_unit in sizes and to_unit in sizes:
            return sizes[from_unit] / sizes[to_unit]
    return None


def check_references(
    metrics: dict[str, Metric],
    metric_files: dict[str, str],
    requesters: dict[str, Requester] | None,
    requests: dict[str, Request],
    request_files: dict[str, str],
    *,
    broken_metrics: set[str] | None = frozenset(),  # type: ignore[assignment]
) -> list[CatalogProblem]:
    """Cross-reference checks: rules, derived formulas, cycles, requesters, items and units.

    `requesters` is None when requesters.yaml itself is broken, and `broken_metrics` names metric
    files that exist but failed to load (None: no metric file loaded at all). References to them
    are not reported again: the problem is in the file that is already reported.
    """
    problems: list[CatalogProblem] = []
    known = sorted(metrics)

    def unknown(code: str) -> bool:
        """Whether to report `code` as unknown (not when its own file is reported broken)."""
        if code in metrics:
            return False
        return broken_metrics is not None and code not in broken_metrics

    def unknown_metric_fix(code: str) -> str:
        close = closest(code, known, cutoff=0.75)
        return f"did you mean `{close}`?" if close else "add the metric under catalog/metrics/"

    for code, metric in metrics.items():
        rel = metric_files[code]
        problems.extend(_check_target(rel, metric))
        for i, rule in enumerate(metric.rules):
            if rule.other not in metrics:
                if unknown(rule.other):
                    problems.append(
                        CatalogProblem(
                            rel,
                            f"rules[{i}].{rule.op}",
                            rule.other,
                            "the rule names an unknown metric",
                            unknown_metric_fix(rule.other),
                        )
                    )
            elif rule.other == code:
                problems.append(
                    CatalogProblem(
                        rel,
                        f"rules[{i}]",
                        rule.other,
                        "a rule compares the metric with itself",
                        "name another metric",
                    )
                )
            elif metrics[rule.other].grain.period != metric.grain.period:
                problems.append(
                    CatalogProblem(
                        rel,
                        f"rules[{i}].{rule.op}",
                        rule.other,
                        f"the rule compares a per-{metric.grain.period} metric with one "
                        f"collected per {metrics[rule.other].grain.period}",
                        "compare metrics of the same grain, so the same period has both",
                    )
                )
        if metric.derived:
            if metric.rules:
                problems.append(
                    CatalogProblem(
                        rel,
                        "rules",
                        str(len(metric.rules)),
                        "a derived metric is computed, so rules on it cannot be checked on entry",
                        "put the rules on the collected metrics it is built from",
                    )
                )
            for part in ("numerator", "denominator"):
                for dep in getattr(metric.derived, part).codes:
                    if dep not in metrics:
                        if unknown(dep):
                            problems.append(
                                CatalogProblem(
                                    rel,
                                    f"derived.{part}",
                                    dep,
                                    "the formula names an unknown metric",
                                    unknown_metric_fix(dep),
                                )
                            )
                    elif metrics[dep].grain.period != metric.grain.period:
                        problems.append(
                            CatalogProblem(
                                rel,
                                f"derived.{part}",
                                dep,
                                f"the input is collected per {metrics[dep].grain.period}, "
                                f"this metric per {metric.grain.period}",
                                "derive from metrics of the same grain",
                            )
                        )
            inputs = set(metric.derived.inputs)
            for g, group in enumerate(metric.derived.absent_as_zero):
                for code in group:
                    if code not in inputs:
                        problems.append(
                            CatalogProblem(
                                rel,
                                f"derived.absent_as_zero[{g}]",
                                code,
                                "the group names a metric the formula does not use",
                                "list only metrics named in the numerator or denominator",
                            )
                        )

    problems.extend(_cycles(metrics, metric_files))

    for code, request in requests.items():
        rel = request_files[code]
        if requesters is not None and request.requester not in requesters:
            close = closest(request.requester, sorted(requesters), cutoff=0.75)
            problems.append(
                CatalogProblem(
                    rel,
                    "requester",
                    request.requester,
                    "unknown requester",
                    f"did you mean `{close}`?"
                    if close
                    else "add it to requesters.yaml or use one of: "
                    + ", ".join(sorted(requesters)),
                )
            )
        counts = Counter(item.their_code for item in request.items)
        for i, item in enumerate(request.items):
            where = f"items[{i}] ({item.their_code})"
            if counts[item.their_code] > 1:
                problems.append(
                    CatalogProblem(
                        rel,
                        f"{where}.their_code",
                        item.their_code,
                        "the same item code appears more than once in this request",
                        "give each item of a request a unique code",
                    )
                )
            problems.extend(
                _check_item(rel, where, request, item, metrics, unknown, unknown_metric_fix)
            )
    return problems


def _check_target(rel: str, metric: Metric) -> list[CatalogProblem]:
    """A target must be reachable within the valid range and point the way of improvement."""
    target = metric.target
    if target is None:
        return []
    problems = []
    lo, hi = metric.valid.min, metric.valid.max
    if (lo is not None and target.value < lo) or (hi is not None and target.value > hi):
        problems.append(
            CatalogProblem(
                rel,
                "target.value",
                f"{target.value:g}",
                f"the target lies outside the valid range ({_range(lo, hi)})",
                "correct the target, or widen `valid` if the range is wrong",
            )
        )
    expected = {"increase": "gte", "decrease": "lte"}.get(metric.improvement_direction)
    if expected and target.comparison != expected:
        problems.append(
            CatalogProblem(
                rel,
                "target.comparison",
                target.comparison,
                f"the target is met when the value is {RULE_WORDS[target.comparison]} it, but "
                f"improvement_direction is {metric.improvement_direction}",
                f"use comparison: {expected}, or correct improvement_direction",
            )
        )
    return problems


RULE_WORDS = {"gte": "at or above", "lte": "at or below"}


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo:g} to {hi:g}"
    return f"at least {lo:g}" if lo is not None else f"at most {hi:g}"


def _check_item(
    rel: str,
    where: str,
    request: Request,
    item: Item,
    metrics: dict[str, Metric],
    unknown: Callable[[str], bool],
    unknown_metric_fix: Callable[[str], str],
) -> list[CatalogProblem]:
    problems: list[CatalogProblem] = []
    field_name = "metric" if item.metric else "metrics"
    resolved = []
    for code, n in Counter(item.metric_codes).items():
        if n > 1:
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.metrics",
                    code,
                    "the item lists the same metric more than once",
                    "list each metric once",
                )
            )
    for code in dict.fromkeys(item.metric_codes):
        if code in metrics:
            resolved.append(metrics[code])
        elif unknown(code):
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.{field_name}",
                    code,
                    "the item maps to an unknown metric",
                    unknown_metric_fix(code),
                )
            )
    aggregate = item.transform.aggregate if item.transform else "sum"
    for metric in resolved:
        if metric.status.state == "retired":
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.{field_name}",
                    metric.code,
                    "the item maps to a retired metric",
                    "map it to the metric that replaced it, or mark the item unmapped",
                )
            )
        grain_per_year = PERIODS_PER_YEAR[metric.grain.period]
        if grain_per_year < PERIODS_PER_YEAR[request.frequency]:
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.{field_name}",
                    metric.code,
                    f"the request is {request.frequency}ly but the metric is collected per "
                    f"{metric.grain.period}",
                    "map to a metric collected at least as often as the request",
                )
            )
        elif (
            grain_per_year > PERIODS_PER_YEAR[request.frequency]
            and metric.unit in _SHARE_UNITS
            and aggregate == "sum"
            # a level request recomputes a ratio from the period's summed counts
            and not (request.level != "provider" and metric.rolls_up == "recompute")
        ):
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.transform",
                    f"aggregate: {aggregate}",
                    f"the {request.frequency}ly item would add up {metric.code}, a "
                    f"{metric.unit} per {metric.grain.period}: shares cannot be summed",
                    "map the item to the counts it is built from, or to a metric of the "
                    f"request's grain; use `aggregate: mean` or `last` only for a {metric.unit} "
                    "collected as such",
                )
            )
    if len(resolved) > 1:
        units = {m.unit for m in resolved}
        if len(units) > 1:
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.metrics",
                    ", ".join(sorted(units)),
                    "an item that sums several metrics needs them in one unit",
                    "map metrics that share a unit, or split the item",
                )
            )
        derived = [m.code for m in resolved if m.is_derived or m.unit in _SHARE_UNITS]
        if derived:
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.metrics",
                    ", ".join(derived),
                    "percentages and rates cannot be summed across metrics",
                    "map the item to one derived metric instead",
                )
            )
    if resolved:
        problems.extend(_check_item_unit(rel, where, item, resolved[0]))
    return problems


_MILLIONS = re.compile(r"£\s*m\b|£\s*mn\b|\bmillions?\b")
_THOUSANDS = re.compile(r"£\s*0{3}|£\s*k\b|\bthousands?\b|\bgbp\s*0{3}")
_POUNDS = re.compile(r"£|\bgbp\b|\bpounds?\b")


def _money_in_label(label: str) -> str | None:
    """`gbp` or `gbp_thousands` when an item's label says which (None when unsure or no money)."""
    if not _POUNDS.search(label) or _MILLIONS.search(label):
        return None
    return "gbp_thousands" if _THOUSANDS.search(label) else "gbp"


def _check_item_unit(rel: str, where: str, item: Item, metric: Metric) -> list[CatalogProblem]:
    """The item's unit agrees with its metric's, or converts to it by the right scale."""
    unit = metric.unit
    scale = item.transform.scale if item.transform else 1.0
    if item.unit and item.unit != unit:
        factor = _conversion(unit, item.unit)
        if factor is None:
            return [
                CatalogProblem(
                    rel,
                    f"{where}.unit",
                    item.unit,
                    f"the item's unit conflicts with metric {metric.code} ({unit}), and "
                    f"{unit} cannot be converted to {item.unit} by a scale",
                    "map to a metric in the item's unit, or correct the item's unit "
                    "(add transform: {scale: N} only to convert, e.g. £ thousands to £)",
                )
            ]
        if not math.isclose(scale, factor, rel_tol=1e-9):
            return [
                CatalogProblem(
                    rel,
                    f"{where}.transform.scale",
                    f"{scale:g}",
                    f"the item's unit conflicts with metric {metric.code} ({unit}): "
                    f"{unit} converts to {item.unit} by a scale of {factor:g}",
                    f"add transform: {{scale: {factor:g}}} to convert",
                )
            ]
        return []
    if item.unit is None and scale != 1.0 and _conversion(unit, unit) is not None:
        return [
            CatalogProblem(
                rel,
                f"{where}.transform.scale",
                f"{scale:g}",
                f"the item scales metric {metric.code} ({unit}) but gives no unit of its own",
                "add the item's `unit` (e.g. gbp for £), or remove the scale",
            )
        ]
    label = item.their_label.lower()
    money = _money_in_label(label)
    if money and not item.unit and money != unit:
        words = {"gbp": "£", "gbp_thousands": "£ thousands"}
        if unit in _CONVERTIBLE["money"]:
            factor = _conversion(unit, money)
            return [
                CatalogProblem(
                    rel,
                    f"{where}.their_label",
                    item.their_label,
                    f"the item asks for {words[money]} but {metric.code} is in {words[unit]}",
                    f"add unit: {money} and transform: {{scale: {factor:g}}}",
                )
            ]
        return [
            CatalogProblem(
                rel,
                f"{where}.their_label",
                item.their_label,
                f"the item asks for money but {metric.code} is in {unit}",
                "map it to a metric in £ or £ thousands",
            )
        ]
    asks_rate = "%" in label or "percent" in label or " rate" in f" {label}"
    if unit == "count" and asks_rate and not item.unit:
        return [
            CatalogProblem(
                rel,
                f"{where}.their_label",
                item.their_label,
                f"the item asks for a percentage or rate but {metric.code} is a count",
                "map it to the derived percentage metric, or set unit: count if right",
            )
        ]
    return []


def _cycles(metrics: dict[str, Metric], metric_files: dict[str, str]) -> list[CatalogProblem]:
    problems: list[CatalogProblem] = []
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(code: str, stack: list[str]) -> None:
        state[code] = 1
        metric = metrics[code]
        for dep in metric.derived.inputs if metric.derived else []:
            if dep not in metrics:
                continue
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    problems.append(
                        CatalogProblem(
                            metric_files[code],
                            "derived",
                            " -> ".join([*stack[stack.index(dep) :], dep]),
                            "derived metrics form a cycle",
                            "derive from collected metrics so the chain ends",
                        )
                    )
            elif state.get(dep) is None:
                visit(dep, [*stack, dep])
        state[code] = 2

    for code in sorted(metrics):
        if state.get(code) is None:
            visit(code, [code])
    return problems
