"""The pull API: requesters pull their own views, providers their own data and uploads.

Every answer is scoped by the caller's token (see ``auth.py``) and every call under ``/v1`` is
written to the audit log with the publication it was served from (see ``audit.py``). Parameters
are validated before any data is touched; an unforeseen error answers 503 and is logged, and is
never allowed to leak a traceback or another caller's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from io import BufferedReader, BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collectonce import __version__
from collectonce.access.audit import append_audit, audit_record
from collectonce.access.auth import Principal, token_id_of, verify
from collectonce.access.uploads import UploadInvalid, UploadTooLarge, receive_upload
from collectonce.api.models import (
    Health,
    MetricList,
    Problem,
    ProviderData,
    PublicationList,
    Receipt,
    RequestList,
    SubmissionList,
    View,
)
from collectonce.api.rollups import build_router as rollups_router
from collectonce.api.rollups import region_may_call
from collectonce.catalog.models import ODS_PATTERN
from collectonce.portal.routes import include_portal, portal_home
from collectonce.publish import errors
from collectonce.publish.exports import MEDIA_TYPES, iter_csv_chunks, iter_json_chunks, write_export
from collectonce.publish.views import PROVIDER_COLUMNS, VIEW_COLUMNS
from collectonce.settings import Settings, get_settings

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog
    from collectonce.catalog.models import Request as CatalogRequest

log = logging.getLogger("collectonce.api")

PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
REQUEST_CODE_PATTERN = r"^[a-z0-9_]{1,64}$"
Format = Literal["json", "csv", "parquet", "xlsx"]
#: Answers up to this many rows are rendered whole (and cached); larger ones stream.
STREAM_ABOVE_ROWS = 100_000
#: Whole JSON and CSV answers at least this big are also kept gzipped, for clients that accept it.
GZIP_ABOVE = 1024
_UNAVAILABLE = {"detail": "internal error, logged"}
#: Uploads processed at once by one server (the rest wait without holding a thread).
UPLOADS_AT_ONCE = 4


# --------------------------------------------------------------------------- shared state


class PublicationProbe:
    """The published versions, re-checked per request at the cost of one ``stat``: the list is
    re-read (in a worker thread, by one request at a time) only when the unified table's commit
    log changes, or when it is older than a few seconds."""

    max_age_s = 5.0

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._log_dir = settings.tables_dir / "unified" / "_delta_log"
        self._reading = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._checked: float | None = None
        self._listed: list[dict[str, Any]] = []
        self._versions: list[int] = []

    def _current_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self._log_dir)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_nlink)

    def _stale(self) -> bool:
        if self._checked is None or time.monotonic() - self._checked > self.max_age_s:
            return True
        return self._current_stamp() != self._stamp

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the publication list. While one thread reads, others keep the last list
        (unless there is none yet, or ``force``)."""
        if not force and not self._stale():
            return
        if not self._reading.acquire(blocking=force or self._checked is None):
            return
        try:
            stamp = self._current_stamp()
            try:
                from collectonce.publish.unified import list_publications
            except ImportError:
                listed: list[dict[str, Any]] = []
            else:
                listed = list_publications(self._settings)
            self._listed = listed
            self._versions = sorted(
                int(p["version"]) for p in listed if p.get("version") is not None
            )
            self._stamp, self._checked = stamp, time.monotonic()
        finally:
            self._reading.release()

    async def _fresh(self, *, force: bool = False) -> None:
        if force or self._stale():
            await run_in_threadpool(self.refresh, force=force)

    async def latest(self) -> int | None:
        await self._fresh()
        return self._versions[-1] if self._versions else None

    async def publications(self) -> list[dict[str, Any]]:
        await self._fresh()
        return list(self._listed)

    async def resolve(self, as_of: int | None) -> int:
        """The version to serve: ``as_of`` when it exists, else the latest. 404 otherwise."""
        await self._fresh()
        if as_of is None:
            if not self._versions:
                raise HTTPException(404, "nothing has been published yet")
            return self._versions[-1]
        if as_of not in self._versions:
            await self._fresh(force=True)
            if as_of not in self._versions:
                raise HTTPException(
                    404, f"there is no publication {as_of}; GET /v1/publications lists them"
                )
        return as_of


