"""Which request items are the same metric, as declared in the catalogue.

`overlap_table` is the declared dedupe table: every mapped request item beside the metric it maps
to, so the same figure asked for by several bodies shows up as several rows of one metric.
Duplicates nobody has declared are found by `collectonce.dedupe` (`requests dedupe`), the one
matcher; `requests suggest` is a view of it.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pandas as pd

from collectonce.catalog import Catalog

OVERLAP_COLUMNS = [
    "metric",
    "metric_label",
    "requester",
    "request",
    "their_code",
    "their_label",
    "frequency",
    "is_derived",
]
SUMMARY_COLUMNS = [
    "metric",
    "metric_label",
    "is_derived",
    "items",
    "requests",
    "requesters",
    "requester_codes",
    "request_codes",
    "requesters_incl_derived",
]


# ---------------------------------------------------------------------------------------------
# The dedupe table
# ---------------------------------------------------------------------------------------------


def overlap_table(catalog: Catalog) -> pd.DataFrame:
    """One row per (metric, request, item) for every mapped item, sorted by metric."""
    rows = []
    for request in catalog.requests.values():
        for item in request.items:
            for code in item.metric_codes:
                metric = catalog.metrics[code]
                rows.append(
                    {
                        "metric": code,
                        "metric_label": metric.label,
                        "requester": request.requester,
                        "request": request.code,
                        "their_code": item.their_code,
                        "their_label": item.their_label,
                        "frequency": request.frequency,
                        "is_derived": metric.is_derived,
                    }
                )
    frame = pd.DataFrame(rows, columns=OVERLAP_COLUMNS)
    return frame.sort_values(["metric", "requester", "request", "their_code"]).reset_index(
        drop=True
    )


def overlap_summary(catalog: Catalog, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per metric: how many items, requests and requesters ask for it (most shared first).

    `requesters_incl_derived` also counts requesters who need a collected metric only through a
    derived metric built on it (e.g. a 4-hour percentage needs the attendances count).
    """
    table = overlap_table(catalog) if table is None else table
    inputs: dict[str, list[str]] = {}
    users_via_derived: dict[str, set[str]] = defaultdict(set)
    for metric, requester in set(zip(table["metric"], table["requester"], strict=True)):
        if metric not in inputs:
            inputs[metric] = catalog.collected_inputs(metric)
        for base in inputs[metric]:
            users_via_derived[base].add(requester)
    items: Counter[str] = Counter(table["metric"])
    requests: dict[str, set[str]] = defaultdict(set)
    requesters: dict[str, set[str]] = defaultdict(set)
    for metric, request, requester in zip(
        table["metric"], table["request"], table["requester"], strict=True
    ):
        requests[metric].add(request)
        requesters[metric].add(requester)
    rows = [
        {
            "metric": code,
            "metric_label": catalog.metrics[code].label,
            "is_derived": catalog.metrics[code].is_derived,
            "items": items[code],
            "requests": len(requests[code]),
            "requesters": len(requesters[code]),
            "requester_codes": ", ".join(sorted(requesters[code])),
            "request_codes": ", ".join(sorted(requests[code])),
            "requesters_incl_derived": len(users_via_derived[code] | requesters[code]),
        }
        for code in sorted(items)
    ]
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return frame.sort_values(
        ["requesters", "requests", "items", "metric"], ascending=[False, False, False, True]
    ).reset_index(drop=True)


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as plain dicts for JSON, with missing values as None."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in clean.to_dict(orient="records")]
