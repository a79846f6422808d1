"""The landing folder: files dropped there are submitted together, then moved to processed/.

`ingest_landing` is idempotent and safe to re-run after a crash: a file whose bytes already have
a receipt is answered as a duplicate and moved; a file without one is processed again, and the
submissions table is never given its values twice (see `collectonce.ingest.service`).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from collectonce.catalog import Catalog
from collectonce.settings import Settings

if TYPE_CHECKING:
    from collectonce.store.receipts import Receipt

#: Names of files still being written, or hidden: never picked up.
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload")


def landing_files(settings: Settings) -> list[Path]:
    """Files waiting in the landing folder, oldest first (hidden and partial files skipped)."""
    landing = settings.landing_dir
    if not landing.is_dir():
        return []
    files = [
        p
        for p in landing.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(PARTIAL_SUFFIXES)
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def ingest_landing(
    catalog: Catalog,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Receipt]:
    """Submit every new file in the landing folder in one run, then move each to processed/.

    Safe to re-run after a crash: a file whose bytes already have a receipt is answered as a
    duplicate and moved; one without a receipt is processed again (its values are not stored
    twice).
    """
    from collectonce.ingest.service import submit_files

    files = landing_files(settings)
    if not files:
        return []
    receipts = submit_files(files, catalog, settings, now=now, progress=progress)
    processed = settings.landing_dir / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    for path, receipt in zip(files, receipts, strict=True):
        target = processed / path.name
        if target.exists():
            target = processed / f"{receipt.file_sha256[:12]}__{path.name}"
        _move(path, target)
    return receipts


def _move(path: Path, target: Path) -> None:
    try:
        os.replace(path, target)
    except OSError:  # another file system
        shutil.move(str(path), str(target))