@dataclass
class Rendered:
    """One answer's body: whole bytes (cacheable) or a stream of chunks."""

    media_type: str
    rows: int
    body: bytes | None = None
    chunks: Iterator[bytes] | None = None
    filename: str | None = None
    gzipped: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.body or b"") + len(self.gzipped or b"")


class ResponseCache:
    """Rendered answers keyed by what determines them (including the publication version, which
    never changes once written). Bounded in bytes; one render per key at a time."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024, max_entry: int = 32 * 1024 * 1024):
        self.max_bytes, self.max_entry = max_bytes, max_entry
        self._items: OrderedDict[tuple[Any, ...], Rendered] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._inflight: dict[tuple[Any, ...], threading.Lock] = {}

    def _get(self, key: tuple[Any, ...]) -> Rendered | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def _put(self, key: tuple[Any, ...], value: Rendered) -> None:
        size = value.size
        if value.body is None or size > self.max_entry:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._size += size
            while self._size > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._size -= old.size

    async def fetch(self, key: tuple[Any, ...], make: Callable[[], Rendered]) -> Rendered:
        """The cached answer, else made in a worker thread (never on the event loop)."""
        hit = self._get(key)
        if hit is not None:
            return hit
        return await run_in_threadpool(self.get_or_make, key, make)

    def get_or_make(self, key: tuple[Any, ...], make: Callable[[], Rendered]) -> Rendered:
        hit = self._get(key)
        if hit is not None:
            return hit
        with self._lock:
            gate = self._inflight.setdefault(key, threading.Lock())
        try:
            with gate:
                hit = self._get(key)
                if hit is not None:
                    return hit
                made = make()
                self._put(key, made)
                return made
        finally:
            with self._lock:
                self._inflight.pop(key, None)


@dataclass
class ApiState:
    catalog: Catalog
    settings: Settings
    publications: PublicationProbe
    cache: ResponseCache
    upload_lock: threading.Lock
    #: Uploads wait here, on the event loop, before taking a worker thread, so uploads waiting
    #: their turn never hold the threads that pulls use. Submissions read and check side by
    #: side; `submit_file` itself stores one at a time per data folder.
    upload_slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(UPLOADS_AT_ONCE)
    )


def _state(request: Request) -> ApiState:
    return request.app.state.api  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- auth


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A token from `collectonce token create`, sent as `Authorization: Bearer <token>`.",
)


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller's principal; 401 without a valid, unexpired, unrevoked token."""
    st = _state(request)
    if credentials is None:
        raise HTTPException(
            401,
            "a token is required: send `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = verify(st.settings, credentials.credentials)
    if principal is None:
        request.state.claimed_token_id = token_id_of(credentials.credentials)
        raise HTTPException(
            401,
            "the token is invalid, expired or revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    request.state.principal = principal
    known = {
        "provider": st.catalog.providers,
        "requester": st.catalog.requesters,
        "region": st.catalog.regions,
    }
    if principal.role in known and principal.subject not in known[principal.role]:
        raise HTTPException(403, f"the token's {principal.role} is no longer in the catalogue")
    if principal.role == "region":
        region_may_call(request)
    return principal


Caller = Annotated[Principal, Depends(authenticated)]


def _note(request: Request, **values: Any) -> None:
    """Details for this call's audit line (target, parameters, version served, rows)."""
    for key, value in values.items():
        setattr(request.state, f"audit_{key}", value)


def _invalid(where: str, name: str, message: str, value: object = None) -> RequestValidationError:
    """A 422 shaped like FastAPI's own parameter errors."""
    return RequestValidationError(
        [{"type": "value_error", "loc": (where, name), "msg": message, "input": value}]
    )


def _check_range(period_from: str | None, period_to: str | None) -> None:
    if period_from and period_to and period_from > period_to:
        raise _invalid("query", "from", f"from {period_from} is after to {period_to}", period_from)


def _publish_errors(exc: Exception) -> HTTPException | RequestValidationError | None:
    """Map the publish stage's typed errors to answers."""
    if isinstance(exc, errors.UnknownRequest | errors.UnknownProvider | errors.UnknownPublication):
        return HTTPException(404, str(exc))
    if isinstance(exc, errors.ExportTooLarge):
        return _invalid("query", "format", str(exc))
    if isinstance(exc, errors.BadParameter):
        return _invalid("query", "parameters", str(exc))
    return None


def _answering(make: Callable[[], Rendered]) -> Callable[[], Rendered]:
    """`make`, with the publish stage's typed errors turned into 404 and 422 answers."""

    def wrapped() -> Rendered:
        try:
            return make()
        except Exception as exc:
            mapped = _publish_errors(exc)
            if mapped is None:
                raise
            raise mapped from exc

    return wrapped


# --------------------------------------------------------------------------- rendering


def _render(
    df: pd.DataFrame,
    fmt: str,
    meta: dict[str, Any],
    stem: str,
    units: dict[str, str] | None = None,
) -> Rendered:
    rows = len(df)
    filename = None if fmt == "json" else f"{stem}.{fmt}"
    if fmt in ("json", "csv"):
        chunks = (
            iter_json_chunks(df, {**meta, "row_count": rows})
            if fmt == "json"
            else iter_csv_chunks(df)
        )
        if rows > STREAM_ABOVE_ROWS:
            return Rendered(MEDIA_TYPES[fmt], rows, chunks=chunks, filename=filename)
        body = b"".join(chunks)
        # compressed once here (text shrinks ~10x), then served to every client that accepts it
        packed = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_ABOVE else None
        return Rendered(MEDIA_TYPES[fmt], rows, body=body, filename=filename, gzipped=packed)
    if fmt == "xlsx" and rows > STREAM_ABOVE_ROWS:
        # A large workbook is written row by row to a temporary file (flat memory), then
        # streamed from it; held whole in memory it would cost about 1.4 KB per row.
        chunks = _file_chunks(_xlsx_file(df, meta, units))
        return Rendered(MEDIA_TYPES[fmt], rows, chunks=chunks, filename=filename)
    buffer = BytesIO()
    write_export(df, fmt, buffer, meta=meta, units=units)  # type: ignore[arg-type]
    return Rendered(MEDIA_TYPES[fmt], rows, body=buffer.getvalue(), filename=filename)


def _xlsx_file(
    df: pd.DataFrame, meta: dict[str, Any] | None = None, units: dict[str, str] | None = None
) -> BufferedReader:
    """`df` as an XLSX file written in constant memory, opened for reading and already deleted:
    the bytes live until the handle is closed, so nothing is left behind if a client goes."""
    with tempfile.TemporaryDirectory(prefix="collectonce-xlsx-") as folder:
        path = Path(folder) / "answer.xlsx"
        write_export(df, "xlsx", path, meta=meta, units=units)
        return path.open("rb")


def _file_chunks(handle: BufferedReader, size: int = 1024 * 1024) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(size):
            yield chunk


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _respond(request: Request, rendered: Rendered, version: int) -> Response:
    headers = {"X-Publication-Version": str(version), "Cache-Control": "private, no-store"}
    if rendered.filename:
        headers["Content-Disposition"] = f'attachment; filename="{rendered.filename}"'
    if rendered.chunks is not None:
        return StreamingResponse(rendered.chunks, media_type=rendered.media_type, headers=headers)
    body = rendered.body
    if rendered.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
        if _accepts_gzip(request):
            headers["Content-Encoding"] = "gzip"
            body = rendered.gzipped
    return Response(body, media_type=rendered.media_type, headers=headers)


def units_of(catalog: Catalog) -> dict[str, str]:
    """Each metric's unit, so a workbook formats its values as counts or percentages."""
    return {code: metric.unit for code, metric in catalog.metrics.items()}


def _stem(*parts: object) -> str:
    return "_".join(str(p) for p in parts if p is not None)


# --------------------------------------------------------------------------- routes

router = APIRouter()

RequestCode = Annotated[
    str,
    PathParam(
        pattern=REQUEST_CODE_PATTERN,
        description="A request code from the catalogue (GET /v1/requests lists yours).",
    ),
]
OdsCode = Annotated[
    str, PathParam(pattern=ODS_PATTERN, description="The provider's ODS code, e.g. RF4.")
]
PeriodFrom = Annotated[
    str | None,
    Query(alias="from", pattern=PERIOD_PATTERN, description="First month, YYYY-MM (inclusive)."),
]
PeriodTo = Annotated[
    str | None,
    Query(alias="to", pattern=PERIOD_PATTERN, description="Last month, YYYY-MM (inclusive)."),
]
FormatQuery = Annotated[Format, Query(alias="format", description="The answer's format.")]
AsOf = Annotated[
    int | None,
    Query(
        ge=0,
        le=2_147_483_647,
        description="Serve a past publication (GET /v1/publications); the latest when omitted.",
    ),
]


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        401: "No token, or an invalid, expired or revoked one.",
        403: "The caller may not see this.",
        404: "Unknown request, provider or publication.",
        413: "The upload is larger than the limit.",
    }
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {code: {"description": text[code], "content": problem} for code in codes}


def _data_content(model: type[Any]) -> dict[int | str, dict[str, Any]]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        200: {
            "model": model,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                MEDIA_TYPES["parquet"]: binary,
                MEDIA_TYPES["xlsx"]: binary,
            },
            "description": "The rows, in the chosen format (CSV, Parquet and XLSX as attachments).",
        }
    }


def describe_service(catalog: Catalog) -> dict[str, Any]:
    """What this service is, for an API client that asks ``GET /`` (JSON)."""
    return {
        "service": "collectonce pull API",
        "version": __version__,
        "description": (
            "NHS-funded providers submit their data once; it is checked against one shared "
            "metric catalogue and published as one dataset. Each requester pulls its own "
            "requests in its own codes and frequency, each provider its own data and feedback "
            "pack. Every call under /v1 needs a bearer token and is audited."
        ),
        "catalog": {"name": catalog.info.name, "version": catalog.version},
        "links": {
            "docs": "/docs",
            "redoc": "/redoc",
            "openapi": "/openapi.json",
            "health": "/health",
            "requests": "/v1/requests",
            "publications": "/v1/publications",
            "metrics": "/v1/catalog/metrics",
            "portal": "/portal/sign-in",
        },
    }


@router.get("/", name="service", include_in_schema=False)
async def service(request: Request) -> Response:
    """What this service is and where to start, as JSON (needs no token); a browser, which asks
    for HTML, gets the portal's start page instead."""
    if "text/html" in request.headers.get("accept", ""):
        return await run_in_threadpool(portal_home, request)
    return JSONResponse(describe_service(_state(request).catalog))


@router.get("/health", response_model=Health, name="health", tags=["service"])
async def health(request: Request) -> dict[str, Any]:
    """Liveness, the catalogue version and the latest publication. Needs no token."""
    st = _state(request)
    try:
        latest = await st.publications.latest()
    except Exception:  # the table being unreadable is not the server being down
        log.exception("cannot read the publication list")
        latest = None
    return {"status": "ok", "catalog_version": st.catalog.version, "publication_version": latest}


