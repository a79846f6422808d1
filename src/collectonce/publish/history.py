"""The publications the unified table's history records: each version, when it was published,
under which catalogue, with what counts (`collectonce publications`)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from collectonce.publish.errors import UnknownPublication
from collectonce.publish.versions import open_table
from collectonce.settings import Settings

#: The prefix of collectonce's keys in a table commit's metadata.
META = "collectonce."


@dataclass(frozen=True)
class Publication:
    """The outcome of `publish`: the version now current and whether this run created it."""

    version: int | None
    created: bool
    published_at: dt.datetime | None
    catalog_version: str
    counts: dict[str, int] = field(default_factory=dict)
    content_hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["published_at"] = self.published_at.isoformat() if self.published_at else None
        return out


@dataclass(frozen=True)
class PublishedVersion:
    """One publication as the table's history keeps it (`collectonce publications`)."""

    version: int
    published_at: dt.datetime | None
    catalog_version: str
    counts: dict[str, int]
    content_hash: str
    #: When the table commit was made (the publication's time, unless an older writer).
    committed_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "published_at": _iso(self.published_at),
            "catalog_version": self.catalog_version,
            "counts": dict(self.counts),
            "content_hash": self.content_hash,
            "committed_at": _iso(self.committed_at),
        }


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when else None


def history_entry(entry: dict[str, Any]) -> Publication:
    counts = entry.get(f"{META}counts") or "{}"
    stamp = entry.get(f"{META}published_at")
    published = dt.datetime.fromisoformat(stamp) if stamp else None
    if published is None and entry.get("timestamp") is not None:
        published = dt.datetime.fromtimestamp(entry["timestamp"] / 1000, tz=dt.UTC)
    return Publication(
        version=int(entry["version"]),
        created=False,
        published_at=published,
        catalog_version=str(entry.get(f"{META}catalog_version") or ""),
        counts=json.loads(counts) if isinstance(counts, str) else dict(counts),
        content_hash=str(entry.get(f"{META}content_hash") or ""),
    )


def publications(settings: Settings) -> list[PublishedVersion]:
    """Every publication, oldest first: version, time, catalogue version, counts, content hash."""
    try:
        table = open_table(settings)
    except UnknownPublication:
        return []
    out = []
    for entry in sorted(table.history(), key=lambda e: int(e["version"])):
        publication = history_entry(entry)
        committed = entry.get("timestamp")
        out.append(
            PublishedVersion(
                version=int(entry["version"]),
                published_at=publication.published_at,
                catalog_version=publication.catalog_version,
                counts=publication.counts,
                content_hash=publication.content_hash,
                committed_at=None
                if committed is None
                else dt.datetime.fromtimestamp(committed / 1000, tz=dt.UTC),
            )
        )
    return out


def list_publications(settings: Settings) -> list[dict[str, Any]]:
    """`publications` as the JSON the API, the CLI and the pages give."""
    return [p.to_dict() for p in publications(settings)]
