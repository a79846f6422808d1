"""Name the catalogue metric a cluster is, or propose a new one from its facets."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from collectonce.dedupe.facets import Facets
from collectonce.dedupe.items import DedupeItem, MetricText
from collectonce.dedupe.rules import Rules
from collectonce.dedupe.scoring import Space, score_pairs

_MEASURE_SUFFIX = {
    "share": "pct",
    "rate": "rate",
    "count": "",
    "money": "gbp_thousands",
    "fte": "fte",
    "mean": "mean",
    "median": "median",
    "time": "time",
}


@dataclass(frozen=True)
class MetricMatch:
    code: str
    how: str  # "declared" | "duplicate" | "review"
    score: float


def match_metric(
    members: list[int],
    items: list[DedupeItem],
    space: Space,
    metric_offset: int,
    metrics: list[MetricText],
    near: set[int] | None = None,
) -> MetricMatch | None:
    """The catalogue metric the members are: declared through a mapping, or matched by facets.

    `near` are the metrics (as indices in the space) any member was found near; without it every
    metric is tried.
    """
    mapped = {metric for i in members if (metric := items[i].metric)}
    if len(mapped) == 1:
        return MetricMatch(code=mapped.pop(), how="declared", score=1.0)
    if not metrics or (near is not None and not near):
        return None
    # Score every member against each metric in reach (small: one cluster × a few metrics).
    m_idx = (
        np.array(sorted(near))
        if near is not None
        else np.arange(metric_offset, metric_offset + len(metrics))
    )
    a = np.repeat(np.array(members), len(m_idx))
    b = np.tile(m_idx, len(members))
    scored, _ = score_pairs(space, np.stack([a, b], axis=1), min_score=0.0)
    by_metric: dict[int, list[tuple[str, float]]] = {}
    for p in scored:
        by_metric.setdefault(p.b, []).append((p.decision, p.score))
    best: tuple[tuple[int, float], int] | None = None
    for metric, results in by_metric.items():
        if len(results) < len(members):
            continue  # some member conflicts with this metric
        mean = sum(s for _, s in results) / len(results)
        if mean < space.rules.spec.thresholds.review:
            continue
        dups = sum(d == "duplicate" for d, _ in results)
        key = (dups, mean)
        if best is None or key > best[0]:
            best = (key, metric)
    if best is None:
        return None
    (dups, mean), metric = best
    how = "duplicate" if dups == len(members) else "review"
    return MetricMatch(code=metrics[metric - metric_offset].code, how=how, score=round(mean, 3))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _wait(minutes: float) -> str:
    for unit, size in (("wk", 10080), ("day", 1440), ("hr", 60)):
        if minutes >= size and minutes % size == 0:
            return f"{int(minutes // size)}{unit}"
    return f"{minutes:g}min"


def propose_metric(
    members: list[int],
    items: list[DedupeItem],
    facets: list[Facets],
    rules: Rules,
    taken: set[str],
) -> dict[str, Any]:
    """A new metric for a cluster nobody has defined: code, label, unit, domain and facets."""
    richest = max(
        members,
        key=lambda i: (len(facets[i].known()), -abs(len(items[i].label) - 70), items[i].label),
    )
    f = facets[richest]
    topic = sorted(f.get("topic"))
    measure = sorted(f.get("measure"))
    parts: list[str] = []
    if topic:
        parts.append(topic[0].removeprefix("hcai_").removeprefix("finance_"))
        for name in sorted(f.values):
            if name.startswith("scope.") or name in ("population", "staff_group"):
                vals = sorted(f.get(name))
                if len(vals) == 1 and vals[0] not in ("all_types", "all_staff", "combined"):
                    parts.append(vals[0])
        if f.threshold:
            direction = sorted(f.get("direction"))
            parts.append(
                ("over_" if direction == ["over"] else "within_" if direction == ["within"] else "")
                + _wait(min(f.threshold))
            )
    else:
        words = [w for w in _slug(items[richest].label).split("_") if w][:5]
        parts.extend(words or ["new_metric"])
    if measure and _MEASURE_SUFFIX.get(measure[0]):
        parts.append(_MEASURE_SUFFIX[measure[0]])
    code = _slug("_".join(parts))[:60].strip("_") or "new_metric"
    if not code[0].isalpha():
        code = "m_" + code
    base, n = code, 2
    while code in taken:
        code, n = f"{base}_{n}", n + 1
    units = Counter(items[i].unit for i in members if items[i].unit)
    unit = units.most_common(1)[0][0] if units else None
    if unit not in rules.spec.measure_units.values():
        unit = rules.spec.measure_units.get(measure[0]) if measure else None
    domain = rules.spec.topic_domains.get(topic[0]) if topic else None
    return {
        "code": code,
        "label": items[richest].label,
        "unit": unit or "count",
        "domain": domain or "unassigned",
        "facets": f.known(),
        "from_item": items[richest].ref(),
    }