def _request_info(st: ApiState, req: CatalogRequest, may_pull: bool) -> dict[str, Any]:
    requester = st.catalog.requesters.get(req.requester)
    return {
        "code": req.code,
        "requester": req.requester,
        "requester_name": requester.name if requester else req.requester,
        "title": req.title,
        "purpose": req.purpose,
        "frequency": req.frequency,
        "year_start": req.year_start,
        "due_days_after_period": req.due_days_after_period,
        "respondents": req.respondents if req.respondents == "all" else list(req.respondents),
        "may_pull": may_pull,
        "view_url": f"/v1/requests/{req.code}/view",
        "items": [
            {
                "their_code": item.their_code,
                "their_label": item.their_label,
                "metrics": item.metric_codes,
                "aggregate": item.transform.aggregate if item.transform else None,
                "scale": item.transform.scale if item.transform else 1.0,
                "unmapped_reason": item.unmapped_reason,
            }
            for item in req.items
        ],
    }


@router.get(
    "/v1/requests",
    response_model=RequestList,
    name="list_requests",
    tags=["requests"],
    responses=_problems(401, 403),
)
def list_requests(request: Request, caller: Caller) -> dict[str, Any]:
    """The requests this caller may pull: a requester its own, an admin all. A provider sees the
    requests it must answer, as read-only metadata."""
    st = _state(request)
    cat = st.catalog
    if caller.role == "provider":
        chosen = [(r, False) for r in cat.requests_for(cat.providers[str(caller.subject)])]
    elif caller.role == "requester":
        chosen = [(r, True) for r in cat.requests.values() if r.requester == caller.subject]
    else:
        chosen = [(r, True) for r in cat.requests.values()]
    chosen.sort(key=lambda pair: pair[0].code)
    _note(request, rows=len(chosen))
    return {"requests": [_request_info(st, r, may_pull) for r, may_pull in chosen]}


