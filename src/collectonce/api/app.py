"""The pull API: requesters pull their own views, providers their own data and uploads.

Every answer is scoped by the caller's token (see ``deps.py``) and every call under ``/v1`` is
written to the audit log with the publication it was served from (see ``middleware.py``).
Parameters are validated before any data is touched; an unforeseen error answers 503 and is
logged, and is never allowed to leak a traceback or another caller's data.

This module assembles the app: the routes of each resource (``routes/``, ``rollups.py``), the
dependencies they share (``deps.py``, ``state.py``), the middleware, the response cache
(``cache.py``) and the rendering of answers (``render.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from collectonce import __version__
from collectonce.api.cache import Rendered, ResponseCache
from collectonce.api.deps import Caller, authenticated
from collectonce.api.middleware import (
    DATA_CSP,
    DOCS_CSP,
    PAGE_CSP,
    AuditMiddleware,
    LastResortMiddleware,
    OptionsMiddleware,
    SecurityHeadersMiddleware,
)
from collectonce.api.models import SERVER_ONLY_RECEIPT_FIELDS
from collectonce.api.openapi import TAGS, description, install_openapi
from collectonce.api.render import GZIP_ABOVE, STREAM_ABOVE_ROWS, units_of
from collectonce.api.rollups import build_router as rollups_router
from collectonce.api.routes import ROUTERS
from collectonce.api.routes.service import describe_service
from collectonce.api.state import ApiState, PublicationProbe
from collectonce.api.upload_pool import UploadPool
from collectonce.portal.routes import include_portal
from collectonce.settings import Settings, get_settings

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog

#: Names other modules import from here, where they lived before the API was split.
__all__ = [
    "DATA_CSP",
    "DOCS_CSP",
    "GZIP_ABOVE",
    "PAGE_CSP",
    "SERVER_ONLY_RECEIPT_FIELDS",
    "STREAM_ABOVE_ROWS",
    "ApiState",
    "Caller",
    "PublicationProbe",
    "Rendered",
    "ResponseCache",
    "app_from_env",
    "authenticated",
    "build_app",
    "create_app",
    "describe_service",
    "openapi_files",
    "units_of",
]

log = logging.getLogger("collectonce.api")


def _warm(catalog: Catalog, settings: Settings, uploads: UploadPool) -> None:
    try:
        from collectonce.publish.snapshot import warm_cache

        warm_cache(settings)
    except Exception:  # a cold first pull is slower, not wrong
        log.exception("cannot preload the latest publication")
    if uploads.processes == 0:  # no upload processes: the server checks uploads itself
        try:
            from collectonce.ingest.worker import warm_catalog

            warm_catalog(catalog, settings)
        except Exception:  # a cold first upload is slower, not wrong
            log.exception("cannot warm up the upload checks")
        finally:
            uploads.mark_warm()


def build_app(catalog: Catalog, settings: Settings, *, warm: bool = False) -> FastAPI:
    """The API for a loaded catalogue and a data folder. ``warm`` loads the latest publication
    into memory in the background at startup, so the first pull is not the slow one (and, with no
    upload processes, warms the upload checks up, as each upload process does). The upload
    processes (``COLLECTONCE_UPLOAD_PROCESSES``) start with the app and stop with it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        uploads: UploadPool = app.state.api.uploads
        if warm:
            threading.Thread(target=_warm, args=(catalog, settings, uploads), daemon=True).start()
        else:
            uploads.mark_warm()  # nothing warms it up: not worth waiting for
        uploads.start()
        try:
            yield
        finally:
            await asyncio.to_thread(uploads.shutdown)

    # Swagger UI and ReDoc are served from the installed `fastapi-offline` package, never a CDN.
    app = FastAPIOffline(
        lifespan=lifespan,
        title="collectonce pull API",
        version=__version__,
        description=description(catalog),
        openapi_tags=TAGS,
        docs_url="/docs",
        redoc_url="/redoc",
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.api = ApiState.build(catalog, settings)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(rollups_router(authenticated))
    include_portal(app)
    app.add_middleware(OptionsMiddleware)
    app.add_middleware(LastResortMiddleware)
    app.add_middleware(AuditMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware)
    install_openapi(app, catalog)
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


def openapi_files(catalog: Catalog) -> dict[str, str]:
    """schemas/openapi.json, generated from the routes and the catalogue (deterministic)."""
    app = build_app(catalog, get_settings())
    return {"openapi.json": json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"}
