"""Conflict-aware clustering: strongest pairs first, never joining conflicting facets.

Plain transitive closure joins A and C through B even when A and C conflict. Here a merge is
refused when any member of one cluster conflicts with any member of the other, when the two
clusters hold items of the same request, or when their items are mapped to different catalogue
metrics. Duplicate links are merged before review links, each in order of score.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from collectonce.dedupe.items import DedupeItem
from collectonce.dedupe.scoring import PairScore, Space, conflicts_between


@dataclass
class Cluster:
    members: list[int]
    links: list[PairScore] = field(default_factory=list)

    @property
    def decision(self) -> str:
        return "duplicate" if all(p.decision == "duplicate" for p in self.links) else "review"

    @property
    def strength(self) -> float:
        return min((p.score for p in self.links), default=0.0)


@dataclass(frozen=True)
class Refusal:
    pair: PairScore
    why: str


def cluster_id(items: list[DedupeItem], members: list[int]) -> str:
    """A stable id from the members' (request, item code): the same cluster gets the same id."""
    keys = sorted(f"{items[i].request}\x1f{items[i].item_code}" for i in members)
    return "c" + hashlib.sha1("\x1e".join(keys).encode("utf-8")).hexdigest()[:8]


def build_clusters(
    items: list[DedupeItem], space: Space, pairs: list[PairScore]
) -> tuple[list[Cluster], list[Refusal]]:
    """Clusters of two or more items, most certain first, and the merges refused."""
    owner: dict[int, int] = {}
    clusters: dict[int, Cluster] = {}
    refused: list[Refusal] = []
    ordered = sorted(pairs, key=lambda p: (p.decision != "duplicate", -p.score, p.a, p.b))
    next_id = 0
    for pair in ordered:
        ca, cb = owner.get(pair.a), owner.get(pair.b)
        if ca is not None and ca == cb:
            continue
        left = clusters[ca].members if ca is not None else [pair.a]
        right = clusters[cb].members if cb is not None else [pair.b]
        why = _refuse(items, space, left, right)
        if why:
            refused.append(Refusal(pair, why))
            continue
        if ca is None and cb is None:
            clusters[next_id] = Cluster(members=[pair.a, pair.b], links=[pair])
            owner[pair.a] = owner[pair.b] = next_id
            next_id += 1
            continue
        if ca is None:
            ca, cb = cb, ca
            left, right = right, left
        target = clusters[ca]  # type: ignore[index]
        target.links.append(pair)
        if cb is not None:
            other = clusters.pop(cb)
            target.links.extend(other.links)
        for i in right:
            if i not in target.members:
                target.members.append(i)
            owner[i] = ca  # type: ignore[assignment]
    out = list(clusters.values())
    for c in out:
        c.members.sort(key=lambda i: (items[i].request, items[i].item_code))
    out.sort(key=lambda c: (c.decision != "duplicate", -len(c.members), -c.strength))
    return out, refused


def _refuse(items: list[DedupeItem], space: Space, left: list[int], right: list[int]) -> str:
    requests = {items[i].request for i in left}
    shared = requests & {items[j].request for j in right}
    if shared:
        return f"both sides hold items of request {sorted(shared)[0]}"
    metrics = {items[i].metric for i in left + right if items[i].metric}
    if len(metrics) > 1:
        return f"the items are mapped to different metrics ({', '.join(sorted(metrics))})"
    for i in left:
        for j in right:
            clash = conflicts_between(space, i, j)
            if clash:
                name, a, b = clash[0]
                return (
                    f"{items[i].request}·{items[i].item_code} and {items[j].request}·"
                    f"{items[j].item_code} differ on {name} ({a} vs {b})"
                )
    return ""