@router.get(
    "/v1/requests/{code:path}/view",
    name="pull_view",
    tags=["requests"],
    response_class=Response,
    responses={**_data_content(View), **_problems(401, 403, 404)},
)
async def pull_view(
    request: Request,
    caller: Caller,
    code: RequestCode,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    fmt: FormatQuery = "json",
    as_of: AsOf = None,
) -> Response:
    """A request's view: in the requester's own item codes and frequency, limited to its items.
    A requester may pull only its own requests; an admin any; a provider none."""
    st = _state(request)
    _note(request, target=code)
    if caller.role == "provider":
        raise HTTPException(403, "providers pull their own data from /v1/providers/{ods}/data")
    req = st.catalog.requests.get(code)
    if req is None:
        raise HTTPException(404, f"there is no request {code!r}; GET /v1/requests lists yours")
    if caller.role == "requester" and req.requester != caller.subject:
        raise HTTPException(403, f"request {code} belongs to another requester")
    _check_range(period_from, period_to)
    version = await st.publications.resolve(as_of)
    _note(request, publication_version=version)

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
        stem = _stem(code, period_from, period_to, f"v{version}")
        return _render(df.loc[:, VIEW_COLUMNS], fmt, meta, stem, units_of(st.catalog))

    key = ("view", code, period_from, period_to, version, fmt)
    rendered = await st.cache.fetch(key, _answering(make))
    _note(request, rows=rendered.rows)
    return _respond(request, rendered, version)


@router.get(
    "/v1/providers/{ods:path}/data",
    name="pull_provider_data",
    tags=["providers"],
    response_class=Response,
    responses={**_data_content(ProviderData), **_problems(401, 403, 404)},
)
async def pull_provider_data(
    request: Request,
    caller: Caller,
    ods: OdsCode,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    fmt: FormatQuery = "json",
    as_of: AsOf = None,
) -> Response:
    """A provider's own published data, every metric (derived ones included), monthly.
    A provider sees only its own; an admin any; requesters pull their views instead."""
    st = _state(request)
    _note(request, target=ods)
    _may_see_provider(st, caller, ods)
    _check_range(period_from, period_to)
    version = await st.publications.resolve(as_of)
    _note(request, publication_version=version)

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
        stem = _stem(ods, period_from, period_to, f"v{version}")
        return _render(df, fmt, meta, stem, units_of(st.catalog))

    key = ("provider", ods, period_from, period_to, version, fmt)
    rendered = await st.cache.fetch(key, _answering(make))
    _note(request, rows=rendered.rows)
    return _respond(request, rendered, version)


