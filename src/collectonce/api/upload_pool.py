"""Uploads checked in worker processes, so the threads and the event loop that serve pulls never
wait for the GIL while Great Expectations checks a file.

`UploadPool` owns a ``ProcessPoolExecutor`` of ``COLLECTONCE_UPLOAD_PROCESSES`` processes
(started with ``spawn``: never forked from the threaded server). Each process imports the ingest
machinery, reads the catalogue from its folder and warms Great Expectations as the validation
worker does (`collectonce.ingest.worker.warm`) before its first upload; `start` launches them
when the app starts, so the first upload is warm. They run at a lower priority than the server,
so a busy machine answers pulls first, and exit when the server is gone. An upload is sent to the
pool as the saved file's path and the arguments of `submit_file`; its receipt comes back as a
dict.

Nothing is lost when a process dies (killed, out of memory): the pool answers every upload in
flight with ``BrokenProcessPool``, and each is submitted again in the server process itself;
`submit_file` is idempotent by the file's hash (a half-done submission is finished, a done one
answered as a duplicate). The pool is then replaced by a new one.

With no processes (``COLLECTONCE_UPLOAD_PROCESSES=0``), or when a process holds another
catalogue than the server's (its folder changed since the server read it), the upload is checked
in a thread of the server, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from collectonce.errors import IngestError
from collectonce.settings import Settings

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog
    from collectonce.ingest.worker import Catalogues
    from collectonce.store.receipts import Receipt

log = logging.getLogger("collectonce.api.uploads")


@dataclass(frozen=True)
class UploadJob:
    """One saved upload and the arguments `submit_file` takes with it."""

    path: Path
    submitter: str
    as_provider: str | None
    original_name: str | None


class OtherCatalogue(IngestError):
    """The pool's process holds another catalogue than the server's."""


# --------------------------------------------------------------------------- in the processes

#: Upload processes run at this lower priority (``nice``), so that on a busy machine the server's
#: answers to pulls get the CPU first; uploads use what is left (and all of an idle machine).
NICENESS = 10
#: How often an upload process checks that the server that started it still runs.
PARENT_CHECK_SECONDS = 2.0

#: The process's own state, set by `_start_process`.
_held: dict[str, Any] = {}


def _start_process(catalog_dir: str, settings: dict[str, Any], warm_count: Any) -> None:
    """Initialise a pool process: ignore Ctrl+C (the server stops the pool), lower its priority,
    watch the server, quiet the libraries, import the ingest machinery, read the catalogue and
    warm Great Expectations; then count itself in `warm_count` (a shared integer)."""
    from collectonce._quiet import quiet_environment
    from collectonce.ingest.worker import Catalogues, warm

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    quiet_environment()
    held_settings = Settings(**settings)
    catalogues = Catalogues()
    _held.update(settings=held_settings, catalogues=catalogues, catalog_dir=Path(catalog_dir))
    try:
        warm(held_settings, catalogues, Path(catalog_dir))
    except Exception:  # the first upload is then slower, not wrong
        log.exception("the upload process did not warm up")
    with warm_count.get_lock():
        warm_count.value += 1


def _exit_with(server: int) -> None:
    """End this process when the server is gone (killed without stopping its pool): what it was
    doing is finished when the upload is sent again."""
    while os.getppid() == server:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _ready() -> bool:
    """A task that makes the pool start a process (and waits for its warm-up)."""
    return True


def _submit_in_process(job: UploadJob, fingerprint: str) -> dict[str, Any]:
    """`submit_file` in a pool process; the receipt as a dict."""
    catalogues: Catalogues = _held["catalogues"]
    try:
        catalog = catalogues(_held["catalog_dir"])
    except Exception as exc:  # the server's own catalogue is the one to use: it checks it there
        raise OtherCatalogue(f"catalogue not read: {exc}") from None
    if catalog.fingerprint != fingerprint:
        raise OtherCatalogue(f"catalogue {catalog.fingerprint}, the server's {fingerprint}")
    return _submit(job, catalog, _held["settings"]).to_dict()


def _submit(job: UploadJob, catalog: Catalog, settings: Settings) -> Receipt:
    from collectonce.ingest.service import submit_file

    return submit_file(
        job.path,
        catalog,
        settings,
        submitter=job.submitter,
        as_provider=job.as_provider,
        original_name=job.original_name,
    )


# --------------------------------------------------------------------------- in the server


class UploadPool:
    """Submits uploads in worker processes (or, with none, in the server's threads)."""

    def __init__(self, catalog: Catalog, settings: Settings, processes: int) -> None:
        self.catalog = catalog
        self.settings = settings
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False
        #: Uploads answered by a pool process, submitted again in the server, and pools replaced.
        self.in_processes = 0
        self.in_server = 0
        self.replaced = 0
        #: How many of the current pool's processes have warmed up (shared with them).
        self._warm: Any = None
        self._server_warm = threading.Event()

    def mark_warm(self) -> None:
        """The server itself is ready to check uploads (with no processes, it checks them)."""
        self._server_warm.set()

    @property
    def ready(self) -> bool:
        """Uploads are checked at full speed: every process has warmed up or, with none, the
        server has."""
        if self.processes > 0:
            return self.warm >= self.processes  # 0 warm while the pool is not running
        return self._server_warm.is_set()

    @property
    def running(self) -> int:
        """Upload processes the pool runs (0 when uploads are checked in the server)."""
        return self.processes if self._executor is not None else 0

    @property
    def warm(self) -> int:
        """Upload processes ready to check a file at full speed."""
        if self._executor is None or self._warm is None:
            return 0
        return min(int(self._warm.value), self.processes)

    def _new_executor(self) -> ProcessPoolExecutor:
        # the settings and the catalogue's folder as absolute paths: the processes share the
        # server's working directory, but nothing depends on it
        settings = self.settings.model_dump(mode="json")
        settings["home"] = str(self.settings.root)
        context = multiprocessing.get_context("spawn")
        self._warm = context.Value("i", 0)
        executor = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=context,
            initializer=_start_process,
            initargs=(str(self.catalog.root.resolve()), settings, self._warm),
        )
        # one task per process: the pool starts a process for each (they warm up meanwhile)
        for _ in range(self.processes):
            executor.submit(_ready)
        return executor

    def start(self) -> None:
        """Start the processes now, so the first upload finds them warm."""
        if self.processes > 0 and self._executor is None and not self._closed:
            self._executor = self._new_executor()

    def shutdown(self) -> None:
        """Stop the processes after the uploads they are checking; later uploads (the server
        is stopping) are checked in the server."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if self._executor is broken:  # not already replaced by another upload that saw it
            log.warning("an upload process died: starting new ones")
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            self.replaced += 1

    async def submit_file(
        self, path: Path, *, submitter: str, as_provider: str | None, original_name: str | None
    ) -> Receipt:
        """`submit` for callers that hold the arguments, not an `UploadJob` (the portal)."""
        return await self.submit(UploadJob(path, submitter, as_provider, original_name))

    async def submit(self, job: UploadJob) -> Receipt:
        """The upload's receipt: checked in a pool process, or in a thread of the server."""
        if self.processes > 0:
            self.start()
            executor = self._executor
            if executor is not None:
                try:
                    future: Future[dict[str, Any]] = executor.submit(
                        _submit_in_process, job, self.catalog.fingerprint
                    )
                    answer = await _outcome(future)
                except BrokenProcessPool:
                    log.warning("%s: its upload process died; checking it here", job.path.name)
                    self._replace(executor)
                except OtherCatalogue as exc:
                    log.info("%s: checked here (the process has another %s)", job.path.name, exc)
                else:
                    from collectonce.store.receipts import Receipt

                    self.in_processes += 1
                    return Receipt.from_dict(answer)
        self.in_server += 1
        return await run_in_threadpool(_submit, job, self.catalog, self.settings)


async def _outcome(future: Future[dict[str, Any]]) -> dict[str, Any]:
    """The future's result. Should the request be cancelled meanwhile, an upload a process has
    begun is finished first (as one in a thread would be), before its file is removed."""
    waiting = asyncio.wrap_future(future)
    try:
        return await asyncio.shield(waiting)
    except asyncio.CancelledError:
        if not future.cancel():
            await asyncio.wait([waiting])
        raise
