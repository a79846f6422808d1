"""What every portal page shares: templates, the signed-in caller, CSRF checks, refusals and
security headers."""

from __future__ import annotations

import datetime as dt
import numbers
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from collectonce import __version__, web
from collectonce.access.audit import append_audit, audit_record
from collectonce.errors import PortalError
from collectonce.portal.session import (
    CSRF_FIELD,
    SESSION_COOKIE,
    Session,
    csrf_matches,
    load_session,
)

if TYPE_CHECKING:
    from collectonce.access.auth import Principal
    from collectonce.api.state import ApiState

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
#: The NHS.UK frontend stylesheet the packs already vendor: served from there, never copied.
NHSUK_CSS = web.NHSUK_CSS

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
ROLE_NAMES = {"provider": "Provider", "requester": "Requester", "admin": "Data team"}
#: The roles that may hold a portal session (any other token is refused at sign-in).
PORTAL_ROLES = frozenset(ROLE_NAMES)


class SignInNeeded(PortalError):
    """The page needs a session; the browser is sent to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageProblem(PortalError):
    """A refusal or a missing thing, shown as a page with its status."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def state(request: Request) -> ApiState:
    return request.app.state.api  # type: ignore[no-any-return]


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def current_session(request: Request) -> Session | None:
    cached = getattr(request.state, "portal_session", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    st = state(request)
    session = load_session(st.settings, request.cookies.get(SESSION_COOKIE))
    if session is not None:
        known = {"provider": st.catalog.providers, "requester": st.catalog.requesters}
        p = session.principal
        if (p.role in known and p.subject not in known[p.role]) or p.role not in PORTAL_ROLES:
            session = None
    request.state.portal_session = session
    return session


def signed_in(request: Request) -> Session:
    """The FastAPI dependency of every page but sign-in: the live session, else to sign-in."""
    session = current_session(request)
    if session is None:
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise SignInNeeded(path)
    return session


#: A route's signed-in session (FastAPI redirects to sign-in when there is none).
SignedIn = Annotated[Session, Depends(signed_in)]
#: A month as the portal's forms give it: ``YYYY-MM``.
PERIOD_RE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


def require_role(session: Session, *roles: str) -> Principal:
    p = session.principal
    if p.role not in roles:
        raise PageProblem(
            403,
            "You cannot see this page",
            f"This page is for {' or '.join(ROLE_NAMES[r].lower() for r in roles)} accounts; "
            f"you are signed in as {describe(p)}.",
        )
    return p


def may_see_provider(request: Request, session: Session, ods: str) -> None:
    """The API's rule: a provider sees only its own; the data team any; requesters none."""
    p = session.principal
    if p.role == "requester":
        raise PageProblem(
            403,
            "You cannot see this page",
            "Requesters see their own requests' views; a provider's data is its own.",
        )
    if p.role == "provider" and ods != p.subject:
        raise PageProblem(
            403,
            "You cannot see another provider's data",
            f"You are signed in for {p.subject}; a provider may see only its own data.",
        )
    if ods not in state(request).catalog.providers:
        raise PageProblem(404, "Page not found", f"There is no provider {ods!r} in the catalogue.")


def check_csrf(session: Session | None, given: str | None) -> None:
    if session is None or not csrf_matches(session.csrf, given):
        raise PageProblem(
            403,
            "This form has expired",
            "The form was not sent from this session (its security token did not match). "
            "Go back, reload the page and send it again.",
        )


async def form_csrf(request: Request) -> str | None:
    form = await request.form(max_files=0, max_fields=20)
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


def describe(p: Principal) -> str:
    st_name = ROLE_NAMES.get(p.role, p.role)
    return f"{st_name} {p.subject}" if p.subject else st_name


def display_name(request: Request, p: Principal) -> str:
    cat = state(request).catalog
    if p.role == "provider" and p.subject in cat.providers:
        name = cat.providers[p.subject].name
        return f"{name} ({p.subject})" if name else str(p.subject)
    if p.role == "requester" and p.subject in cat.requesters:
        return cat.requesters[p.subject].name
    return "Data team"


def navigation(p: Principal) -> list[tuple[str, str]]:
    if p.role == "provider":
        base = f"/portal/providers/{p.subject}"
        return [
            ("What I owe", f"{base}/owe"),
            ("Upload", f"{base}/upload"),
            ("My submissions", f"{base}/submissions"),
            ("My pack", f"{base}/pack"),
        ]
    if p.role == "requester":
        return [("My requests", "/portal/requests"), ("My pulls", "/portal/pulls")]
    return [
        ("Publications", "/portal/admin/publications"),
        ("Submissions", "/portal/admin/submissions"),
        ("Quarantine", "/portal/admin/quarantine"),
        ("Burden", "/portal/admin/burden"),
        ("Requests", "/portal/requests"),
    ]


def month_name(period: str) -> str:
    """`2026-11` as people write it, `November 2026` (anything else is shown as it is)."""
    try:
        return dt.date.fromisoformat(f"{period}-01").strftime("%B %Y")
    except (TypeError, ValueError):
        return str(period)


@lru_cache(maxsize=1)
def environment() -> Any:
    env = web.strict_environment(TEMPLATES)
    env.filters["n"] = number
    env.filters["when"] = when
    env.filters["q"] = lambda v: quote(str(v), safe="")
    env.filters["month"] = month_name
    env.globals["version"] = __version__
    return env


def number(value: Any) -> str:
    """A number with thousands separators; a whole float without its ".0"."""
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        return "" if value != value else f"{value:,.10g}"
    return str(value)


def when(value: Any) -> str:
    """A time as people read it in the UK: 5 December 2026, 08:14 UTC."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC) if value.tzinfo else value
        return f"{moment.day} {moment:%B %Y, %H:%M} UTC"
    if isinstance(value, dt.date):
        return f"{value.day} {value:%B %Y}"
    return str(value)


def render(
    request: Request,
    name: str,
    *,
    title: str,
    status: int = 200,
    session: Session | None = None,
    **context: Any,
) -> HTMLResponse:
    session = session if session is not None else current_session(request)
    p = session.principal if session else None
    html = (
        environment()
        .get_template(name)
        .render(
            title=title,
            session=session,
            principal=p,
            who=display_name(request, p) if p else None,
            role_name=ROLE_NAMES.get(p.role, "") if p else "",
            nav=navigation(p) if p else [],
            path=request.url.path,
            csrf_field=CSRF_FIELD,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers=page_headers())


def page_headers() -> dict[str, str]:
    return {**SECURITY_HEADERS, "Cache-Control": "no-store"}


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=page_headers())


def audit_page(
    request: Request,
    session: Session,
    action: str,
    *,
    status: int = 200,
    target: str | None = None,
    params: dict[str, Any] | None = None,
    publication_version: int | None = None,
    rows: int | None = None,
) -> None:
    """One audit line for a pull or upload made in the portal, as the API writes for its own."""
    p = session.principal
    client = request.client
    append_audit(
        state(request).settings,
        audit_record(
            action=action,
            token_id=p.token_id,
            role=p.role,
            subject=p.subject,
            client=client.host if client else None,
            target=target,
            params={"via": "portal", **(params or {})},
            publication_version=publication_version,
            status=status,
            rows=rows,
        ),
    )


def attachment(body: bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={
            **page_headers(),
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )
