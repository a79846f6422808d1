"""Receipts: what happened to one submission, kept as JSON and written last.

``receipts/<submission_id>.json`` is written atomically after everything else (archive, table
commit, quarantine, report). So a receipt on disk means the submission is complete, and a
submission without one is re-run from the start after a crash.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from collectonce.atomic import write_json_atomic
from collectonce.findings import Finding
from collectonce.settings import Settings

STATUSES = ("accepted", "accepted_with_warnings", "partially_accepted", "rejected", "duplicate")


@dataclass(frozen=True)
class EarlierAttempt:
    """An earlier attempt at a file that was processed again, as its receipt keeps it."""

    attempt: int
    status: str
    received_at: str
    original_name: str
    engine_version: str | None = None
    catalog_version: str | None = None
    #: The first errors that attempt found, each ``rule: message``.
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "status": self.status,
            "received_at": self.received_at,
            "original_name": self.original_name,
            "engine_version": self.engine_version,
            "catalog_version": self.catalog_version,
            "errors": list(self.errors),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EarlierAttempt:
        return cls(
            attempt=int(data.get("attempt") or 1),
            status=str(data.get("status") or ""),
            received_at=str(data.get("received_at") or ""),
            original_name=str(data.get("original_name") or ""),
            engine_version=data.get("engine_version"),
            catalog_version=data.get("catalog_version"),
            errors=[str(e) for e in data.get("errors") or []],
        )


@dataclass(frozen=True)
class Receipt:
    """The answer to one submitted file."""

    submission_id: str
    status: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    findings: list[Finding]
    file_sha256: str
    original_name: str
    submitted_by: str
    received_at: dt.datetime
    template: str
    providers: list[str] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)
    report: str | None = None
    dry_run: bool = False
    as_provider: str | None = None
    size_bytes: int = 0
    values_stored: int = 0
    values_unchanged: int = 0
    values_revised: int = 0
    values_duplicate: int = 0
    archive: str | None = None
    quarantine: str | None = None
    catalog_version: str | None = None
    #: The catalogue's content fingerprint and the reading engine's version the file was
    #: processed under: a rejected file received under older ones is processed again when resent.
    catalog_fingerprint: str | None = None
    engine_version: str | None = None
    #: 1 for the first time the file was processed; more when a rejected file was resent and
    #: processed again (`resent_because` says why, `earlier` summarises each earlier attempt).
    attempt: int = 1
    resent_because: str | None = None
    earlier: list[EarlierAttempt] = field(default_factory=list)
    #: For a duplicate: the status the original submission got, and when the copy arrived.
    original_status: str | None = None
    duplicate_received_at: dt.datetime | None = None
    #: Rows read but deliberately not stored (a published file's total row, with a warning):
    #: rows_read = rows_accepted + rows_rejected + rows_skipped.
    rows_skipped: int = 0

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def exit_code(self) -> int:
        """What `collectonce submit` exits with: 1 when the file was rejected (a duplicate
        answers as its original did), else 0."""
        outcome = self.original_status if self.status == "duplicate" else self.status
        return 1 if outcome == "rejected" else 0

    def belongs_to(self, provider: str) -> bool:
        """Whether `provider` may see this receipt: it sent the file, or the file held its own
        rows only (a data team's bulk file also carries other providers' rows and findings)."""
        return self.as_provider == provider or set(self.providers) == {provider}

    @property
    def accepted_anything(self) -> bool:
        return self.status in ("accepted", "accepted_with_warnings", "partially_accepted")

    def to_dict(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "status": self.status,
            "dry_run": self.dry_run,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "rows_skipped": self.rows_skipped,
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [f.to_dict() for f in self.findings],
            "file_sha256": self.file_sha256,
            "original_name": self.original_name,
            "size_bytes": self.size_bytes,
            "submitted_by": self.submitted_by,
            "as_provider": self.as_provider,
            "received_at": self.received_at.isoformat(),
            "template": self.template,
            "providers": list(self.providers),
            "periods": list(self.periods),
            "values_stored": self.values_stored,
            "values_unchanged": self.values_unchanged,
            "values_revised": self.values_revised,
            "values_duplicate": self.values_duplicate,
            "report": self.report,
            "archive": self.archive,
            "quarantine": self.quarantine,
            "catalog_version": self.catalog_version,
            "catalog_fingerprint": self.catalog_fingerprint,
            "engine_version": self.engine_version,
            "attempt": self.attempt,
            "resent_because": self.resent_because,
            "earlier": [e.to_dict() for e in self.earlier],
            "original_status": self.original_status,
            "duplicate_received_at": _iso(self.duplicate_received_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Receipt:
        dup = data.get("duplicate_received_at")
        return cls(
            submission_id=str(data["submission_id"]),
            status=str(data["status"]),
            rows_read=int(data.get("rows_read") or 0),
            rows_accepted=int(data.get("rows_accepted") or 0),
            rows_rejected=int(data.get("rows_rejected") or 0),
            rows_skipped=int(data.get("rows_skipped") or 0),
            findings=[Finding.from_dict(f) for f in data.get("findings") or []],
            file_sha256=str(data.get("file_sha256") or ""),
            original_name=str(data.get("original_name") or ""),
            submitted_by=str(data.get("submitted_by") or ""),
            received_at=_parse_time(data.get("received_at")),
            template=str(data.get("template") or ""),
            providers=[str(p) for p in data.get("providers") or []],
            periods=[str(p) for p in data.get("periods") or []],
            report=data.get("report"),
            dry_run=bool(data.get("dry_run")),
            as_provider=data.get("as_provider"),
            size_bytes=int(data.get("size_bytes") or 0),
            values_stored=int(data.get("values_stored") or 0),
            values_unchanged=int(data.get("values_unchanged") or 0),
            values_revised=int(data.get("values_revised") or 0),
            values_duplicate=int(data.get("values_duplicate") or 0),
            archive=data.get("archive"),
            quarantine=data.get("quarantine"),
            catalog_version=data.get("catalog_version"),
            catalog_fingerprint=data.get("catalog_fingerprint"),
            engine_version=data.get("engine_version"),
            attempt=int(data.get("attempt") or 1),
            resent_because=data.get("resent_because"),
            earlier=[
                EarlierAttempt.from_dict(e)
                for e in data.get("earlier") or []
                if isinstance(e, dict)
            ],
            original_status=data.get("original_status"),
            duplicate_received_at=None if not dup else _parse_time(dup),
        )

    def as_duplicate(self, received_at: dt.datetime) -> Receipt:
        """This receipt, answered again for identical bytes received later."""
        return replace(
            self,
            status="duplicate",
            original_status=self.original_status or self.status,
            duplicate_received_at=received_at,
        )


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if not value:
        return dt.datetime.fromtimestamp(0, dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def receipt_path(settings: Settings, submission_id: str) -> Path:
    return settings.receipts_dir / f"{submission_id}.json"


def write_receipt(settings: Settings, receipt: Receipt) -> Path:
    return write_json_atomic(receipt_path(settings, receipt.submission_id), receipt.to_dict())


def read_receipt(settings: Settings, submission_id: str) -> Receipt | None:
    if not submission_id or "/" in submission_id or "\\" in submission_id:
        return None
    path = receipt_path(settings, submission_id)
    if not path.is_file():
        return None
    try:
        return Receipt.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError):
        return None


class ReceiptIndex:
    """The receipts on disk grouped by the bytes they answer (the submission id's hash part),
    listed once: looking up thousands of files costs one listing of the folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ids: dict[str, list[str]] = {}
        if settings.receipts_dir.is_dir():
            with os.scandir(settings.receipts_dir) as entries:
                for entry in entries:
                    name = entry.name
                    if name.startswith("sub_") and name.endswith(".json"):
                        sid = name[: -len(".json")]
                        self.ids.setdefault(sid[4:20], []).append(sid)

    def for_bytes(self, sha256: str) -> list[Receipt]:
        """Every receipt of files with these bytes (sent by the data team or as any provider)."""
        out = []
        for sid in sorted(self.ids.get(sha256[:16], [])):
            found = read_receipt(self.settings, sid)
            if found is not None and found.file_sha256 == sha256:
                out.append(found)
        return out


def receipts_for_bytes(settings: Settings, sha256: str) -> list[Receipt]:
    """Every receipt of files with these bytes (sent by the data team or as any provider)."""
    return ReceiptIndex(settings).for_bytes(sha256)


def all_receipts(settings: Settings) -> list[Receipt]:
    """Every receipt on disk, oldest first."""
    out = []
    if not settings.receipts_dir.is_dir():
        return out
    for path in settings.receipts_dir.glob("*.json"):
        found = read_receipt(settings, path.stem)
        if found is not None:
            out.append(found)
    out.sort(key=lambda r: (r.received_at, r.submission_id))
    return out
