"""A submission's receipt as a page: every finding with row, column, rule and fix, its
quarantined rows, and its validation report."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from collectonce.portal.session import Session
from collectonce.portal.web import (
    PageProblem,
    SignedIn,
    attachment,
    page_headers,
    render,
    state,
)

if TYPE_CHECKING:
    from collectonce.store.receipts import Receipt

router = APIRouter(include_in_schema=False)
#: Rows shown on a page; the CSV downloads hold them all.
PAGE_ROWS = 500


def rule_meaning(rule: str) -> str:
    from collectonce.findings import RULES

    if rule in RULES:
        return RULES[rule]
    try:
        from collectonce.ingest.readers import READ_RULES
    except ImportError:
        return ""
    return str(READ_RULES.get(rule, ""))


def receipt_for(request: Request, session: Session, submission_id: str) -> Receipt:
    """The receipt, when this caller may see it (the API's rule); a refusal page otherwise."""
    from collectonce.ingest.service import get_receipt

    p = session.principal
    if p.role == "requester":
        raise PageProblem(403, "You cannot see this page", "Requesters do not submit data.")
    receipt = get_receipt(state(request).settings, submission_id)
    if receipt is None:
        raise PageProblem(404, "Page not found", f"There is no submission {submission_id!r}.")
    if p.role == "provider" and not receipt.belongs_to(str(p.subject)):
        raise PageProblem(
            403,
            "You cannot see another provider's submission",
            f"You are signed in for {p.subject}; this submission is not one of yours.",
        )
    return receipt


def _provider_of(receipt: Receipt) -> str | None:
    if receipt.as_provider:
        return receipt.as_provider
    return receipt.providers[0] if len(receipt.providers) == 1 else None


@router.get("/portal/submissions/{submission_id}", name="portal_receipt")
def receipt_page(
    request: Request, session: SignedIn, submission_id: str, again: bool = False
) -> HTMLResponse:
    """A submission's receipt; `again` when the same bytes were just uploaded once more."""
    from collectonce.store.quarantine import quarantine_path

    receipt = receipt_for(request, session, submission_id)
    settings = state(request).settings
    rules = sorted({(f.severity, f.rule) for f in receipt.findings})
    rejected = quarantine_path(settings, receipt.submission_id) / "rejected_rows.csv"
    ods = _provider_of(receipt)
    docs = _data_docs(request, session, receipt.submission_id)
    crumbs = [("Home", "/")]
    if ods and session.principal.role == "provider":
        crumbs.append(("My submissions", f"/portal/providers/{ods}/submissions"))
    elif session.principal.role == "admin":
        crumbs.append(("Submissions", "/portal/admin/submissions"))
    return render(
        request,
        "receipt.html.j2",
        title=f"Receipt for {receipt.original_name}",
        r=receipt,
        errors=[f for f in receipt.findings if f.severity == "error"][:PAGE_ROWS],
        warnings=[f for f in receipt.findings if f.severity == "warning"][:PAGE_ROWS],
        n_errors=receipt.errors,
        n_warnings=receipt.warnings,
        rules=[(sev, rule, rule_meaning(rule)) for sev, rule in rules],
        page_rows=PAGE_ROWS,
        has_rejected=rejected.is_file(),
        has_report=bool(receipt.report),
        data_docs=docs,
        ods=ods,
        sent_again=again,
        breadcrumbs=crumbs,
    )


def _data_docs(request: Request, session: Session, submission_id: str) -> str | None:
    """The link to the Great Expectations Data Docs of this submission's validation, when
    built and this caller may read them (a provider: only a run that held its file alone)."""
    from collectonce.validate.data_docs import data_docs_note

    note = data_docs_note(state(request).settings, submission_id)
    if note is None:
        return None
    if session.principal.role != "admin" and note.get("files") != 1:
        return None
    return f"/portal/submissions/{submission_id}/data-docs/{note['pages'][0]}"


def _read_rejected(request: Request, submission_id: str) -> tuple[list[str], list[list[str]]]:
    from collectonce.store.quarantine import quarantine_path

    path = quarantine_path(state(request).settings, submission_id) / "rejected_rows.csv"
    if not path.is_file():
        return [], []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = [row for _, row in zip(range(PAGE_ROWS), reader, strict=False)]
    return header, rows


@router.get("/portal/submissions/{submission_id}/rejected", name="portal_rejected")
def rejected_page(request: Request, session: SignedIn, submission_id: str) -> HTMLResponse:
    receipt = receipt_for(request, session, submission_id)
    header, rows = _read_rejected(request, receipt.submission_id)
    return render(
        request,
        "rejected.html.j2",
        title=f"Quarantined rows of {receipt.original_name}",
        r=receipt,
        header=header,
        rows=rows,
        page_rows=PAGE_ROWS,
        breadcrumbs=[
            ("Home", "/"),
            ("Receipt", f"/portal/submissions/{receipt.submission_id}"),
        ],
    )


@router.get("/portal/submissions/{submission_id}/rejected.csv", name="portal_rejected_csv")
def rejected_csv(request: Request, session: SignedIn, submission_id: str) -> Response:
    from collectonce.store.quarantine import quarantine_path

    receipt = receipt_for(request, session, submission_id)
    path = quarantine_path(state(request).settings, receipt.submission_id) / "rejected_rows.csv"
    if not path.is_file():
        raise PageProblem(404, "No rows were quarantined", "Every row of this file was accepted.")
    return attachment(path.read_bytes(), "text/csv", f"{receipt.submission_id}_rejected_rows.csv")


@router.get("/portal/submissions/{submission_id}/findings.csv", name="portal_findings_csv")
def findings_csv(request: Request, session: SignedIn, submission_id: str) -> Response:
    from collectonce.store.quarantine import FINDING_COLUMNS

    receipt = receipt_for(request, session, submission_id)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*FINDING_COLUMNS, "meaning"], lineterminator="\n")
    writer.writeheader()
    for f in receipt.findings:
        row = {k: _cell(v) for k, v in f.to_dict().items() if k in FINDING_COLUMNS}
        writer.writerow({**row, "meaning": rule_meaning(f.rule)})
    return attachment(
        buffer.getvalue().encode("utf-8"), "text/csv", f"{receipt.submission_id}_findings.csv"
    )


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula is shown, not run."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


