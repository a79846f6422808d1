"""Requests and their views: what a requester may pull, and a request's view in the
requester's own codes and frequency."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from collectonce.api.cache import Rendered
from collectonce.api.deps import (
    AsOf,
    Caller,
    FormatQuery,
    PeriodFrom,
    PeriodTo,
    RequestCode,
    answering,
    check_range,
    data_content,
    note,
    problems,
)
from collectonce.api.models import ItemInfo, RequestInfo, RequestList, View
from collectonce.api.render import render, respond, stem, units_of
from collectonce.api.state import ApiState, State
from collectonce.publish.views import VIEW_COLUMNS

if TYPE_CHECKING:
    from collectonce.catalog.models import Request as CatalogRequest

router = APIRouter()


def request_info(st: ApiState, req: CatalogRequest, may_pull: bool) -> RequestInfo:
    requester = st.catalog.requesters.get(req.requester)
    return RequestInfo(
        code=req.code,
        requester=req.requester,
        requester_name=requester.name if requester else req.requester,
        title=req.title,
        purpose=req.purpose,
        frequency=req.frequency,
        year_start=req.year_start,
        due_days_after_period=req.due_days_after_period,
        respondents="all" if req.respondents == "all" else list(req.respondents),
        may_pull=may_pull,
        view_url=f"/v1/requests/{req.code}/view",
        items=[
            ItemInfo(
                their_code=item.their_code,
                their_label=item.their_label,
                metrics=list(item.metric_codes),
                aggregate=item.transform.aggregate if item.transform else None,
                scale=item.transform.scale if item.transform else 1.0,
                unmapped_reason=item.unmapped_reason,
            )
            for item in req.items
        ],
    )


@router.get(
    "/v1/requests",
    response_model=RequestList,
    name="list_requests",
    tags=["requests"],
    responses=problems(401, 403),
)
def list_requests(request: Request, caller: Caller, st: State) -> RequestList:
    """The requests this caller may pull: a requester its own, an admin all. A provider sees the
    requests it must answer, as read-only metadata."""
    cat = st.catalog
    if caller.role == "provider":
        chosen = [(r, False) for r in cat.requests_for(cat.providers[str(caller.subject)])]
    elif caller.role == "requester":
        chosen = [(r, True) for r in cat.requests.values() if r.requester == caller.subject]
    else:
        chosen = [(r, True) for r in cat.requests.values()]
    chosen.sort(key=lambda pair: pair[0].code)
    note(request, rows=len(chosen))
    return RequestList(requests=[request_info(st, r, may_pull) for r, may_pull in chosen])


@router.get(
    "/v1/requests/{code:path}/view",
    name="pull_view",
    tags=["requests"],
    response_class=Response,
    responses={**data_content(View), **problems(401, 403, 404)},
)
async def pull_view(
    request: Request,
    caller: Caller,
    st: State,
    code: RequestCode,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    fmt: FormatQuery = "json",
    as_of: AsOf = None,
) -> Response:
    """A request's view: in the requester's own item codes and frequency, limited to its items.
    A requester may pull only its own requests; an admin any; a provider none."""
    note(request, target=code)
    if caller.role == "provider":
        raise HTTPException(403, "providers pull their own data from /v1/providers/{ods}/data")
    req = st.catalog.requests.get(code)
    if req is None:
        raise HTTPException(404, f"there is no request {code!r}; GET /v1/requests lists yours")
    if caller.role == "requester" and req.requester != caller.subject:
        raise HTTPException(403, f"request {code} belongs to another requester")
    check_range(period_from, period_to)
    version = await st.publications.resolve(as_of)
    note(request, publication_version=version)

    def make() -> Rendered:
        from collectonce.rollup.publishing import render_request_view as render_view

        df = render_view(st.catalog, st.settings, code, period_from, period_to, version)
        meta = {
            "request": code,
            "requester": req.requester,
            "frequency": req.frequency,
            "publication_version": version,
            "period_from": period_from,
            "period_to": period_to,
        }
        name = stem(code, period_from, period_to, f"v{version}")
        frame = df.loc[:, VIEW_COLUMNS]
        return render(frame, fmt, meta, name, units_of(st.catalog), version=version)

    # only now, with the caller allowed this request, is the cache consulted
    key = ("view", code, period_from, period_to, version, fmt)
    rendered = await st.cache.fetch(key, answering(make))
    note(request, rows=rendered.rows)
    return respond(request, rendered, version)
