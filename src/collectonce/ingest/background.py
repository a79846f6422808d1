"""Work a submission run does beside its reading and its store stage, in threads (Arrow's
CSV reading and Parquet writing release the GIL, so the two overlap)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")


def prefetch(items: Iterable[T], depth: int = 2, name: str = "collectonce-prefetch") -> Iterator[T]:
    """Iterate `items` in a background thread, `depth` items ahead.

    Arrow parses CSV blocks and writes Parquet without holding the GIL, so the next block is
    built while the caller works on this one. Exceptions are re-raised in the caller, in
    order; stopping early stops the thread.
    """
    out: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def run() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put(done)
        except BaseException as exc:  # handed to the consumer
            out.put(exc)

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = out.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(T, item)
    finally:
        stop.set()
        while worker.is_alive():
            try:
                out.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


class Beside:
    """Runs `work` in a thread from now until `join` (which raises what it raised), so that
    what must follow both waits for it."""

    def __init__(self, work: Callable[[], None], name: str) -> None:
        self._error: BaseException | None = None

        def run() -> None:
            try:
                work()
            except BaseException as exc:  # raised by join, in the caller's thread
                self._error = exc

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error
