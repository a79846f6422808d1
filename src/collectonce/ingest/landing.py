"""The landing folder: files dropped there are submitted together, then moved to processed/.

The folder is a local path or an object-store URL (``COLLECTONCE_LANDING_URL``). Files in an
object store are copied to a private local folder for reading, then moved to ``processed/`` in
the store.

`ingest_landing` is idempotent and safe to re-run after a crash: a file whose bytes already have
a receipt is answered as a duplicate and moved; a file without one is processed again, and the
submissions table is never given its values twice (see `collectonce.ingest.service`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from collectonce.catalog import Catalog
from collectonce.ingest.service import submit_files, symlink_refusal
from collectonce.settings import Settings
from collectonce.store.storage import Storage, landing_store

if TYPE_CHECKING:
    from collectonce.store.receipts import Receipt

__all__ = ["ingest_landing", "landing_files", "refused_landing_entries", "symlink_refusal"]

#: Names of files still being written, or hidden: never picked up.
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload")
PROCESSED = "processed"


@dataclass(frozen=True)
class RefusedEntry:
    """Something in the landing folder that is never picked up and needs a person."""

    name: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason}


def refused_landing_entries(settings: Settings) -> list[RefusedEntry]:
    """Symbolic links in the landing folder, each with what to do: a link is never followed (it
    could point anywhere on the server), and a dangling one has nothing behind it."""
    store = landing_store(settings)
    if not store.fs.isdir(store.root):
        return []
    out = []
    for info in store.fs.ls(store.root, detail=True):
        if not info.get("islink") or info.get("type") == "directory":
            continue
        name = str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
        target = str(info.get("destination") or "?")
        link = Path(str(info["name"]))
        if link.exists():
            reason = (
                f"{name} is a symbolic link (to {target}) and links are not picked up, because "
                "a link can point anywhere on the server. Put the file itself in the landing "
                "folder and delete the link."
            )
        else:
            reason = (
                f"{name} is a symbolic link to {target}, which does not exist, so there is "
                "nothing to read. Put the file itself in the landing folder and delete the link."
            )
        out.append(RefusedEntry(name, reason))
    return sorted(out, key=lambda e: e.name)


def landing_files(settings: Settings) -> list[str]:
    """Names of the files waiting in the landing folder, oldest first (hidden and partial files
    skipped)."""
    waiting = [
        (modified, key)
        for key, modified in landing_store(settings).files()
        if not key.startswith(".") and not key.endswith(PARTIAL_SUFFIXES)
    ]
    return [key for _, key in sorted(waiting)]


def ingest_landing(
    catalog: Catalog,
    settings: Settings,
    *,
    names: Sequence[str] | None = None,
    now: dt.datetime | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Receipt]:
    """Submit the new files of the landing folder (all, or those named) in one run, then move
    each to processed/.

    Safe to re-run after a crash: a file whose bytes already have a receipt is answered as a
    duplicate and moved; one without a receipt is processed again (its values are not stored
    twice).
    """
    store = landing_store(settings)
    keys = list(names) if names is not None else landing_files(settings)
    if not keys:
        return []
    with _local_copies(store, keys, settings) as paths:
        receipts = submit_files(
            paths, catalog, settings, original_names=keys, now=now, progress=progress
        )
    done = {key for key, _ in store.files(PROCESSED)}
    for key, receipt in zip(keys, receipts, strict=True):
        target = f"{PROCESSED}/{key}"
        if target in done:
            target = f"{PROCESSED}/{receipt.file_sha256[:12]}__{key}"
        _move(store, key, target)
    return receipts


@contextlib.contextmanager
def _local_copies(store: Storage, keys: Sequence[str], settings: Settings) -> Iterator[list[Path]]:
    """Local paths of landing files: the files themselves, or copies of remote objects."""
    local = [store.local_path(k) for k in keys]
    if all(p is not None for p in local):
        yield [p for p in local if p is not None]
        return
    settings.root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".landing-", dir=settings.root))
    try:
        yield [store.download(k, tmp / f"{i:06d}" / Path(k).name) for i, k in enumerate(keys)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _move(store: Storage, key: str, target: str) -> None:
    store.move(key, target)
