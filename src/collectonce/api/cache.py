"""The response cache: each answer's serialised body, kept so a repeat pull is a memory copy.

An entry is keyed by everything that determines the answer (route, request or provider, range,
format and the publication version served) and holds the plain body and, for text worth
compressing, the same body gzipped, so a client that asks for gzip and one that does not are
both served from memory. Callers check access BEFORE they consult the cache: the key never
names a caller, so a body must only be looked up once the caller is known to be allowed it.

The cache is bounded in bytes (``COLLECTONCE_RESPONSE_CACHE_BYTES``); the least recently used
answers go first. Entries that belong to a publication are dropped when the list of
publications changes (a new publication, or a table rebuilt from scratch).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

#: The default bound of the whole cache, and of one entry (larger answers are never kept).
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_ENTRY = 32 * 1024 * 1024

Key = tuple[Any, ...]


@dataclass
class Rendered:
    """One answer's body: whole bytes (cacheable) or a stream of chunks."""

    media_type: str
    rows: int
    body: bytes | None = None
    chunks: Iterator[bytes] | None = None
    filename: str | None = None
    gzipped: bytes | None = None
    #: The publication the answer was served from (None: it depends on no publication).
    version: int | None = None

    @property
    def size(self) -> int:
        return len(self.body or b"") + len(self.gzipped or b"")


class ResponseCache:
    """Rendered answers keyed by what determines them. Bounded in bytes; one render per key at
    a time (32 clients asking at once for an answer not yet made wait for one render)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, max_entry: int = DEFAULT_MAX_ENTRY):
        self.max_bytes = max(0, max_bytes)
        self.max_entry = min(max_entry, self.max_bytes)
        self._items: OrderedDict[Key, Rendered] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._inflight: dict[Key, threading.Lock] = {}

    @property
    def size(self) -> int:
        """Bytes held now (never more than ``max_bytes``)."""
        return self._size

    def __len__(self) -> int:
        return len(self._items)

    def held(self) -> list[Key]:
        """The keys held now, least recently used first."""
        with self._lock:
            return list(self._items)

    def _get(self, key: Key) -> Rendered | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def _put(self, key: Key, value: Rendered) -> None:
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

    def drop_published(self) -> int:
        """Forget every answer served from a publication (the list of publications changed);
        answers that depend on no publication stay. Returns how many were dropped."""
        with self._lock:
            stale = [key for key, value in self._items.items() if value.version is not None]
            for key in stale:
                self._size -= self._items.pop(key).size
            return len(stale)

    async def fetch(self, key: Key, make: Callable[[], Rendered]) -> Rendered:
        """The cached answer, else made in a worker thread (never on the event loop)."""
        hit = self._get(key)
        if hit is not None:
            return hit
        return await run_in_threadpool(self.get_or_make, key, make)

    def get_or_make(self, key: Key, make: Callable[[], Rendered]) -> Rendered:
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
