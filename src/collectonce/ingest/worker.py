"""The validation worker: one process per data folder that keeps the catalogue and the Great
Expectations contexts warm, so `collectonce submit` skips the imports and set-up.

It listens on ``worker.sock`` in the data folder (mode 0600) from its first moment, so a
submission that arrives while it warms up waits for it rather than starting cold; it answers
one JSON line per connection (`worker_link`), one request at a time, and exits after
``COLLECTONCE_WORKER_IDLE_SECONDS`` without a request, when its socket is removed (the data
folder deleted, say), on ``stop`` or on SIGTERM, removing its socket. A submission runs
`door.ingest`, exactly as `collectonce submit` runs it in its own process, in the submitter's
working directory and with the submitter's settings; a submission from a different build of
collectonce is handed back (``stale``) and the worker stops.

    python -m collectonce.ingest.worker [--catalog DIR]    (`collectonce worker start` does it)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socketserver
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectonce.errors import IngestError
from collectonce.ingest import worker_link
from collectonce.ingest.door import Refused, SubmitRequest, ingest
from collectonce.settings import Settings, get_settings

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog

log = logging.getLogger("collectonce.worker")

#: The longest request read (a path and the settings: small).
MAX_REQUEST_BYTES = 1024 * 1024
#: Seconds between checks, while idle, that the socket is still this worker's.
CHECK_SECONDS = 5.0


class AlreadyRunning(IngestError):
    """Another worker answers on this data folder's socket."""


