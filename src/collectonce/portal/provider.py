"""Provider pages: what I owe and why, templates, upload, my submissions, my pack and charts."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from collectonce.access.uploads import UploadInvalid, UploadTooLarge, receive_upload
from collectonce.portal.session import CSRF_FIELD, Session
from collectonce.portal.views import ChartPanel
from collectonce.portal.web import (
    PERIOD_RE,
    PageProblem,
    SignedIn,
    attachment,
    audit_page,
    check_csrf,
    may_see_provider,
    page_headers,
    render,
    see_other,
    state,
)

if TYPE_CHECKING:
    from collectonce.store.receipts import Receipt

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def default_period(today: dt.date | None = None) -> str:
    """The month a provider reports now: the one that has just ended."""
    day = today or dt.date.today()
    first = day.replace(day=1) - dt.timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def _period(value: str | None) -> str:
    if not value:
        return default_period()
    value = value.strip()
    if not PERIOD_RE.match(value):
        raise PageProblem(
            400,
            "That month is not recognised",
            f"{value[:20]!r} is not a month: write it as YYYY-MM, for example 2019-01.",
        )
    return value


def _crumbs(ods: str, *more: tuple[str, str]) -> list[tuple[str, str]]:
    return [("Home", "/"), (ods, f"/portal/providers/{ods}"), *more]


def _plan(request: Request, ods: str, period: str) -> Any:
    from collectonce.burden.plan import collection_plan
    from collectonce.burden.plan_model import PlanError

    try:
        return collection_plan(state(request).catalog, ods, period)
    except PlanError as exc:
        raise PageProblem(400, "There is no plan for that month", str(exc)) from None


def provider_home(request: Request, session: Session, ods: str) -> HTMLResponse:
    may_see_provider(request, session, ods)
    period = default_period()
    plan = _plan(request, ods, period).to_dict()
    from collectonce.ingest.service import list_receipts

    receipts = _own_receipts(list_receipts(state(request).settings, provider=ods), ods)
    return render(
        request,
        "provider_home.html.j2",
        title=f"{plan['provider_name'] or ods}",
        ods=ods,
        plan=plan,
        period=period,
        latest=receipts[:3],
        breadcrumbs=[],
    )


@router.get("/portal/providers/{ods}", name="portal_provider")
def provider_page(request: Request, session: SignedIn, ods: str) -> HTMLResponse:
    return provider_home(request, session, ods)


@router.get("/portal/providers/{ods}/owe", name="portal_owe")
def owe(request: Request, session: SignedIn, ods: str, period: str | None = None) -> HTMLResponse:
    may_see_provider(request, session, ods)
    month = _period(period)
    plan = _plan(request, ods, month).to_dict()
    return render(
        request,
        "owe.html.j2",
        title=f"What {ods} owes for {month}",
        ods=ods,
        plan=plan,
        period=month,
        breadcrumbs=_crumbs(ods),
    )


@router.get("/portal/providers/{ods}/template.{fmt}", name="portal_template")
def template(
    request: Request, session: SignedIn, ods: str, fmt: str, period: str | None = None
) -> Response:
    from collectonce.burden.templates import write_csv_template, write_xlsx_template

    may_see_provider(request, session, ods)
    if fmt not in ("csv", "xlsx"):
        raise PageProblem(404, "Page not found", "Templates come as CSV or XLSX.")
    month = _period(period)
    plan = _plan(request, ods, month)
    with tempfile.TemporaryDirectory(prefix="collectonce-template-") as folder:
        path = Path(folder) / f"{ods}_{month}.{fmt}"
        (write_csv_template if fmt == "csv" else write_xlsx_template)(plan, path)
        body = path.read_bytes()
    media = "text/csv" if fmt == "csv" else XLSX
    return attachment(body, media, f"{ods}_{month}_template.{fmt}")


@router.get("/portal/providers/{ods}/upload", name="portal_upload")
def upload_form(request: Request, session: SignedIn, ods: str) -> HTMLResponse:
    may_see_provider(request, session, ods)
    return _upload_page(request, session, ods, [])


def _upload_page(
    request: Request, session: Session, ods: str, errors: list[tuple[str, str]], status: int = 200
) -> HTMLResponse:
    limit = state(request).settings.max_upload_bytes
    return render(
        request,
        "upload.html.j2",
        title=f"Upload a file for {ods}",
        status=status,
        ods=ods,
        errors=errors,
        limit_mb=f"{limit / 1024 / 1024:.0f}",
        breadcrumbs=_crumbs(ods),
    )


@router.post("/portal/providers/{ods}/upload", name="portal_upload_post")
async def upload(request: Request, session: SignedIn, ods: str) -> Response:
    """The plain form's upload (and the drag-and-drop one, which posts the same form)."""
    may_see_provider(request, session, ods)
    st = state(request)
    p = session.principal
    try:
        received = await receive_upload(
            request, st.settings.root / "uploads", st.settings.max_upload_bytes
        )
    except UploadTooLarge as exc:
        return _upload_page(request, session, ods, [("#file", _sentence(str(exc)))], 413)
    except UploadInvalid as exc:
        text = str(exc)
        if text.startswith("no file found"):
            text = "Choose a file to upload"
        return _upload_page(request, session, ods, [("#file", _sentence(text))], 400)
    try:
        check_csrf(session, received.fields.get(CSRF_FIELD))
        if received.size == 0:
            return _upload_page(request, session, ods, [("#file", "The chosen file is empty")], 400)
        as_provider = p.subject if p.role == "provider" else None
        who = p.subject if p.role == "provider" else "data_team"

        async with st.upload_slots:
            receipt = await st.uploads.submit_file(
                received.path,
                submitter=f"{who} (portal, token {p.token_id})",
                as_provider=as_provider,
                original_name=received.original_name,
            )
    finally:
        received.path.unlink(missing_ok=True)
    audit_page(
        request,
        session,
        "upload",
        status=422 if receipt.status == "rejected" else 201,
        target=receipt.submission_id,
        params={"file": received.original_name, "bytes": received.size},
        rows=receipt.rows_accepted,
    )
    again = "?again=1" if receipt.status == "duplicate" else ""
    return see_other(f"/portal/submissions/{receipt.submission_id}{again}")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _own_receipts(receipts: list[Receipt], ods: str) -> list[Receipt]:
    """A provider's receipts, newest first: those it sent, or holding its rows only (the API's
    rule: a data team's bulk file also carries other providers' findings)."""
    out = [r for r in receipts if r.belongs_to(ods)]
    out.sort(key=lambda r: r.received_at.isoformat(), reverse=True)
    return out


