"""The catalogue (every metric, why it is collected and who uses it), the burden report, and
the list of publications."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from collectonce.api.cache import Rendered
from collectonce.api.deps import Caller, note, problems
from collectonce.api.models import MetricList, Publication, PublicationList
from collectonce.api.render import jsonable
from collectonce.api.state import State

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog

router = APIRouter()


@router.get(
    "/v1/catalog/metrics",
    response_model=MetricList,
    name="list_metrics",
    tags=["catalogue"],
    responses=problems(401, 403),
)
def list_metrics(request: Request, caller: Caller, st: State) -> Response:
    """Every metric: its definition, why it is collected, and who uses it under which code."""
    body = st.cache.get_or_make(("metrics",), lambda: metrics_body(st.catalog))
    note(request, rows=body.rows)
    return Response(body.body, media_type="application/json")


def metrics_body(cat: Catalog) -> Rendered:
    metrics = []
    for code in sorted(cat.metrics):
        m = cat.metrics[code]
        metrics.append(
            {
                "code": m.code,
                "label": m.label,
                "definition": m.definition,
                "why_collected": m.why_collected,
                "unit": m.unit,
                "value_type": m.value_type,
                "period": m.grain.period,
                "domain": m.domain,
                "improvement_direction": m.improvement_direction,
                "zero_is_significant": m.zero_is_significant,
                "valid_min": m.valid.min,
                "valid_max": m.valid.max,
                "target": m.target.model_dump() if m.target else None,
                "derived": (
                    {
                        "numerator": str(m.derived.numerator),
                        "denominator": str(m.derived.denominator),
                        "multiplier": m.derived.multiplier,
                    }
                    if m.derived
                    else None
                ),
                "status": m.status.state,
                "version": m.status.version,
                "effective_from": m.status.effective_from.isoformat(),
                "requesters": cat.requesters_of(code),
                "requested_as": [
                    {
                        "request": r.code,
                        "requester": r.requester,
                        "their_code": item.their_code,
                        "their_label": item.their_label,
                    }
                    for r, item in cat.items_by_metric.get(code, [])
                ],
            }
        )
    body = json.dumps({"catalog_version": cat.version, "metrics": metrics}, default=str)
    return Rendered("application/json", len(metrics), body=body.encode())


@router.get(
    "/v1/burden",
    name="burden",
    tags=["catalogue"],
    response_model=dict[str, Any],
    responses=problems(401, 403, 404),
)
def burden(caller: Caller, st: State) -> Response:
    """The reporting burden before and after collecting once, against the catalogue's targets."""
    try:
        from collectonce.burden.model import compute_burden
    except ImportError:
        raise HTTPException(404, "the burden model is not available in this installation") from None

    def make() -> Rendered:
        report = compute_burden(st.catalog).to_dict()
        return Rendered("application/json", 1, body=json.dumps(jsonable(report)).encode())

    body = st.cache.get_or_make(("burden",), make)
    return Response(body.body, media_type="application/json")


@router.get(
    "/v1/publications",
    response_model=PublicationList,
    name="list_publications",
    tags=["publications"],
    responses=problems(401, 403),
)
async def publications(request: Request, caller: Caller, st: State) -> PublicationList:
    """Every publication: version, time, catalogue version and counts. Pull any with ?as_of=."""
    listed = await st.publications.publications()
    note(request, rows=len(listed))
    return PublicationList(publications=[Publication.model_validate(p) for p in listed])
