"""The audit log: one JSON line per pull, upload or refusal, appended to ``settings.audit_log``.

Each line says who (token id, role, subject, client address), what (action, target, parameters),
when (UTC time), from which publication, with which answer (HTTP status) and how many rows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections import deque
from pathlib import Path
from typing import Any

from collectonce.settings import Settings

_LOCK = threading.Lock()

#: The fields of every audit line, in order.
FIELDS = (
    "time",
    "token_id",
    "role",
    "subject",
    "client",
    "action",
    "target",
    "params",
    "publication_version",
    "status",
    "rows",
)


def audit_record(
    *,
    action: str,
    token_id: str | None = None,
    role: str | None = None,
    subject: str | None = None,
    client: str | None = None,
    target: str | None = None,
    params: dict[str, Any] | None = None,
    publication_version: int | None = None,
    status: int | None = None,
    rows: int | None = None,
    time: dt.datetime | None = None,
) -> dict[str, Any]:
    """One audit line as a dict (the keys of FIELDS)."""
    moment = (time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return {
        "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "token_id": token_id,
        "role": role,
        "subject": subject,
        "client": client,
        "action": action,
        "target": target,
        "params": {k: v for k, v in (params or {}).items() if v is not None},
        "publication_version": publication_version,
        "status": status,
        "rows": rows,
    }


def append_audit(settings: Settings, record: dict[str, Any]) -> None:
    """Append one line. Thread-safe; each line goes down in one ``write`` on an O_APPEND file, so
    lines from several server processes never interleave."""
    line = (json.dumps(record, default=str, separators=(",", ":")) + "\n").encode("utf-8")
    path = settings.audit_log
    with _LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def read_audit(settings: Settings, tail: int | None = None) -> list[dict[str, Any]]:
    """The audit lines, oldest first (the last ``tail`` only when given). Torn or foreign lines
    are skipped."""
    path: Path = settings.audit_log
    if not path.exists():
        return []
    keep: deque[dict[str, Any]] = deque(maxlen=tail if tail and tail > 0 else None)
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                keep.append(record)
    return list(keep)
