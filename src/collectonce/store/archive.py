"""The archive: every received file, immutable, named by its sha256, kept before it is parsed.

Layout: ``<sha[:2]>/<sha>`` holds the bytes (read-only), ``<sha>.json`` beside it holds who sent
it first, when, and the original name (sanitised), and ``<sha>.arrivals/`` holds one small JSON
object for every time those bytes arrived. Identical bytes are one archive entry. Nothing is ever
appended or rewritten, so the same layout works in a local folder and in an object store
(``COLLECTONCE_ARCHIVE_URL=s3://bucket/archive``).

An original name is only ever *recorded*: the archive key comes from the hash alone, and the
recorded name has folders, ``..``, control characters and over-long tails removed, so a name like
``../../etc/passwd`` or ``C:\\x\\y.csv`` can never place a file outside the archive.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectonce.settings import Settings
from collectonce.store.storage import Storage, archive_store

#: Longest original name kept (the extension is kept when a name is cut).
MAX_NAME_CHARS = 120
_CHUNK = 1024 * 1024
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ArchivedFile:
    """One archived file."""

    sha256: str
    #: Where the bytes live: a path in a local archive, a URL in an object store.
    location: str
    size: int
    original_name: str
    submitter: str
    received_at: dt.datetime
    #: False when identical bytes were archived before (this is the same entry).
    created: bool

    #: The archived copy when the archive is a local folder (None on an object store).
    local_path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "location": self.location,
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


def archive_key(sha256: str) -> str:
    """The key of the bytes with this hash inside the archive."""
    if not _SHA_RE.match(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return f"{sha256[:2]}/{sha256}"


def archive_path(settings: Settings, sha256: str) -> Path:
    """Where the bytes with this hash live (or would live) in a local archive."""
    return settings.archive_dir / archive_key(sha256)


def hash_file(path: Path) -> tuple[str, int]:
    """The sha256 and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
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
    if isinstance(source, bytes | bytearray):
        sha, size = hashlib.sha256(source).hexdigest(), len(source)
    else:
        sha, size = hash_file(Path(source))
    store = archive_store(settings)
    key = archive_key(sha)
    created = not store.exists(key)
    if created:
        if isinstance(source, bytes | bytearray):
            store.write_bytes(key, bytes(source), read_only=True)
        else:
            store.put_file(key, Path(source), read_only=True, link=settings.archive_link)
    arrival = {
        "sha256": sha,
        "size": size,
        "original_name": name,
        "submitter": submitter,
        "received_at": received_at.isoformat(),
    }
    if not store.exists(f"{key}.json"):
        store.write_bytes(f"{key}.json", _json(arrival), read_only=True)
    stamp = received_at.strftime("%Y%m%dT%H%M%S%fZ")
    store.write_bytes(f"{key}.arrivals/{stamp}-{uuid.uuid4().hex[:8]}.json", _json(arrival))
    return ArchivedFile(
        sha, store.location(key), size, name, submitter, received_at, created, store.local_path(key)
    )


def _json(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8")


def arrivals(settings: Settings, sha256: str) -> list[dict[str, Any]]:
    """Every arrival of these bytes, oldest first."""
    store: Storage = archive_store(settings)
    prefix = f"{archive_key(sha256)}.arrivals"
    return [json.loads(store.read_bytes(k)) for k in store.list(prefix)]


def archive_meta(settings: Settings, sha256: str) -> dict[str, Any] | None:
    """The sidecar of an archived file (None when the hash is not archived)."""
    try:
        key = f"{archive_key(sha256)}.json"
    except ValueError:
        return None
    store = archive_store(settings)
    if not store.exists(key):
        return None
    data: dict[str, Any] = json.loads(store.read_bytes(key))
    return data
