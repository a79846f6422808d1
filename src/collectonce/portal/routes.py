"""The portal's front door: the start page, sign-in and sign-out, static files, and the pages
shown for refusals. `include_portal` adds it all to the API app."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from collectonce.access.audit import append_audit, audit_record
from collectonce.access.auth import Principal, token_id_of, verify
from collectonce.portal import admin, provider, receipts, requester
from collectonce.portal.session import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SESSION_HOURS,
    SIGN_IN_COOKIE,
    Session,
    csrf_matches,
    end_session,
    new_sign_in_nonce,
    prune_sessions,
    start_session,
)
from collectonce.portal.web import (
    NHSUK_CSS,
    PORTAL_ROLES,
    STATIC,
    PageProblem,
    SignInNeeded,
    check_csrf,
    current_session,
    is_tls,
    page_headers,
    render,
    see_other,
    signed_in,
    state,
)

router = APIRouter(include_in_schema=False)
_STATIC_FILES = {
    "nhsuk-frontend.min.css": (NHSUK_CSS, "text/css"),
    "portal.css": (STATIC / "portal.css", "text/css"),
    "portal.js": (STATIC / "portal.js", "text/javascript"),
}


def portal_home(request: Request) -> Response:
    """The portal's start page for a browser at `/` (the API answers JSON clients there)."""
    session = current_session(request)
    if session is None:
        return see_other("/portal/sign-in")
    p = session.principal
    if p.role == "provider":
        return provider.provider_home(request, session, str(p.subject))
    if p.role == "requester":
        return requester.requester_home(request, session)
    return admin.admin_home(request, session)


@router.get("/portal/static/{name}", name="portal_static")
def static(name: str) -> Response:
    found = _STATIC_FILES.get(name)
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    path, media_type = found
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "max-age=3600"})


def _sign_in_page(
    request: Request, next_path: str, errors: list[tuple[str, str]], status: int = 200
) -> Response:
    nonce = request.cookies.get(SIGN_IN_COOKIE) or new_sign_in_nonce()
    response = render(
        request,
        "sign_in.html.j2",
        title="Sign in",
        status=status,
        session=None,
        nonce=nonce,
        next_path=_safe_next(next_path),
        errors=errors,
        hours=SESSION_HOURS,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=is_tls(request),
        path="/portal/sign-in",
    )
    return response


def _safe_next(value: str | None) -> str:
    """Only a path on this site (never //host or a scheme) is followed after sign-in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


@router.get("/portal/sign-in", name="portal_sign_in")
def sign_in_form(request: Request, next: str = "/") -> Response:
    if current_session(request) is not None:
        return see_other(_safe_next(next))
    return _sign_in_page(request, next, [])


@router.post("/portal/sign-in", name="portal_sign_in_post")
def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if not csrf_matches(request.cookies.get(SIGN_IN_COOKIE), csrf_token):
        raise PageProblem(
            403,
            "This form has expired",
            "The sign-in form was not sent from this browser's own page. "
            "Open the sign-in page again and paste your token there.",
        )
    st = state(request)
    token = token.strip()
    if not token:
        return _sign_in_page(request, next, [("#token", "Enter your access token")], 400)
    principal = verify(st.settings, token)
    known = {"provider": st.catalog.providers, "requester": st.catalog.requesters}
    if principal is None or (
        principal.role in known and principal.subject not in known[principal.role]
    ):
        _audit_sign_in(request, None, token, 401)
        return _sign_in_page(
            request,
            next,
            [
                (
                    "#token",
                    "This token is not valid, has expired or was revoked: "
                    "ask your data team for a new one",
                )
            ],
            401,
        )
    if principal.role not in PORTAL_ROLES:  # a regional team reads roll-ups through the API
        return _sign_in_page(
            request,
            next,
            [
                (
                    "#token",
                    "This is a regional team's token: it reads its region's roll-ups and pack "
                    "through the API (GET /v1/rollups/region); the portal is for providers, "
                    "requesters and the data team",
                )
            ],
            403,
        )
    prune_sessions(st.settings)
    cookie, session = start_session(st.settings, principal)
    _audit_sign_in(request, principal, token, 303)
    response = see_other(_safe_next(next))
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        expires=session.expires_at,
        httponly=True,
        samesite="strict",
        secure=is_tls(request),
        path="/",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/portal/sign-in")
    return response


def _audit_sign_in(request: Request, principal: Principal | None, token: str, status: int) -> None:
    """Every sign-in, and every refused one (with the token id it claimed), in the audit log."""
    client = request.client
    append_audit(
        state(request).settings,
        audit_record(
            action="portal_sign_in",
            token_id=principal.token_id if principal else token_id_of(token),
            role=principal.role if principal else None,
            subject=principal.subject if principal else None,
            client=client.host if client else None,
            params={"via": "portal"},
            status=status,
        ),
    )


@router.post("/portal/sign-out", name="portal_sign_out")
def sign_out(
    request: Request,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    session = current_session(request)
    check_csrf(session, csrf_token)
    end_session(state(request).settings, request.cookies.get(SESSION_COOKIE))
    response = see_other("/portal/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/portal", name="portal_root")
def portal_root(session: Annotated[Session, Depends(signed_in)]) -> Response:
    return see_other("/")


def _problem_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageProblem)
    return render(
        request, "problem.html.j2", title=exc.title, message=exc.message, status=exc.status
    )


async def _missing_page(request: Request, exc: Exception) -> Response:
    """A browser that asks for a portal address that does not exist gets a page saying so; every
    other answer (the API's JSON, a redirect, a 405) is FastAPI's own."""
    assert isinstance(exc, StarletteHTTPException)
    wants_page = "text/html" in request.headers.get("accept", "")
    if exc.status_code == 404 and wants_page and request.url.path.startswith("/portal/"):
        said = str(exc.detail or "").rstrip(".")
        message = (
            f"{said[:1].upper()}{said[1:]}."
            if said and said != "Not Found"
            else "If you typed the web address, check it is correct. If you followed a link "
            "or a bookmark, the page has moved: start again from the start page."
        )
        return render(
            request, "problem.html.j2", title="Page not found", message=message, status=404
        )
    return await http_exception_handler(request, exc)


def _to_sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)
    from urllib.parse import quote

    return see_other("/portal/sign-in?next=" + quote(exc.next_path, safe="/"))


def include_portal(app: FastAPI) -> None:
    """Add the portal's pages to the API app (the API itself stays under /v1)."""
    app.include_router(router)
    app.include_router(provider.router)
    app.include_router(requester.router)
    app.include_router(receipts.router)
    app.include_router(admin.router)
    app.add_exception_handler(PageProblem, _problem_page)
    app.add_exception_handler(SignInNeeded, _to_sign_in)
    app.add_exception_handler(StarletteHTTPException, _missing_page)


__all__ = ["include_portal", "page_headers", "portal_home"]