@router.get("/portal/submissions/{submission_id}/report", name="portal_report")
def validation_report(request: Request, session: SignedIn, submission_id: str) -> HTMLResponse:
    """The validation report page the data team's CLI writes, rendered fresh for this caller."""
    from collectonce.validate.report import render_report

    receipt = receipt_for(request, session, submission_id)
    return HTMLResponse(render_report(receipt, state(request).catalog), headers=page_headers())


DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
_DOCS_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css", ".ico": "image/x-icon"}


def docs_response(request: Request, relative: str) -> Response:
    from collectonce.validate.data_docs import data_docs_file

    found = data_docs_file(state(request).settings, relative)
    if found is None or found.suffix not in _DOCS_TYPES:
        raise PageProblem(404, "Page not found", "There is no such Data Docs page.")
    return Response(found.read_bytes(), media_type=_DOCS_TYPES[found.suffix], headers=DOCS_HEADERS)


@router.get(
    "/portal/submissions/{submission_id}/data-docs/{relative:path}", name="portal_data_docs"
)
def data_docs(request: Request, session: SignedIn, submission_id: str, relative: str) -> Response:
    """The Great Expectations Data Docs pages of a submission's validation run (and the site's
    shared styles), for those who may see the receipt."""
    receipt = receipt_for(request, session, submission_id)
    if _data_docs(request, session, receipt.submission_id) is None:
        raise PageProblem(
            404, "No Data Docs for this submission", "Its validation has no Data Docs page."
        )
    from collectonce.validate.data_docs import data_docs_note, render_pages

    st = state(request)
    note = data_docs_note(st.settings, receipt.submission_id) or {}
    render_pages(st.catalog, st.settings, note)
    allowed = relative in note.get("pages", []) or relative.startswith(("static/", "expectations/"))
    if not allowed:
        raise PageProblem(
            403, "You cannot see this page", "These Data Docs belong to another validation."
        )
    return docs_response(request, relative)