def _may_see_provider(st: ApiState, caller: Principal, ods: str) -> None:
    if caller.role == "requester":
        raise HTTPException(
            403, "requesters pull their own requests' views; a provider's data is its own"
        )
    if caller.role == "provider" and ods != caller.subject:
        raise HTTPException(403, "a provider may see only its own data")
    if caller.role == "region" and (
        ods not in st.catalog.providers or st.catalog.region_of(ods) != caller.subject
    ):
        raise HTTPException(403, f"a regional team sees only {caller.subject}'s providers")
    if ods not in st.catalog.providers:
        raise HTTPException(404, f"there is no provider {ods!r} in the catalogue")


@router.get(
    "/v1/providers/{ods:path}/pack",
    name="pull_pack",
    tags=["providers"],
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **_problems(401, 403, 404),
    },
)
async def pull_pack(request: Request, caller: Caller, ods: OdsCode) -> HTMLResponse:
    """The provider's feedback pack as one HTML page: its data, SPC, assurance, peers, and why
    each figure is collected and who uses it."""
    st = _state(request)
    _note(request, target=ods)
    _may_see_provider(st, caller, ods)
    try:
        from collectonce.feedback.pack import PackError, build_pack_html
    except ImportError:
        raise HTTPException(404, "feedback packs are not available in this installation") from None
    version = await st.publications.resolve(None)
    _note(request, publication_version=version)
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


_SUBMIT_STATUS = {"duplicate": 200, "rejected": 422}
#: Receipt fields that locate files on the server (the archived upload, the quarantine folder,
#: the HTML validation report): the data team's CLI shows them, the API never does.
SERVER_ONLY_RECEIPT_FIELDS = frozenset({"archive", "quarantine", "report"})


@router.post(
    "/v1/submissions",
    name="upload",
    tags=["submissions"],
    status_code=201,
    response_model=Receipt,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "CSV, XLSX, Parquet or JSON, in the canonical "
                                "template or any registered request's own template.",
                            }
                        },
                    }
                }
            },
        }
    },
    responses={
        200: {"model": Receipt, "description": "The same file was received before."},
        201: {"model": Receipt, "description": "Accepted, perhaps with warnings or in part."},
        422: {
            "description": "Rejected (the receipt says why), or no usable file in the body.",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/Receipt"},
                            {"$ref": "#/components/schemas/HTTPValidationError"},
                        ]
                    }
                }
            },
        },
        **_problems(401, 403, 413),
    },
)
async def upload(request: Request, caller: Caller) -> JSONResponse:
    """Submit a file; the answer is the receipt `collectonce submit` prints, without the server's
    file locations. A provider's token may carry only that provider's rows; an admin's is a
    data-team bulk upload."""
    st = _state(request)
    if caller.role == "requester":
        raise HTTPException(403, "requesters do not submit data")
    try:
        received = await receive_upload(
            request, st.settings.root / "uploads", st.settings.max_upload_bytes
        )
    except UploadTooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    except UploadInvalid as exc:
        raise _invalid("body", "file", str(exc)) from None
    _note(request, params={"file": received.original_name, "bytes": received.size})

    def submit() -> dict[str, Any]:
        from collectonce.ingest.service import submit_file

        receipt = submit_file(
            received.path,
            st.catalog,
            st.settings,
            submitter=_submitter(caller),
            as_provider=caller.subject if caller.role == "provider" else None,
            original_name=received.original_name,
        )
        return receipt.to_dict()  # type: ignore[no-any-return]

    try:
        async with st.upload_slots:
            receipt = await run_in_threadpool(submit)
    finally:
        received.path.unlink(missing_ok=True)
    _note(request, target=receipt.get("submission_id"), rows=receipt.get("rows_accepted"))
    outcome = str(receipt.get("status"))
    if outcome == "duplicate" and receipt.get("original_status") == "rejected":
        outcome = "rejected"  # a rejected file sent again is still rejected
    status = _SUBMIT_STATUS.get(outcome, 201)
    return JSONResponse(_jsonable(_for_caller(receipt)), status_code=status)


