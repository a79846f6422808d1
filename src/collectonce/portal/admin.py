"""Data team pages: publications and what each changed, submissions across providers with who
is late or missing for a period, the quarantine, the burden report, and the dedupe queue."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from collectonce.portal.session import Session
from collectonce.portal.views import Owed, PeriodStatus
from collectonce.portal.web import (
    PERIOD_RE,
    PageProblem,
    SignedIn,
    render,
    require_role,
    state,
)

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog
    from collectonce.store.receipts import Receipt

router = APIRouter(include_in_schema=False)
CRUMBS = [("Home", "/")]


def admin_home(request: Request, session: Session) -> HTMLResponse:
    from collectonce.ingest.service import list_receipts
    from collectonce.publish.history import publications as published_versions

    require_role(session, "admin")
    settings = state(request).settings
    receipts = list_receipts(settings)
    publications = published_versions(settings)
    counts: dict[str, int] = defaultdict(int)
    for r in receipts:
        counts[r.status] += 1
    return render(
        request,
        "admin_home.html.j2",
        title="Data team",
        receipts=len(receipts),
        counts=dict(counts),
        quarantined=sum(1 for r in receipts if r.rows_rejected or r.status == "rejected"),
        latest=publications[-1] if publications else None,
        dedupe=_dedupe_available(),
    )


@router.get("/portal/admin", name="portal_admin")
def admin_page(request: Request, session: SignedIn) -> HTMLResponse:
    return admin_home(request, session)


@router.get("/portal/admin/publications", name="portal_publications")
async def publications(request: Request, session: SignedIn) -> HTMLResponse:
    from collectonce.publish.history import publications as published_versions

    require_role(session, "admin")
    listed = await run_in_threadpool(published_versions, state(request).settings)
    return render(
        request,
        "publications.html.j2",
        title="Publications",
        publications=list(reversed(listed)),
        breadcrumbs=CRUMBS,
    )


@router.get("/portal/admin/publications/{version}", name="portal_publication")
async def publication(request: Request, session: SignedIn, version: int) -> HTMLResponse:
    from collectonce.publish.changes import publication_changes
    from collectonce.publish.errors import UnknownPublication
    from collectonce.publish.history import publications as published_versions

    require_role(session, "admin")
    settings = state(request).settings
    listed = {p.version: p for p in published_versions(settings)}
    if version not in listed:
        raise PageProblem(404, "Page not found", f"There is no publication {version}.")
    try:
        changes = await run_in_threadpool(publication_changes, settings, version)
    except UnknownPublication as exc:
        raise PageProblem(404, "That publication cannot be read", str(exc)) from None
    return render(
        request,
        "publication.html.j2",
        title=f"Publication {version}",
        pub=listed[version],
        changes=changes,
        breadcrumbs=[*CRUMBS, ("Publications", "/portal/admin/publications")],
    )


def period_status(catalog: Catalog, receipts: list[Receipt], period: str) -> list[PeriodStatus]:
    """Each provider that owes `period`: received (on time or late, with the deadline) or
    missing. The deadline is the earliest due date of the requests due for that month."""
    from collectonce.burden.plan import collection_plan

    firsts: dict[str, Receipt] = {}
    for r in receipts:
        if period not in r.periods or not r.accepted_anything:
            continue
        for ods in r.providers:
            if ods not in firsts or r.received_at < firsts[ods].received_at:
                firsts[ods] = r
    due_by_group: dict[str, dt.date | None] = {}
    rows = []
    for ods, provider in sorted(catalog.providers.items()):
        group = provider.peer_group
        if group not in due_by_group:
            plan = collection_plan(catalog, ods, period)
            dues = [dt.date.fromisoformat(d["due"]) for d in plan.requests_due]
            due_by_group[group] = min(dues) if dues and plan.items else None
        due = due_by_group[group]
        if due is None:
            continue
        first = firsts.get(ods)
        if first is None:
            rows.append(PeriodStatus(ods, provider.name, due, "missing"))
            continue
        status: Owed = "late" if first.received_at.date() > due else "on time"
        rows.append(
            PeriodStatus(ods, provider.name, due, status, first.received_at, first.submission_id)
        )
    return rows


@router.get("/portal/admin/submissions", name="portal_admin_submissions")
async def submissions(
    request: Request, session: SignedIn, period: str | None = None
) -> HTMLResponse:
    from collectonce.ingest.service import list_receipts

    require_role(session, "admin")
    st = state(request)
    receipts = await run_in_threadpool(list_receipts, st.settings)
    periods = sorted({p for r in receipts for p in r.periods if PERIOD_RE.match(p)})
    errors: list[tuple[str, str]] = []
    chosen = (period or "").strip() or (periods[-1] if periods else None)
    rows: list[PeriodStatus] = []
    if chosen and not PERIOD_RE.match(chosen):
        errors.append(("#period", "Enter the month as YYYY-MM, for example 2019-03"))
    elif chosen:
        rows = await run_in_threadpool(period_status, st.catalog, receipts, chosen)
    tally: dict[str, int] = defaultdict(int)
    for row in rows:
        tally[row.status] += 1
    newest = sorted(receipts, key=lambda r: r.received_at, reverse=True)[:200]
    return render(
        request,
        "admin_submissions.html.j2",
        title="Submissions",
        status=400 if errors else 200,
        period=chosen or "",
        periods=list(reversed(periods))[:36],
        rows=sorted(rows, key=lambda r: r.order),
        tally=dict(tally),
        errors=errors,
        receipts=newest,
        total=len(receipts),
        breadcrumbs=CRUMBS,
    )


@router.get("/portal/admin/quarantine", name="portal_quarantine")
async def quarantine(request: Request, session: SignedIn) -> HTMLResponse:
    from collectonce.ingest.service import list_receipts

    require_role(session, "admin")
    receipts = await run_in_threadpool(list_receipts, state(request).settings)
    held = [
        r
        for r in sorted(receipts, key=lambda r: r.received_at, reverse=True)
        if r.rows_rejected or r.status == "rejected"
    ]
    return render(
        request,
        "quarantine.html.j2",
        title="Quarantine",
        held=held,
        rows=sum(r.rows_rejected for r in held),
        breadcrumbs=CRUMBS,
    )


@router.get("/portal/admin/burden.xlsx", name="portal_burden_xlsx")
async def burden_xlsx(request: Request, session: SignedIn) -> Response:
    from collectonce.burden.model import compute_burden
    from collectonce.burden.workbook import burden_workbook
    from collectonce.portal.web import attachment

    require_role(session, "admin")
    report = await run_in_threadpool(compute_burden, state(request).catalog)
    body = await run_in_threadpool(burden_workbook, report)
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return attachment(body, media, f"burden_{report.catalog_version}.xlsx")


@router.get("/portal/admin/burden", name="portal_burden")
async def burden(request: Request, session: SignedIn) -> HTMLResponse:
    from collectonce.burden.model import compute_burden

    require_role(session, "admin")
    report = await run_in_threadpool(compute_burden, state(request).catalog)
    return render(
        request,
        "burden.html.j2",
        title="Reporting burden",
        d=report.to_dict(),
        breadcrumbs=CRUMBS,
    )


@router.get("/portal/admin/data-docs/{relative:path}", name="portal_admin_data_docs")
def admin_data_docs(request: Request, session: SignedIn, relative: str = "index.html") -> Response:
    """The whole Great Expectations Data Docs site of this data folder (the data team's)."""
    from collectonce.portal.receipts import docs_response

    require_role(session, "admin")
    from collectonce.validate.data_docs import site_dir

    if not (site_dir(state(request).settings) / "index.html").is_file():
        raise PageProblem(
            404, "No Data Docs yet", "Open a submission's Data Docs from its receipt first."
        )
    return docs_response(request, relative or "index.html")


def _dedupe_available() -> bool:
    try:
        import collectonce.dedupe.run  # noqa: F401
    except ImportError:
        return False
    return True


@router.get("/portal/admin/dedupe", name="portal_dedupe")
async def dedupe(request: Request, session: SignedIn) -> HTMLResponse:
    """The review queue of likely duplicate requested items (`collectonce requests dedupe`):
    each cluster with its members, the reason for every link and the command that accepts it."""
    require_role(session, "admin")
    queue: dict[str, Any] | None = None
    problem = None
    if _dedupe_available():
        from collectonce.dedupe.run import analyse

        try:
            result = await run_in_threadpool(analyse, state(request).catalog)
        except ValueError as exc:  # the catalogue's dedupe rules are invalid
            problem = str(exc)
        else:
            queue = result.to_dict()
    return render(
        request,
        "dedupe.html.j2",
        title="Duplicate requests to review",
        available=_dedupe_available(),
        queue=queue,
        problem=problem,
        breadcrumbs=CRUMBS,
    )
