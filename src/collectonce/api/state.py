"""What the API's routes share, reached through FastAPI's ``Depends``: the catalogue, the
settings, the published versions, the response cache, the upload slots and the upload pool."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from collectonce.api.cache import ResponseCache
from collectonce.api.upload_pool import UploadPool
from collectonce.settings import Settings

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog

#: Uploads processed at once by one server (the rest wait without holding a thread).
UPLOADS_AT_ONCE = 4


class PublicationProbe:
    """The published versions, re-checked per request at the cost of one ``stat``: the list is
    re-read (in a worker thread, by one request at a time) only when the unified table's commit
    log changes, or when it is older than a few seconds. ``on_change`` is called when a re-read
    finds a different list (a new publication, or a table rebuilt from scratch)."""

    max_age_s = 5.0

    def __init__(self, settings: Settings, on_change: Callable[[], object] | None = None) -> None:
        self._settings = settings
        self._on_change = on_change
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
            changed = self._checked is not None and listed != self._listed
            self._listed = listed
            self._versions = sorted(
                int(p["version"]) for p in listed if p.get("version") is not None
            )
            self._stamp, self._checked = stamp, time.monotonic()
            if changed and self._on_change is not None:
                self._on_change()
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
class ApiState:
    catalog: Catalog
    settings: Settings
    publications: PublicationProbe
    cache: ResponseCache
    #: Where uploads are checked: worker processes (``COLLECTONCE_UPLOAD_PROCESSES``), or the
    #: server's threads.
    uploads: UploadPool
    #: Uploads wait here, on the event loop, before going to a worker process or thread, so
    #: uploads waiting their turn never hold the threads that pulls use. Submissions read and
    #: check side by side; `submit_file` itself stores one at a time per data folder.
    upload_slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(UPLOADS_AT_ONCE)
    )

    @classmethod
    def build(cls, catalog: Catalog, settings: Settings) -> ApiState:
        """The state of one app: its cache bounded by the settings and emptied of published
        answers whenever the list of publications changes."""
        cache = ResponseCache(max_bytes=settings.response_cache_bytes)
        return cls(
            catalog=catalog,
            settings=settings,
            publications=PublicationProbe(settings, on_change=cache.drop_published),
            cache=cache,
            uploads=UploadPool(catalog, settings, settings.upload_processes),
        )


async def api_state(request: Request) -> ApiState:
    """The app's state, as a dependency (async, so it is solved on the event loop without a
    trip through the thread pool)."""
    return request.app.state.api


State = Annotated[ApiState, Depends(api_state)]