def _for_caller(receipt: dict[str, Any]) -> dict[str, Any]:
    """A receipt as an API caller sees it: without the server's file locations."""
    return {k: v for k, v in receipt.items() if k not in SERVER_ONLY_RECEIPT_FIELDS}


def _submitter(caller: Principal) -> str:
    """Who the receipt says submitted: the provider or the data team, and through which token."""
    who = caller.subject if caller.role == "provider" else "data_team"
    return f"{who} (API token {caller.token_id})"


def _jsonable(obj: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN and infinities as null, the rest as text."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    return str(obj)


@router.get(
    "/v1/submissions",
    response_model=SubmissionList,
    name="list_submissions",
    tags=["submissions"],
    responses=_problems(401, 403),
)
def list_submissions(
    request: Request,
    caller: Caller,
    limit: Annotated[
        int, Query(ge=1, le=1000, description="Newest first, at most this many.")
    ] = 100,
) -> JSONResponse:
    """The caller's submissions, newest first: a provider's own; all for an admin."""
    st = _state(request)
    if caller.role == "requester":
        raise HTTPException(403, "requesters do not submit data")
    from collectonce.ingest.service import list_receipts

    provider = caller.subject if caller.role == "provider" else None
    receipts = [_for_caller(r.to_dict()) for r in list_receipts(st.settings, provider=provider)]
    if provider is not None:
        receipts = [r for r in receipts if _belongs_to(r, provider)]
    receipts.sort(key=lambda r: str(r.get("received_at")), reverse=True)
    receipts = receipts[:limit]
    _note(request, rows=len(receipts))
    return JSONResponse({"submissions": _jsonable(receipts)})


def _belongs_to(receipt: dict[str, Any], provider: str) -> bool:
    """A provider sees a receipt of a file it submitted, or of one holding its own rows only: a
    data team's bulk file also carries other providers' rows and findings."""
    providers = set(receipt.get("providers") or [])
    return receipt.get("as_provider") == provider or providers == {provider}


@router.get(
    "/v1/catalog/metrics",
    response_model=MetricList,
    name="list_metrics",
    tags=["catalogue"],
    responses=_problems(401, 403),
)
def list_metrics(request: Request, caller: Caller) -> Response:
    """Every metric: its definition, why it is collected, and who uses it under which code."""
    st = _state(request)
    body = st.cache.get_or_make(("metrics",), lambda: _metrics_body(st.catalog))
    _note(request, rows=body.rows)
    return Response(body.body, media_type="application/json")


def _metrics_body(cat: Catalog) -> Rendered:
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
    responses=_problems(401, 403, 404),
)
def burden(request: Request, caller: Caller) -> Response:
    """The reporting burden before and after collecting once, against the catalogue's targets."""
    st = _state(request)
    try:
        from collectonce.burden.model import compute_burden
    except ImportError:
        raise HTTPException(404, "the burden model is not available in this installation") from None

    def make() -> Rendered:
        report = compute_burden(st.catalog).to_dict()
        return Rendered("application/json", 1, body=json.dumps(_jsonable(report)).encode())

    body = st.cache.get_or_make(("burden",), make)
    return Response(body.body, media_type="application/json")


@router.get(
    "/v1/publications",
    response_model=PublicationList,
    name="list_publications",
    tags=["publications"],
    responses=_problems(401, 403),
)
async def publications(request: Request, caller: Caller) -> JSONResponse:
    """Every publication: version, time, catalogue version and counts. Pull any with ?as_of=."""
    listed = await _state(request).publications.publications()
    _note(request, rows=len(listed))
    return JSONResponse({"publications": _jsonable(listed)})


# --------------------------------------------------------------------------- middleware

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


class SecurityHeadersMiddleware:
    """Headers on every answer: no MIME sniffing, no framing, a content security policy, and no
    caching of data (every /v1 answer is private to its caller)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
        target=_short(target) if isinstance(target, str) else target,
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


class LastResortMiddleware:
    """Any unforeseen error: log it and answer 503 without details (never a 500 or a traceback).
    Once an answer has started streaming it can only be cut short, which the client sees."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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


