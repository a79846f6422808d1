"""A provider's own data and feedback pack."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from collectonce.api.cache import Rendered
from collectonce.api.deps import (
    AsOf,
    Caller,
    FormatQuery,
    OdsCode,
    PeriodFrom,
    PeriodTo,
    answering,
    check_range,
    data_content,
    may_see_provider,
    note,
    problems,
)
from collectonce.api.middleware import PAGE_CSP
from collectonce.api.models import ProviderData
from collectonce.api.render import render, respond, stem, units_of
from collectonce.api.state import State
from collectonce.publish.views import PROVIDER_COLUMNS

router = APIRouter()


@router.get(
    "/v1/providers/{ods:path}/data",
    name="pull_provider_data",
    tags=["providers"],
    response_class=Response,
    responses={**data_content(ProviderData), **problems(401, 403, 404)},
)
async def pull_provider_data(
    request: Request,
    caller: Caller,
    st: State,
    ods: OdsCode,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    fmt: FormatQuery = "json",
    as_of: AsOf = None,
) -> Response:
    """A provider's own published data, every metric (derived ones included), monthly.
    A provider sees only its own; an admin any; requesters pull their views instead."""
    note(request, target=ods)
    may_see_provider(st, caller, ods)
    check_range(period_from, period_to)
    version = await st.publications.resolve(as_of)
    note(request, publication_version=version)

    def make() -> Rendered:
        from collectonce.publish.views import provider_data

        df = provider_data(st.catalog, st.settings, ods, period_from, period_to, version)
        # Belt and braces: whatever happens upstream, no other provider's row leaves here.
        df = df.loc[df["provider_code"] == ods, PROVIDER_COLUMNS]
        meta = {
            "provider_code": ods,
            "publication_version": version,
            "period_from": period_from,
            "period_to": period_to,
        }
        name = stem(ods, period_from, period_to, f"v{version}")
        return render(df, fmt, meta, name, units_of(st.catalog), version=version)

    # only now, with the caller allowed this provider, is the cache consulted
    key = ("provider", ods, period_from, period_to, version, fmt)
    rendered = await st.cache.fetch(key, answering(make))
    note(request, rows=rendered.rows)
    return respond(request, rendered, version)


@router.get(
    "/v1/providers/{ods:path}/pack",
    name="pull_pack",
    tags=["providers"],
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **problems(401, 403, 404),
    },
)
async def pull_pack(request: Request, caller: Caller, st: State, ods: OdsCode) -> HTMLResponse:
    """The provider's feedback pack as one HTML page: its data, SPC, assurance, peers, and why
    each figure is collected and who uses it."""
    note(request, target=ods)
    may_see_provider(st, caller, ods)
    try:
        from collectonce.feedback.pack import PackError, build_pack_html
    except ImportError:
        raise HTTPException(404, "feedback packs are not available in this installation") from None
    version = await st.publications.resolve(None)
    note(request, publication_version=version)
    try:
        html = await run_in_threadpool(build_pack_html, st.catalog, st.settings, ods)
    except PackError as exc:  # nothing published, or the provider left the catalogue
        raise HTTPException(404, str(exc)) from None
    return HTMLResponse(
        html,
        headers={
            "X-Publication-Version": str(version),
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": PAGE_CSP,
        },
    )
