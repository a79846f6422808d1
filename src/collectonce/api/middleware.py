"""The API's middleware: security headers on every answer, ``OPTIONS``, one audit line per call
under /v1, and a last resort that answers 503 instead of a traceback."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collectonce.access.audit import append_audit, audit_record
from collectonce.access.auth import Principal
from collectonce.settings import Settings

log = logging.getLogger("collectonce.api")

_UNAVAILABLE = {"detail": "internal error, logged"}

#: The policy of every answer that is data, not a page: nothing may load, frame or run.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: A pack page: its own inline styles and SVG charts, nothing from anywhere else.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
#: The API docs (Swagger UI and ReDoc): their scripts and styles, served by this service.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
DOCS_PATHS = ("/docs", "/redoc", "/static-offline-docs/")


class _HttpMiddleware:
    """An ASGI middleware that acts on HTTP calls (``handle``) and passes anything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware(_HttpMiddleware):
    """Headers on every answer: no MIME sniffing, no framing, a content security policy, and no
    caching of data (every /v1 answer is private to its caller)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        csp = DOCS_CSP if path.startswith(DOCS_PATHS) else DATA_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy", csp.encode()),
                ]
                if path.startswith("/v1/"):
                    wanted.append((b"cache-control", b"private, no-store"))
                headers += [(k, v) for k, v in wanted if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class OptionsMiddleware:
    """``OPTIONS`` answers 204 with an ``Allow`` header listing the methods the path has (404
    when no route has the path), instead of 405."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "OPTIONS":
            await self.app(scope, receive, send)
            return
        routes = scope["app"].router.routes
        methods = {
            method
            for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
            if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in routes)
        }
        if not methods:
            status, allow = 404, b""
        else:
            status, allow = 204, ", ".join(sorted(methods | {"OPTIONS"})).encode()
        headers = [(b"content-length", b"0")] + ([(b"allow", allow)] if allow else [])
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


class AuditMiddleware:
    """Write one audit line per call under /v1, just before its answer starts (so an answer is
    never sent unaudited: if the line cannot be written, the caller gets 503 instead)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        swallowed = False

        async def audited_send(message: Message) -> None:
            nonlocal swallowed
            if swallowed:
                return
            if message["type"] == "http.response.start":
                try:
                    append_audit(self.settings, _audit_line(scope, int(message["status"])))
                except Exception:
                    log.exception("cannot write the audit log; refusing to answer")
                    swallowed = True
                    await _send_unavailable(send)
                    return
            await send(message)

        await self.app(scope, receive, audited_send)


def _short(value: object, limit: int = 200) -> object:
    return value[:limit] if isinstance(value, str) else value


def _audit_line(scope: Scope, status: int) -> dict[str, Any]:
    state = scope.get("state") or {}
    principal: Principal | None = state.get("principal")
    route = scope.get("route")
    query = {}
    for key, value in Request(scope).query_params.multi_items()[:20]:
        query[_short(key, 40)] = _short(value)
    params = {**query, **(state.get("audit_params") or {})}
    target = state.get("audit_target")
    if target is None:
        target = "/".join(str(v) for v in (scope.get("path_params") or {}).values()) or None
    client = scope.get("client")
    return audit_record(
        action=getattr(route, "name", None) or "unknown",
        token_id=principal.token_id if principal else state.get("claimed_token_id"),
        role=principal.role if principal else None,
        subject=principal.subject if principal else None,
        client=client[0] if client else None,
        target=None if target is None else str(target)[:200],
        params=params,
        publication_version=state.get("audit_publication_version"),
        status=status,
        rows=state.get("audit_rows"),
    )


async def _send_unavailable(send: Send) -> None:
    body = json.dumps(_UNAVAILABLE).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class LastResortMiddleware(_HttpMiddleware):
    """Any unforeseen error: log it and answer 503 without details (never a 500 or a traceback).
    Once an answer has started streaming it can only be cut short, which the client sees."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _send_unavailable(send)
