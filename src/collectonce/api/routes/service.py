"""The service itself: what it is (``GET /``) and whether it is alive (``/health``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from collectonce import __version__
from collectonce.api.models import Health
from collectonce.api.state import State
from collectonce.portal.routes import portal_home

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog

log = logging.getLogger("collectonce.api")

router = APIRouter()


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
async def service(request: Request, st: State) -> Response:
    """What this service is and where to start, as JSON (needs no token); a browser, which asks
    for HTML, gets the portal's start page instead."""
    if "text/html" in request.headers.get("accept", ""):
        return await run_in_threadpool(portal_home, request)
    return JSONResponse(describe_service(st.catalog))


@router.get("/health", response_model=Health, name="health", tags=["service"])
async def health(st: State) -> Health:
    """Liveness, the catalogue version and the latest publication. Needs no token."""
    try:
        latest = await st.publications.latest()
    except Exception:  # the table being unreadable is not the server being down
        log.exception("cannot read the publication list")
        latest = None
    return Health(
        status="ok",
        catalog_version=st.catalog.version,
        publication_version=latest,
        upload_processes=st.uploads.running,
        upload_processes_warm=st.uploads.warm,
        uploads_ready=st.uploads.ready,
    )
