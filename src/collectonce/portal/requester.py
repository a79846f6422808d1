"""Requester pages: my requests and their items mapped to catalogue metrics, a view for a period
range (as of any publication) to read or download, and my pull history from the audit log."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from collectonce.portal.session import Session
from collectonce.portal.views import ItemRow, RequestRow, ViewPreview
from collectonce.portal.web import (
    PERIOD_RE,
    PageProblem,
    SignedIn,
    attachment,
    audit_page,
    render,
    require_role,
    state,
)

if TYPE_CHECKING:
    from collectonce.publish.history import PublishedVersion

router = APIRouter(include_in_schema=False)
FORMATS = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
PREVIEW_ROWS = 25
PULL_ACTIONS = ("pull_view", "pull_provider_data", "pull_pack")


def _my_requests(request: Request, session: Session) -> list[Any]:
    p = require_role(session, "requester", "admin")
    cat = state(request).catalog
    chosen = [r for r in cat.requests.values() if p.role == "admin" or r.requester == p.subject]
    return sorted(chosen, key=lambda r: r.code)


def _request(request: Request, session: Session, code: str) -> Any:
    p = require_role(session, "requester", "admin")
    req = state(request).catalog.requests.get(code)
    if req is None:
        raise PageProblem(404, "Page not found", f"There is no request {code!r}.")
    if p.role == "requester" and req.requester != p.subject:
        raise PageProblem(
            403,
            "You cannot see another requester's request",
            f"Request {code} belongs to another requester; you may pull only your own.",
        )
    return req


def requester_home(request: Request, session: Session) -> HTMLResponse:
    return requests_page(request, session)


@router.get("/portal/requests", name="portal_requests")
def requests_page(request: Request, session: SignedIn) -> HTMLResponse:
    reqs = _my_requests(request, session)
    names = {c: r.name for c, r in state(request).catalog.requesters.items()}
    rows = [RequestRow.of(r, names.get(r.requester, r.requester)) for r in reqs]
    return render(
        request,
        "requests.html.j2",
        title="My requests" if session.principal.role == "requester" else "Requests",
        rows=rows,
        breadcrumbs=[("Home", "/")] if request.url.path != "/" else [],
    )


def _publications(request: Request) -> list[PublishedVersion]:
    from collectonce.publish.history import publications

    return list(reversed(publications(state(request).settings)))


def _parse(
    period_from: str | None, period_to: str | None, as_of: str | None
) -> tuple[str | None, str | None, int | None, list[tuple[str, str]]]:
    errors: list[tuple[str, str]] = []
    lo = (period_from or "").strip() or None
    hi = (period_to or "").strip() or None
    if lo and not PERIOD_RE.match(lo):
        errors.append(("#from", "Enter the first month as YYYY-MM, for example 2018-04"))
    if hi and not PERIOD_RE.match(hi):
        errors.append(("#to", "Enter the last month as YYYY-MM, for example 2019-03"))
    if lo and hi and not errors and lo > hi:
        errors.append(("#from", f"The first month ({lo}) must be before the last ({hi})"))
    version = None
    if as_of not in (None, "", "latest"):
        if str(as_of).isdigit():
            version = int(str(as_of))
        else:
            errors.append(("#as_of", "Choose a publication from the list"))
    return lo, hi, version, errors


@router.get("/portal/requests/{code}", name="portal_request")
async def request_page(
    request: Request,
    session: SignedIn,
    code: str,
    to: str | None = None,
    as_of: str | None = None,
) -> HTMLResponse:
    req = _request(request, session, code)
    lo, hi, version, errors = _parse(request.query_params.get("from"), to, as_of)
    publications = await run_in_threadpool(_publications, request)
    shown = "from" in request.query_params or "to" in request.query_params
    preview: ViewPreview | None = None
    if shown and not errors:
        if not publications:
            errors.append(("#from", "Nothing has been published yet"))
        else:
            try:
                df, version = await run_in_threadpool(_view, request, code, lo, hi, version)
            except PageProblem as exc:
                errors.append(("#from", exc.message))
            else:
                head = df.head(PREVIEW_ROWS).astype(object)
                preview = ViewPreview(
                    rows=head.where(head.notna(), "").to_dict("records"),
                    total=len(df),
                    version=version,
                )
                audit_page(
                    request,
                    session,
                    "pull_view",
                    target=code,
                    params={"from": lo, "to": hi, "format": "page"},
                    publication_version=version,
                    rows=len(df),
                )
    names = {c: r.name for c, r in state(request).catalog.requesters.items()}
    return render(
        request,
        "request.html.j2",
        title=f"{req.title}",
        status=400 if errors else 200,
        req=req,
        requester_name=names.get(req.requester, req.requester),
        items=ItemRow.of_request(state(request).catalog, req),
        publications=publications,
        form={"from": lo or "", "to": hi or "", "as_of": "" if version is None else version},
        errors=errors,
        preview=preview,
        preview_rows=PREVIEW_ROWS,
        query=request.url.query,
        breadcrumbs=[("Home", "/"), ("Requests", "/portal/requests")],
    )


def _view(
    request: Request, code: str, lo: str | None, hi: str | None, version: int | None
) -> tuple[Any, int]:
    from collectonce.publish import errors as perrors
    from collectonce.publish.unified import resolve_version
    from collectonce.publish.views import VIEW_COLUMNS
    from collectonce.rollup.publishing import render_request_view as render_view

    st = state(request)
    try:
        resolved = resolve_version(st.settings, version)
        df = render_view(st.catalog, st.settings, code, lo, hi, resolved)
    except (perrors.UnknownPublication, perrors.BadParameter, perrors.UnknownRequest) as exc:
        raise PageProblem(400, "That view cannot be made", str(exc)) from None
    return df.loc[:, VIEW_COLUMNS], resolved


@router.get("/portal/requests/{code}/download", name="portal_request_download")
async def download(
    request: Request,
    session: SignedIn,
    code: str,
    to: str | None = None,
    as_of: str | None = None,
) -> Response:
    from collectonce.publish.exports import write_export

    req = _request(request, session, code)
    fmt = request.query_params.get("format", "csv")
    if fmt not in FORMATS:
        raise PageProblem(400, "That format is not offered", "Choose CSV, XLSX or JSON.")
    lo, hi, version, errors = _parse(request.query_params.get("from"), to, as_of)
    if errors:
        raise PageProblem(400, "That view cannot be made", errors[0][1] + ".")
    df, version = await run_in_threadpool(_view, request, code, lo, hi, version)
    meta = {
        "request": code,
        "requester": req.requester,
        "frequency": req.frequency,
        "publication_version": version,
        "period_from": lo,
        "period_to": hi,
    }

    def make() -> bytes:
        buffer = io.BytesIO()
        units = {code: m.unit for code, m in state(request).catalog.metrics.items()}
        write_export(df, fmt, buffer, meta=meta, units=units)
        return buffer.getvalue()

    try:
        body = await run_in_threadpool(make)
    except ValueError as exc:  # too many rows for one worksheet
        raise PageProblem(400, "That view is too large for this format", str(exc)) from None
    audit_page(
        request,
        session,
        "pull_view",
        target=code,
        params={"from": lo, "to": hi, "format": fmt},
        publication_version=version,
        rows=len(df),
    )
    stem = "_".join(str(p) for p in (code, lo, hi, f"v{version}") if p)
    return attachment(body, FORMATS[fmt], f"{stem}.{fmt}")


@router.get("/portal/pulls", name="portal_pulls")
def pulls(request: Request, session: SignedIn) -> HTMLResponse:
    from collectonce.access.audit import read_audit

    p = require_role(session, "requester", "admin")
    entries = [
        e
        for e in read_audit(state(request).settings, tail=50_000)
        if e.get("action") in PULL_ACTIONS
        and (p.role == "admin" or (e.get("role") == "requester" and e.get("subject") == p.subject))
    ]
    entries.reverse()
    return render(
        request,
        "pulls.html.j2",
        title="My pulls" if p.role == "requester" else "Pulls",
        entries=entries[:500],
        total=len(entries),
        breadcrumbs=[("Home", "/")],
    )
