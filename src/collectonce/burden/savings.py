"""Hours a year that accepting the duplicate clusters found by `requests dedupe` would save.

Only catalogue items carry a burden (a register has no respondents or minutes). For each
cluster, the items not yet served by the catalogue cost what the burden model says: providers
answering the request × periods a year × minutes per item. Accepting the cluster maps them to
one metric: when an item of the cluster is already served by an active metric, all of that
burden goes; otherwise the figure is still collected once, so the costliest item's hours stay
and the rest go.
"""

from __future__ import annotations

from typing import Any

from collectonce.burden.model import is_served
from collectonce.catalog import Catalog
from collectonce.dedupe.engine import DedupeResult

METHOD = (
    "Accepting a cluster maps its unserved catalogue items to one metric: if the cluster already "
    "has an item served by an active metric, their hours all go; otherwise the costliest item's "
    "hours stay (the figure is still collected once) and the rest go."
)


def _item_hours(catalog: Catalog, request_code: str) -> float:
    request = catalog.requests[request_code]
    providers = len(catalog.respondents(request))
    return providers * request.periods_per_year * request.minutes_per_item / 60.0


def dedupe_savings(catalog: Catalog, result: DedupeResult) -> dict[str, Any]:
    """Hours and cost saved by accepting the duplicate clusters, and by the review clusters."""
    items = {(r.code, i.their_code): i for r in catalog.requests.values() for i in r.items}
    per_cluster = []
    totals = {"duplicate": 0.0, "review": 0.0}
    counts = {"duplicate": 0, "review": 0}
    for index, cluster in enumerate(result.clusters):
        served = False
        hours: list[float] = []
        for i in cluster.members:
            member = result.items[i]
            item = items.get(member.key) if member.origin == "catalog" else None
            if item is None:
                continue
            if is_served(catalog, item):
                served = True
                continue
            hours.append(_item_hours(catalog, member.request))
        saved = sum(hours) if served else sum(hours) - max(hours, default=0.0)
        if saved <= 0:
            continue
        totals[cluster.decision] += saved
        counts[cluster.decision] += 1
        per_cluster.append(
            {
                "cluster": result.cluster_ids()[index],
                "decision": cluster.decision,
                "label": result.items[cluster.members[0]].label,
                "hours_saved": round(saved, 1),
            }
        )
    cost = catalog.info.hourly_cost_gbp
    per_cluster.sort(key=lambda c: (c["decision"] != "duplicate", -c["hours_saved"]))
    return {
        "duplicate_clusters": counts["duplicate"],
        "hours_saved": round(totals["duplicate"], 1),
        "cost_saved_gbp": round(totals["duplicate"] * cost, 0),
        "review_clusters": counts["review"],
        "review_hours": round(totals["review"], 1),
        "per_cluster": per_cluster,
        "method": METHOD,
    }
