"""Portal sessions: a token is pasted once, and a session cookie stands for it from then on.

The cookie holds a random session id only (HttpOnly, SameSite=Strict, Secure over TLS, with an
expiry). The server keeps, under ``COLLECTONCE_HOME/portal/sessions/``, a file named by the
SHA-256 of that id, holding the token's *id* (never the token), when the session ends and its
CSRF token. Every request re-checks the token by id, so revoking a token or its expiry ends the
session at once. Forms carry the session's CSRF token (synchronizer pattern); the sign-in form,
before any session exists, uses a double-submit cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from collectonce.access.auth import Principal, token_expiry, verify_id
from collectonce.atomic import write_json_atomic
from collectonce.settings import Settings

SESSION_COOKIE = "collectonce_session"
SIGN_IN_COOKIE = "collectonce_sign_in"
CSRF_FIELD = "csrf_token"
#: A session lasts this long at most (and never beyond its token's expiry).
SESSION_HOURS = 8
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class Session:
    """One signed-in browser: who it is, its CSRF token and when it ends."""

    key: str
    principal: Principal
    csrf: str
    expires_at: dt.datetime


def _dir(settings: Settings) -> Path:
    return settings.path("portal", "sessions")


def _file(settings: Settings, session_id: str) -> Path:
    return _dir(settings) / (hashlib.sha256(session_id.encode()).hexdigest() + ".json")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def start_session(
    settings: Settings, principal: Principal, *, now: dt.datetime | None = None
) -> tuple[str, Session]:
    """A new session for a verified principal: ``(cookie value, session)``."""
    moment = now or _now()
    ends = moment + dt.timedelta(hours=SESSION_HOURS)
    token_ends = token_expiry(settings, principal.token_id)
    if token_ends is not None:
        ends = min(ends, token_ends)
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    record = {
        "token_id": principal.token_id,
        "role": principal.role,
        "subject": principal.subject,
        "csrf": csrf,
        "created_at": moment.isoformat(),
        "expires_at": ends.isoformat(),
    }
    path = _file(settings, session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    write_json_atomic(path, record, mode=0o600)
    return session_id, Session(session_id, principal, csrf, ends)


def load_session(
    settings: Settings, session_id: str | None, *, now: dt.datetime | None = None
) -> Session | None:
    """The live session a cookie names; None when unknown, expired, or its token is no longer
    active (the session file is then removed)."""
    if not session_id or not _ID_RE.match(session_id):
        return None
    path = _file(settings, session_id)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        ends = dt.datetime.fromisoformat(record["expires_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    principal = verify_id(settings, record.get("token_id"), now)
    if ends <= (now or _now()) or principal is None:
        path.unlink(missing_ok=True)
        return None
    return Session(session_id, principal, str(record.get("csrf", "")), ends)


def end_session(settings: Settings, session_id: str | None) -> None:
    """Sign out: the session file goes, so the cookie is worthless even if kept."""
    if session_id and _ID_RE.match(session_id):
        _file(settings, session_id).unlink(missing_ok=True)


def prune_sessions(settings: Settings, *, now: dt.datetime | None = None) -> int:
    """Remove expired session files; how many went."""
    removed = 0
    moment = now or _now()
    folder = _dir(settings)
    if not folder.is_dir():
        return 0
    for path in folder.glob("*.json"):
        try:
            ends = dt.datetime.fromisoformat(json.loads(path.read_text())["expires_at"])
        except (OSError, ValueError, KeyError, TypeError):
            ends = moment
        if ends <= moment:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens; empty never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def new_sign_in_nonce() -> str:
    return secrets.token_urlsafe(32)
