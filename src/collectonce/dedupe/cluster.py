"""Conflict-aware clustering: strongest pairs first, never joining conflicting facets.

Plain transitive closure joins A and C through B even when A and C conflict. Here a merge is
refused when any member of one cluster conflicts with any member of the other, when the two
clusters hold items of the same request, or when their items are mapped to different catalogue
metrics. Duplicate links are merged before review links, each in order of score.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

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


class _Conflicts:
    """Whether two items' facets conflict, computed once per pair of distinct facet profiles."""

    def __init__(self, space: Space) -> None:
        self.space = space
        _, first, self.profile = np.unique(
            space.masks, axis=0, return_index=True, return_inverse=True
        )
        self.profile = self.profile.ravel()
        self.first = first
        self.cache: dict[tuple[int, int], list[tuple[str, object, object]]] = {}

    def of_profiles(self, pi: int, pj: int) -> list[tuple[str, object, object]]:
        key = (pi, pj) if pi <= pj else (pj, pi)
        if key not in self.cache:
            self.cache[key] = conflicts_between(
                self.space, int(self.first[key[0]]), int(self.first[key[1]])
            )
        return self.cache[key]


@dataclass
class _Group:
    members: list[int]
    requests: set[str]
    metrics: set[str]
    profiles: set[int]
    links: list[PairScore]


def build_clusters(
    items: list[DedupeItem], space: Space, pairs: list[PairScore]
) -> tuple[list[Cluster], list[Refusal]]:
    """Clusters of two or more items, most certain first, and the merges refused."""
    conflicts = _Conflicts(space)
    owner: dict[int, _Group] = {}
    refused: list[Refusal] = []

    def single(i: int) -> _Group:
        metric = items[i].metric
        return _Group(
            [i],
            {items[i].request},
            {metric} if metric else set(),
            {int(conflicts.profile[i])},
            [],
        )

    ordered = sorted(pairs, key=lambda p: (p.decision != "duplicate", -p.score, p.a, p.b))
    for pair in ordered:
        left, right = owner.get(pair.a), owner.get(pair.b)
        if left is not None and left is right:
            continue
        left = left or single(pair.a)
        right = right or single(pair.b)
        why = _refuse(items, conflicts, left, right)
        if why:
            refused.append(Refusal(pair, why))
            continue
        if len(left.members) < len(right.members):
            left, right = right, left
        left.members.extend(right.members)
        left.requests |= right.requests
        left.metrics |= right.metrics
        left.profiles |= right.profiles
        left.links.extend(right.links)
        left.links.append(pair)
        for i in left.members:
            owner[i] = left
    groups = {id(g): g for g in owner.values()}.values()
    out = [
        Cluster(
            members=sorted(g.members, key=lambda i: (items[i].request, items[i].item_code)),
            links=g.links,
        )
        for g in groups
    ]
    out.sort(key=lambda c: (c.decision != "duplicate", -len(c.members), -c.strength))
    return out, refused


def _refuse(items: list[DedupeItem], conflicts: _Conflicts, left: _Group, right: _Group) -> str:
    shared = left.requests & right.requests
    if shared:
        return f"both sides hold items of request {sorted(shared)[0]}"
    metrics = left.metrics | right.metrics
    if len(metrics) > 1:
        return f"the items are mapped to different metrics ({', '.join(sorted(metrics))})"
    for pi in left.profiles:
        for pj in right.profiles:
            clash = conflicts.of_profiles(pi, pj)
            if clash:
                name, a, b = clash[0]
                i = next(m for m in left.members if conflicts.profile[m] == pi)
                j = next(m for m in right.members if conflicts.profile[m] == pj)
                return (
                    f"{items[i].request}·{items[i].item_code} and {items[j].request}·"
                    f"{items[j].item_code} differ on {name} ({a} vs {b})"
                )
    return ""
