"""Run the duplicate-request engine over items and metrics, and shape the result for people."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from collectonce.dedupe.cluster import Cluster, build_clusters, cluster_id
from collectonce.dedupe.facets import Facets
from collectonce.dedupe.items import DedupeItem, MetricText
from collectonce.dedupe.naming import MetricMatch, match_metric, propose_metric
from collectonce.dedupe.rules import Rules
from collectonce.dedupe.scoring import (
    PairScore,
    Space,
    Text,
    build_space,
    candidates,
    conflicts_between,
    score_pairs,
)

_METRIC_GROUP = "\x00catalogue metrics"


@dataclass
class DedupeResult:
    items: list[DedupeItem]
    metrics: list[MetricText]
    space: Space
    pairs: list[PairScore]
    clusters: list[Cluster]
    matches: dict[int, MetricMatch | None]
    proposals: dict[int, dict[str, Any] | None]
    item_metric: dict[int, tuple[str, str, float]]
    stats: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    requester_names: dict[str, str] = field(default_factory=dict)

    @property
    def facets(self) -> list[Facets]:
        return self.space.facets

    def cluster_ids(self) -> list[str]:
        return [cluster_id(self.items, c.members) for c in self.clusters]

    def find_cluster(self, cid: str) -> int | None:
        for index, c in enumerate(self.cluster_ids()):
            if c == cid:
                return index
        return None

    def pair_dict(self, p: PairScore) -> dict[str, Any]:
        return {
            "a": self.items[p.a].ref(),
            "b": self.items[p.b].ref(),
            "score": p.score,
            "decision": p.decision,
            "agree": list(p.agree),
            "conflicts": [{"facet": n, "a": a, "b": b} for n, a, b in p.doubts],
            "reason": p.reason,
        }

    def cluster_dict(self, index: int) -> dict[str, Any]:
        c = self.clusters[index]
        match = self.matches.get(index)
        metric = match.code if match and match.how in ("declared", "duplicate") else None
        return {
            "id": cluster_id(self.items, c.members),
            "decision": c.decision,
            "members": [self.items[i].ref() for i in c.members],
            "items": [
                {
                    **self.items[i].ref(),
                    "requester": self.items[i].requester,
                    "label": self.items[i].label,
                    "mapped_to": self.items[i].metric,
                    "origin": self.items[i].origin,
                }
                for i in c.members
            ],
            "requesters": sorted({self.items[i].requester for i in c.members}),
            "metric": metric,
            "metric_match": match.how if match else None,
            "metric_candidate": match.code if match and metric is None else None,
            "proposed_metric": self.proposals.get(index) if metric is None else None,
            "facets": self.facets[c.members[0]].known(),
            "links": [self.pair_dict(p) for p in c.links],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "pairs": [self.pair_dict(p) for p in self.pairs],
            "clusters": [self.cluster_dict(i) for i in range(len(self.clusters))],
            "summary": self.summary(),
        }

    def summary(self) -> dict[str, Any]:
        dup = sum(p.decision == "duplicate" for p in self.pairs)
        with_metric = sum(
            1
            for i in range(len(self.clusters))
            if (m := self.matches.get(i)) and m.how in ("declared", "duplicate")
        )
        return {
            "items": len(self.items),
            "requests": len({i.request for i in self.items}),
            "requesters": len({i.requester for i in self.items}),
            "register_items": sum(i.origin == "register" for i in self.items),
            "metrics": len(self.metrics),
            **self.stats,
            "duplicate_pairs": dup,
            "review_pairs": len(self.pairs) - dup,
            "clusters": len(self.clusters),
            "duplicate_clusters": sum(c.decision == "duplicate" for c in self.clusters),
            "clusters_matching_a_metric": with_metric,
            "clusters_proposing_a_metric": len(self.clusters) - with_metric,
            "items_in_clusters": sum(len(c.members) for c in self.clusters),
            "warnings": self.warnings,
        }


def _texts(items: list[DedupeItem], metrics: list[MetricText]) -> list[Text]:
    return [
        Text(i.label, i.definition, i.unit, group=i.request, context=i.context or i.request)
        for i in items
    ] + [Text(m.label, m.definition, m.unit, group=_METRIC_GROUP) for m in metrics]


def run_dedupe(
    items: list[DedupeItem],
    metrics: list[MetricText],
    rules: Rules,
    *,
    warnings: list[str] | None = None,
    requester_names: dict[str, str] | None = None,
) -> DedupeResult:
    """Pairs, clusters and metric matches for `items` against the catalogue's `metrics`."""
    space = build_space(_texts(items, metrics), rules)
    n = len(items)
    pairs = candidates(space)
    item_pairs = pairs[(pairs[:, 0] < n) & (pairs[:, 1] < n)] if len(pairs) else pairs
    metric_pairs = pairs[(pairs[:, 0] < n) & (pairs[:, 1] >= n)] if len(pairs) else pairs
    mapped = np.array([i.metric or "" for i in items] + [""] * len(metrics), dtype=object)
    doubt = None
    if len(item_pairs):
        ma, mb = mapped[item_pairs[:, 0]], mapped[item_pairs[:, 1]]
        doubt = (ma != "") & (mb != "") & (ma != mb)
    alike: list[tuple[int, int, float]] = []
    scored, vetoed = score_pairs(space, item_pairs, extra_doubt=doubt, near=alike)
    clusters, refused = build_clusters(items, space, scored)
    scored_m, _ = score_pairs(space, metric_pairs) if len(metric_pairs) else ([], 0)
    near: dict[int, set[int]] = {}
    for p in scored_m:
        near.setdefault(p.a, set()).add(p.b)
    matches: dict[int, MetricMatch | None] = {}
    proposals: dict[int, dict[str, Any] | None] = {}
    taken = {m.code for m in metrics}
    for index, c in enumerate(clusters):
        reach = set().union(*(near.get(i, set()) for i in c.members))
        matches[index] = match_metric(c.members, items, space, n, metrics, reach)
        m = matches[index]
        if m is None or m.how == "review":
            proposal = propose_metric(c.members, items, space.facets, rules, taken)
            taken.add(proposal["code"])
            proposals[index] = proposal
    # Each item's best metric (for items in no cluster too): what `requests suggest` shows.
    item_metric: dict[int, tuple[str, str, float]] = {}
    for p in scored_m:
        best = item_metric.get(p.a)
        key = (p.decision == "duplicate", p.score)
        if best is None or key > (best[1] == "duplicate", best[2]):
            item_metric[p.a] = (metrics[p.b - n].code, p.decision, p.score)
    misses = [
        {
            "a": items[i].ref(),
            "b": items[j].ref(),
            "text_similarity": cos,
            "conflicts": [
                {"facet": f, "a": va, "b": vb} for f, va, vb in conflicts_between(space, i, j)
            ],
        }
        for i, j, cos in alike
    ]
    stats = {
        "candidate_pairs": len(item_pairs),
        "vetoed_pairs": vetoed,
        "refused_merges": len(refused),
        "near_misses": misses,
        "refusals": [
            {"a": items[r.pair.a].ref(), "b": items[r.pair.b].ref(), "why": r.why}
            for r in refused[:20]
        ],
    }
    return DedupeResult(
        items=items,
        metrics=metrics,
        space=space,
        pairs=scored,
        clusters=clusters,
        matches=matches,
        proposals=proposals,
        item_metric=item_metric,
        stats=stats,
        warnings=list(warnings or []),
        requester_names=dict(requester_names or {}),
    )