# --------------------------------------------------------------------------- the app


def _warm(settings: Settings) -> None:
    try:
        from collectonce.publish.views import warm_cache

        warm_cache(settings)
    except Exception:  # a cold first pull is slower, not wrong
        log.exception("cannot preload the latest publication")


def build_app(catalog: Catalog, settings: Settings, *, warm: bool = False) -> FastAPI:
    """The API for a loaded catalogue and a data folder. ``warm`` loads the latest publication
    into memory in the background at startup, so the first pull is not the slow one."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if warm:
            threading.Thread(target=_warm, args=(settings,), daemon=True).start()
        yield

    # Swagger UI and ReDoc are served from the installed `fastapi-offline` package, never a CDN.
    app = FastAPIOffline(
        lifespan=lifespan,
        title="collectonce pull API",
        version=__version__,
        description=_description(catalog),
        openapi_tags=[
            {"name": "service", "description": "Liveness; needs no token."},
            {"name": "requests", "description": "Requests and their views (requesters)."},
            {"name": "providers", "description": "A provider's own data and pack."},
            {"name": "submissions", "description": "Uploads and their receipts."},
            {"name": "catalogue", "description": "What is collected, why, and the burden."},
            {"name": "publications", "description": "Versions of the unified dataset."},
            {"name": "rollups", "description": "Regions and England, rolled up from providers."},
        ],
        docs_url="/docs",
        redoc_url="/redoc",
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.api = ApiState(
        catalog=catalog,
        settings=settings,
        publications=PublicationProbe(settings),
        cache=ResponseCache(),
        upload_lock=threading.Lock(),
    )
    app.include_router(router)
    app.include_router(rollups_router(authenticated))
    include_portal(app)
    app.add_middleware(OptionsMiddleware)
    app.add_middleware(LastResortMiddleware)
    app.add_middleware(AuditMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            _describe_from_catalog(schema, catalog)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["Problem"] = Problem.model_json_schema()
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_app(
    catalog_dir: Path | None = None, settings: Settings | None = None, *, warm: bool = False
) -> FastAPI:
    """Load the catalogue once (default: ``settings.catalog``) and build the API."""
    from collectonce.catalog import load_catalog

    settings = settings or get_settings()
    return build_app(load_catalog(catalog_dir or settings.catalog), settings, warm=warm)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several workers): settings from COLLECTONCE_*."""
    return create_app(warm=True)


def _description(catalog: Catalog) -> str:
    return (
        f"Pull the published dataset of catalogue **{catalog.info.name}** "
        f"(version {catalog.version}): requesters their own views, providers their own data. "
        "Every call needs `Authorization: Bearer <token>` except /health, and every call is "
        "written to the audit log with the publication it was served from."
    )


def _describe_from_catalog(schema: dict[str, Any], catalog: Catalog) -> None:
    """Add the catalogue's requests and metrics to the operations that serve them."""
    paths = schema.get("paths", {})
    names = {code: requester.name for code, requester in catalog.requesters.items()}
    lines = [
        f"- `{r.code}` ({names.get(r.requester, r.requester)}, {r.frequency}ly): {r.title}"
        for r in sorted(catalog.requests.values(), key=lambda r: r.code)
    ]
    view = paths.get("/v1/requests/{code}/view", {}).get("get")
    if view is not None:
        view["description"] = view.get("description", "") + "\n\nRequests:\n" + "\n".join(lines)
    metrics = paths.get("/v1/catalog/metrics", {}).get("get")
    if metrics is not None:
        counted = (
            f"{len(catalog.metrics)} metrics, {len(catalog.collected_metrics)} collected and "
            f"{sum(m.is_derived for m in catalog.metrics.values())} derived."
        )
        metrics["description"] = metrics.get("description", "") + "\n\n" + counted


def openapi_files(catalog: Catalog) -> dict[str, str]:
    """schemas/openapi.json, generated from the routes and the catalogue (deterministic)."""
    app = build_app(catalog, get_settings())
    return {"openapi.json": json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"}
