"""The archive: every received file, immutable, named by its sha256, kept before it is parsed.

Layout: ``archive/<sha[:2]>/<sha>`` holds the bytes (read-only), ``<sha>.json`` beside it holds
who sent it first, when, and the original name (sanitised), and ``<sha>.arrivals.jsonl`` has one
line for every time those bytes arrived. Identical bytes are one archive entry.

An original name is only ever *recorded*: the archive path comes from the hash alone, and the
recorded name has folders, ``..``, control characters and over-long tails removed, so a name like
``../../etc/passwd`` or ``C:\\x\\y.csv`` can never place a file outside the archive.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from collectonce.settings import Settings
from collectonce.store.atomic import fsync_dir, write_json_atomic

#: Longest original name kept (the extension is kept when a name is cut).
MAX_NAME_CHARS = 120
_CHUNK = 1024 * 1024
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ArchivedFile:
    """One archived file."""

    sha256: str
    path: Path
    size: int
    original_name: str
    submitter: str
    received_at: dt.datetime
    #: False when identical bytes were archived before (this is the same entry).
    created: bool

    @property
    def meta_path(self) -> Path:
        return self.path.with_name(f"{self.sha256}.json")

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "path": str(self.path),
            "size": self.size,
            "original_name": self.original_name,
            "submitter": self.submitter,
            "received_at": self.received_at.isoformat(),
            "created": self.created,
        }


def sanitise_name(name: str | None, limit: int = MAX_NAME_CHARS) -> str:
    """A safe display name: the last path component, printable, no leading dots, bounded."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = text.replace("\\", "/")
    text = text.rsplit("/", 1)[-1]
    text = re.sub(r"^[A-Za-z]:", "", text)  # a drive letter left after the last separator
    text = re.sub(r"\s+", " ", text).strip().lstrip(". ")
    text = text.replace("..", "_")
    if len(text) > limit:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = stem[: limit - len(ext) - 1].rstrip() + "." + ext
        else:
            text = text[:limit]
    return text or "upload"


def archive_path(settings: Settings, sha256: str) -> Path:
    """Where the bytes with this hash live (or would live)."""
    if not _SHA_RE.match(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return settings.archive_dir / sha256[:2] / sha256


def hash_file(path: Path) -> tuple[str, int]:
    """The sha256 and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _copy_hashing(source: BinaryIO, target: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        target.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def archive_file(
    source: Path | bytes,
    settings: Settings,
    *,
    original_name: str | None = None,
    submitter: str = "data_team",
    received_at: dt.datetime | None = None,
) -> ArchivedFile:
    """Copy the file into the archive (once per distinct content) and record its arrival."""
    received_at = received_at or dt.datetime.now(dt.UTC)
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=dt.UTC)
    name = sanitise_name(
        original_name if original_name is not None else getattr(source, "name", None)
    )
    settings.archive_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".incoming.", dir=settings.archive_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as target:
            if isinstance(source, bytes | bytearray):
                sha, size = hashlib.sha256(source).hexdigest(), len(source)
                target.write(source)
            else:
                with Path(source).open("rb") as handle:
                    sha, size = _copy_hashing(handle, target)
            target.flush()
            os.fsync(target.fileno())
        final = archive_path(settings, sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        created = not final.exists()
        if created:
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
            fsync_dir(final.parent)
        else:
            tmp.unlink()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    entry = ArchivedFile(sha, final, size, name, submitter, received_at, created)
    if not entry.meta_path.exists():
        write_json_atomic(
            entry.meta_path,
            {
                "sha256": sha,
                "size": size,
                "original_name": name,
                "submitter": submitter,
                "received_at": received_at.isoformat(),
            },
            mode=0o444,
        )
    _log_arrival(entry)
    return entry


def _log_arrival(entry: ArchivedFile) -> None:
    line = json.dumps(
        {
            "received_at": entry.received_at.isoformat(),
            "submitter": entry.submitter,
            "original_name": entry.original_name,
        }
    )
    with entry.path.with_name(f"{entry.sha256}.arrivals.jsonl").open("a", encoding="utf-8") as f:
        f.write(line + "\n")


def archive_meta(settings: Settings, sha256: str) -> dict[str, Any] | None:
    """The sidecar of an archived file (None when the hash is not archived)."""
    try:
        path = archive_path(settings, sha256).with_name(f"{sha256}.json")
    except ValueError:
        return None
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
