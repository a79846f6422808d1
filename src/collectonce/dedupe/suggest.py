"""`requests suggest` as a view of the dedupe engine: mappings to propose, one row per item.

* `unmapped`: an item with no metric, and the catalogue metric it matches;
* `suspicious`: a mapped item whose facets conflict with its own metric, and the metric it
  matches instead (if any);
* `duplicate`: an unmapped item asked for by other requests too, with no metric yet: accept its
  cluster with `requests dedupe --accept` to add the proposed metric.
"""

from __future__ import annotations

from typing import Any

from collectonce.dedupe.cluster import cluster_id
from collectonce.dedupe.engine import DedupeResult
from collectonce.dedupe.scoring import conflicts_between

COLUMNS = [
    "kind",
    "request",
    "requester",
    "their_code",
    "their_label",
    "current_metric",
    "suggested_metric",
    "suggested_label",
    "score",
    "reason",
]


def suggestions(result: DedupeResult, *, min_score: float = 0.5) -> list[dict[str, Any]]:
    labels = {m.code: m.label for m in result.metrics}
    offset = len(result.items)
    index = {m.code: offset + k for k, m in enumerate(result.metrics)}
    in_cluster = {i: c for c in result.clusters for i in c.members}
    rows: list[dict[str, Any]] = []

    def row(kind: str, i: int, metric: str | None, score: float, reason: str) -> None:
        item = result.items[i]
        rows.append(
            {
                "kind": kind,
                "request": item.request,
                "requester": item.requester,
                "their_code": item.item_code,
                "their_label": item.label,
                "current_metric": item.metric,
                "suggested_metric": metric,
                "suggested_label": labels.get(metric) if metric else None,
                "score": round(score, 2),
                "reason": reason,
            }
        )

    for i, item in enumerate(result.items):
        best = result.item_metric.get(i)
        if item.metric is None:
            if best and best[2] >= min_score:
                code, decision, score = best
                row("unmapped", i, code, score, f"{decision}: {_why(result, i, index[code])}")
            elif i in in_cluster:
                c = in_cluster[i]
                cid = cluster_id(result.items, c.members)
                k = result.clusters.index(c)
                proposal = result.proposals.get(k) or {}
                row(
                    "duplicate",
                    i,
                    None,
                    c.strength,
                    f"asked for by {len({result.items[j].request for j in c.members})} requests "
                    f"with no catalogue metric: accept cluster {cid} to add "
                    f"{proposal.get('code', 'a new metric')}",
                )
            continue
        if "+" in item.metric or item.metric not in index:
            continue
        clash = conflicts_between(result.space, i, index[item.metric])
        if not clash:
            continue
        name, a, b = clash[0]
        better = best[0] if best and best[0] != item.metric and best[2] >= min_score else None
        row(
            "suspicious",
            i,
            better,
            best[2] if better and best else 0.0,
            f"the label says {name} {a} but {item.metric} has {b}"
            + (f"; it matches {better} instead" if better else ""),
        )
    order = {"suspicious": 0, "unmapped": 1, "duplicate": 2}
    rows.sort(key=lambda r: (order[r["kind"]], -r["score"], r["request"], r["their_code"]))
    return rows


def _why(result: DedupeResult, i: int, j: int) -> str:
    import numpy as np

    from collectonce.dedupe.scoring import score_pairs

    scored, _ = score_pairs(result.space, np.array([[i, j]]), min_score=0.0)
    return scored[0].reason if scored else "matched"