@router.get("/portal/providers/{ods}/submissions", name="portal_submissions")
def submissions(request: Request, session: SignedIn, ods: str) -> HTMLResponse:
    from collectonce.ingest.service import list_receipts

    may_see_provider(request, session, ods)
    receipts = _own_receipts(list_receipts(state(request).settings, provider=ods), ods)
    return render(
        request,
        "submissions.html.j2",
        title=f"Submissions from {ods}",
        ods=ods,
        receipts=receipts,
        breadcrumbs=_crumbs(ods),
    )


def _pack(request: Request, ods: str) -> Any:
    from collectonce.feedback.pack import PackError, build_pack, load_publication, load_receipts

    cat = state(request).catalog
    settings = state(request).settings
    provider = cat.providers[ods]
    peers = [o for o, p in cat.providers.items() if p.peer_group == provider.peer_group]
    try:
        unified, info = load_publication(settings, providers=peers)
        return build_pack(cat, unified, ods, load_receipts(settings, ods), publication=info)
    except PackError as exc:
        raise PageProblem(404, "There is no pack yet", str(exc)) from None


@router.get("/portal/providers/{ods}/pack", name="portal_pack")
async def pack(request: Request, session: SignedIn, ods: str) -> HTMLResponse:
    """The provider's pack page, as the packs folder and the API give it."""
    from collectonce.feedback.pack import render_pack_html

    may_see_provider(request, session, ods)
    built = await run_in_threadpool(_pack, request, ods)
    html = await run_in_threadpool(render_pack_html, built)
    html = html.replace(
        '<main class="nhsuk-main-wrapper" id="maincontent">',
        '<main class="nhsuk-main-wrapper" id="maincontent">\n'
        '<p class="co-portal-links"><a href="/">Back to the portal</a> · '
        f'<a href="/portal/providers/{ods}/pack.xlsx">Download this pack as a workbook (XLSX)</a>'
        f' · <a href="/portal/providers/{ods}/charts">Charts only</a></p>',
        1,
    )
    audit_page(
        request, session, "pull_pack", target=ods, publication_version=built.publication_version
    )
    return HTMLResponse(html, headers=page_headers())


@router.get("/portal/providers/{ods}/pack.xlsx", name="portal_pack_xlsx")
async def pack_xlsx(request: Request, session: SignedIn, ods: str) -> Response:
    from collectonce.feedback.pack import write_pack_xlsx

    may_see_provider(request, session, ods)
    built = await run_in_threadpool(_pack, request, ods)

    def make() -> bytes:
        with tempfile.TemporaryDirectory(prefix="collectonce-pack-") as folder:
            path = Path(folder) / f"{ods}_pack.xlsx"
            write_pack_xlsx(built, path)
            return path.read_bytes()

    body = await run_in_threadpool(make)
    audit_page(
        request,
        session,
        "pull_pack",
        target=ods,
        params={"format": "xlsx"},
        publication_version=built.publication_version,
    )
    return attachment(body, XLSX, f"{ods}_pack.xlsx")


@router.get("/portal/providers/{ods}/charts", name="portal_charts")
async def charts(request: Request, session: SignedIn, ods: str) -> HTMLResponse:
    """Every SPC chart of the provider's pack, on one portal page."""
    from markupsafe import Markup

    from collectonce.feedback.chart import xmr_chart_svg

    may_see_provider(request, session, ods)
    built = await run_in_threadpool(_pack, request, ods)

    def draw() -> list[ChartPanel]:
        out = []
        for panel in built.panels:
            svg = None
            if panel.has_limits:
                unit = "%" if panel.metric.unit == "percent" else ""
                svg = Markup(
                    xmr_chart_svg(
                        panel.points, panel.metric.label, unit=unit, date_col="period", notes=True
                    )
                )
            out.append(
                ChartPanel(
                    code=panel.code,
                    label=panel.metric.label,
                    svg=svg,
                    limits=panel.limits_label,
                    points=len(panel.points),
                )
            )
        return out

    panels = await run_in_threadpool(draw)
    return render(
        request,
        "charts.html.j2",
        title=f"SPC charts for {ods}",
        ods=ods,
        panels=panels,
        publication_version=built.publication_version,
        published_at=built.published_at,
        breadcrumbs=_crumbs(ods, ("My pack", f"/portal/providers/{ods}/pack")),
    )


__all__ = ["default_period", "provider_home", "router", "see_other"]