class Catalogues:
    """The catalogues read so far, each read again when any of its files changes."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], tuple[tuple[Any, ...], Catalog]] = {}

    @staticmethod
    def _signature(root: Path) -> tuple[Any, ...]:
        found = []
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                try:
                    info = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                found.append((folder, name, info.st_mtime_ns, info.st_size, info.st_ino))
        return tuple(found)

    def __call__(self, given: Path) -> Catalog:
        """The catalogue at `given` (relative to the working directory, as typed)."""
        from collectonce.catalog.loader import load_catalog

        key = (os.path.abspath(given), str(given))
        signature = self._signature(given)
        held = self._held.get(key)
        if held is not None and held[0] == signature:
            return held[1]
        catalog = load_catalog(given, check_extras=False)
        self._held[key] = (signature, catalog)
        return catalog


class WorkerServer(socketserver.UnixStreamServer):
    """Serves one request at a time; `stopping` ends the loop in `serve`."""

    def __init__(self, path: Path, settings: Settings) -> None:
        self.path = path
        self.settings = settings
        self.catalogues = Catalogues()
        self.started = time.time()
        self.last_request = self.started
        self.served = 0
        self.stopping = False
        self.build = worker_link.build_id()
        old = os.umask(0o177)
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.inode = os.lstat(path).st_ino

    def handle_timeout(self) -> None:
        if not self.owns_socket():
            log.info("socket %s removed or replaced: stopping", self.path)
            self.stopping = True
        elif time.time() - self.last_request >= self.settings.worker_idle_seconds:
            log.info("idle for %s s: stopping", self.settings.worker_idle_seconds)
            self.stopping = True

    def owns_socket(self) -> bool:
        try:
            return os.lstat(self.path).st_ino == self.inode
        except OSError:
            return False

    def status(self) -> dict[str, Any]:
        now = time.time()
        return {
            "ok": True,
            "running": True,
            "pid": os.getpid(),
            "socket": str(self.path),
            "home": str(self.settings.root),
            "served": self.served,
            "uptime_seconds": round(now - self.started, 1),
            "idle_seconds": round(now - self.last_request, 1),
            "idle_exit_seconds": self.settings.worker_idle_seconds,
            "build": self.build,
        }

    def answer(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        if op == "ping":
            return self.status()
        if op == "stop":
            self.stopping = True
            return {**self.status(), "running": False}
        if op == "submit":
            return self._submit(message)
        return {"ok": False, "error": f"unknown request {op!r}"}

    def _submit(self, message: dict[str, Any]) -> dict[str, Any]:
        request = SubmitRequest.from_dict(message["request"])
        build = message.get("build")
        if build is not None and build != self.build:
            log.info("submitter runs build %s, this worker %s: stopping", build, self.build)
            self.stopping = True
            return {"ok": False, "stale": True, "error": "the worker runs other code"}
        settings = Settings(**message["settings"])
        if request.cwd:
            os.chdir(request.cwd)
        began = time.perf_counter()
        try:
            receipt = ingest(request, settings, self.catalogues)
        except Refused as exc:
            return {"ok": False, "refused": str(exc)}
        except Exception as exc:  # the submitter does it itself: log why, answer no receipt
            log.exception("submission of %s failed in the worker", request.file)
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            self.served += 1
        log.info("%s: %s in %.3f s", request.file, receipt.status, time.perf_counter() - began)
        return {"ok": True, "receipt": receipt.to_dict()}

    def remove_socket(self) -> None:
        """Remove the socket, unless another worker has replaced it."""
        if self.owns_socket():
            self.path.unlink(missing_ok=True)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, WorkerServer)
        try:
            message = json.loads(self.rfile.readline(MAX_REQUEST_BYTES))
            if not isinstance(message, dict):
                raise ValueError("a request is one JSON object")
            answer = server.answer(message)
        except Exception as exc:  # a bad request never stops the worker
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        try:
            self.wfile.write(json.dumps(answer, default=str, allow_nan=False).encode() + b"\n")
        except OSError:  # the submitter went away; the submission itself is complete
            log.warning("the submitter left before its answer")
        server.last_request = time.time()


def warm(settings: Settings, catalogues: Catalogues, catalog_dir: Path | None) -> None:
    """Import the ingest machinery and build the Great Expectations contexts now."""
    import collectonce.ingest.service  # noqa: F401  (the imports are most of a cold start)

    if catalog_dir is None or not catalog_dir.is_dir():
        return
    try:
        catalog = catalogues(catalog_dir)
    except Exception as exc:  # a broken catalogue is reported by each submission instead
        log.warning("catalogue %s not read: %s", catalog_dir, exc)
        return
    warm_catalog(catalog, settings)


def warm_catalog(catalog: Catalog, settings: Settings) -> None:
    """Build the Great Expectations contexts of `catalog` (the data folder's GX project too,
    when Data Docs are on) and rehearse a submission, so the first real one is not the slow
    one."""
    from collectonce.validate import data_docs, gx_runner

    gx_runner.warm_up(catalog)
    try:
        rehearse(catalog, settings)
    except Exception:  # the first submission is then slower, not wrong
        log.exception("the rehearsal submission failed")
    if settings.data_docs:
        # made by the first process to warm up (under its lock), opened by the others
        data_docs.file_context(catalog, settings)


def rehearse(catalog: Catalog, settings: Settings) -> None:
    """Check a small file of every metric for one provider as a dry run (which writes nothing
    in the data folder), so that the first real submission finds every code path it takes
    (the reader, both suites, the store's reads) already loaded: about half a second saved."""
    import tempfile

    from collectonce.ingest.service import submit_file

    provider = next(iter(sorted(catalog.providers)), "RXX")
    month = time.strftime("%Y-%m", time.gmtime(time.time() - 62 * 86400))
    lines = ["provider_code,period,metric_id,value"]
    lines += [f"{provider},{month},{metric},0" for metric in sorted(catalog.metrics)]
    with tempfile.TemporaryDirectory(prefix="collectonce-rehearsal-") as folder:
        path = Path(folder) / "rehearsal.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        submit_file(path, catalog, settings, submitter=provider, dry_run=True)


def bind(settings: Settings) -> WorkerServer:
    """Listen on the data folder's socket, replacing a stale one.

    Raises:
        AlreadyRunning: a worker answers there.
    """
    settings.root.mkdir(parents=True, exist_ok=True)
    path = worker_link.socket_path(settings)
    for _attempt in range(2):
        if path.exists() or path.is_symlink():
            if worker_link.ask(path, {"op": "ping"}) is not None:
                raise AlreadyRunning(str(path))
            log.info("removing stale socket %s", path)
            path.unlink(missing_ok=True)
        try:
            return WorkerServer(path, settings)
        except OSError:
            if not path.exists():  # not a race with another worker (a path too long, ...)
                raise
            continue  # another worker bound it in between
    raise AlreadyRunning(str(path))


def serve(settings: Settings, catalog_dir: Path | None = None) -> int:
    """Listen, warm up, then answer requests until stopped or idle; 0, or 1 if one already
    runs."""
    try:
        server = bind(settings)
    except AlreadyRunning as exc:
        log.warning("a worker already answers on %s", exc)
        return 1
    server.timeout = min(settings.worker_idle_seconds, CHECK_SECONDS)

    def on_term(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    try:
        warm(settings, server.catalogues, catalog_dir)
        server.last_request = time.time()
        log.info("worker %s listening on %s", os.getpid(), server.path)
        while not server.stopping:
            server.handle_request()
    finally:
        server.server_close()
        server.remove_socket()
        log.info("worker %s stopped after %s requests", os.getpid(), server.served)
    return 0


def main(argv: list[str] | None = None) -> int:
    from collectonce._quiet import quiet_environment

    parser = argparse.ArgumentParser(description="The validation worker of a data folder.")
    parser.add_argument("--catalog", type=Path, default=None, help="the catalogue to warm up")
    args = parser.parse_args(argv)
    quiet_environment()
    handler = logging.StreamHandler()  # the worker's own lines; the libraries' warnings only
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return serve(get_settings(), args.catalog)


if __name__ == "__main__":
    sys.exit(main())
