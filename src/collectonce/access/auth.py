"""API tokens: created for one role and subject, stored hashed, verified in constant time.

A token reads ``co_<id>_<secret>``: the id names the token in the audit log and in
``collectonce token revoke``; the secret is 32 random bytes and is shown once, when the token is
created. The tokens file (``settings.tokens_file``, mode 0600) keeps only an HMAC-SHA256 of the
whole token, keyed with a per-install pepper kept beside it (``token_pepper``, mode 0600).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from collectonce.atomic import file_lock
from collectonce.errors import ApiError
from collectonce.settings import Settings

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog

Role = Literal["provider", "requester", "region", "admin"]
ROLES: tuple[Role, ...] = ("provider", "requester", "region", "admin")

TOKEN_RE = re.compile(r"^co_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
TOKEN_ID_RE = re.compile(r"^[0-9a-f]{12}$")
_PEPPER_NAME = "token_pepper"


class TokenError(ApiError, ValueError):
    """A token cannot be created or revoked; the message says why in one line."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, the provider ODS code or requester code, and the token's id."""

    role: Role
    subject: str | None
    token_id: str

    @property
    def label(self) -> str:
        return f"{self.role}:{self.subject}" if self.subject else self.role


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def token_id_of(bearer: str) -> str | None:
    """The id part of a presented token when it is well formed (for the audit log), else None."""
    match = TOKEN_RE.match(bearer or "")
    return match.group(1) if match else None


# --------------------------------------------------------------------------- files


def _write_private(path: Path, data: bytes) -> None:
    """Write a file atomically with mode 0600 (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """Serialise writers of the tokens file across processes."""
    lock_path = settings.tokens_file.with_name(settings.tokens_file.name + ".lock")
    with file_lock(lock_path):
        yield


def _pepper(settings: Settings, *, create: bool) -> bytes | None:
    path = settings.root / _PEPPER_NAME
    if path.exists():
        return path.read_bytes()
    if not create:
        return None
    _write_private(path, secrets.token_hex(32).encode())
    return path.read_bytes()


def _digest(pepper: bytes, token: str) -> str:
    return hmac.new(pepper, token.encode("utf-8"), hashlib.sha256).hexdigest()


def _read_store(settings: Settings) -> dict[str, dict[str, Any]]:
    path = settings.tokens_file
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    tokens = data.get("tokens", {}) if isinstance(data, dict) else {}
    return tokens if isinstance(tokens, dict) else {}


def _write_store(settings: Settings, tokens: dict[str, dict[str, Any]]) -> None:
    text = json.dumps({"version": 1, "tokens": tokens}, indent=2, sort_keys=True) + "\n"
    _write_private(settings.tokens_file, text.encode("utf-8"))


# --------------------------------------------------------------------------- create / revoke


def _check_subject(role: str, subject: str | None, catalog: Catalog) -> str | None:
    if role == "admin":
        if subject:
            raise TokenError("an admin token names no provider or requester")
        return None
    if not subject:
        raise TokenError(f"a {role} token must name its {role}")
    if role == "provider" and subject not in catalog.providers:
        raise TokenError(
            f"{subject!r} is not a provider in the catalogue; use an ODS code from providers.csv"
        )
    if role == "requester" and subject not in catalog.requesters:
        known = ", ".join(sorted(catalog.requesters))
        raise TokenError(f"{subject!r} is not a requester in the catalogue; use one of: {known}")
    if role == "region":
        return _region_subject(subject, catalog)
    return subject


def _region_subject(name: str, catalog: Catalog) -> str:
    """The catalogue's spelling of a region a regional team can hold (not the unassigned one)."""
    regions = [r for r in catalog.regions if r != catalog.levels.unassigned_label]
    wanted = " ".join(name.split()).casefold()
    for region in regions:
        if region.casefold() == wanted:
            return region
    raise TokenError(f"{name!r} is not a region in providers.csv; use one of: {', '.join(regions)}")


def create_token(
    settings: Settings,
    *,
    role: Role,
    subject: str | None,
    expires_days: int | None = 365,
    note: str = "",
    catalog: Catalog | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, str]:
    """Create a token and return ``(token_id, token)``; only its HMAC is stored.

    Provider tokens name an ODS code of the catalogue, requester tokens a requester code, region
    tokens (a regional team) a region of providers.csv; admin tokens name nobody.
    ``expires_days=None`` makes a token that never expires. ``catalog`` defaults to the
    catalogue at ``settings.catalog``.
    """
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}; use provider, requester, region or admin")
    if expires_days is not None and expires_days < 1:
        raise TokenError("--expires-days must be at least 1")
    if catalog is None:
        from collectonce.catalog import load_catalog

        catalog = load_catalog(settings.catalog)
    subject = _check_subject(role, subject, catalog)
    created = now or _now()
    token_id = secrets.token_hex(6)
    token = f"co_{token_id}_{secrets.token_urlsafe(32)}"
    with _locked(settings):
        pepper = _pepper(settings, create=True)
        assert pepper is not None
        tokens = _read_store(settings)
        while token_id in tokens:  # astronomically unlikely; keep ids unique anyway
            token_id = secrets.token_hex(6)
            token = f"co_{token_id}_{secrets.token_urlsafe(32)}"
        tokens[token_id] = {
            "role": role,
            "subject": subject,
            "hash": _digest(pepper, token),
            "created_at": _iso(created),
            "expires_at": (
                _iso(created + dt.timedelta(days=expires_days))
                if expires_days is not None
                else None
            ),
            "revoked_at": None,
            "note": note,
        }
        _write_store(settings, tokens)
    _CACHE.forget(settings.tokens_file)
    return token_id, token


def revoke_token(settings: Settings, token_id: str, *, now: dt.datetime | None = None) -> bool:
    """Revoke a token by id. Returns False when it was already revoked; raises when unknown."""
    with _locked(settings):
        tokens = _read_store(settings)
        entry = tokens.get(token_id)
        if entry is None:
            raise TokenError(f"no token with id {token_id!r}; see `collectonce token list`")
        if entry.get("revoked_at"):
            return False
        entry["revoked_at"] = _iso(now or _now())
        _write_store(settings, tokens)
    _CACHE.forget(settings.tokens_file)
    return True


def token_status(entry: dict[str, Any], now: dt.datetime | None = None) -> str:
    """``active``, ``expired`` or ``revoked``."""
    if entry.get("revoked_at"):
        return "revoked"
    expires = _parse_time(entry.get("expires_at"))
    if expires is not None and expires <= (now or _now()):
        return "expired"
    return "active"


def list_tokens(settings: Settings, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Every token's metadata, oldest first. Never the secret, never the hash."""
    out = []
    for token_id, entry in _read_store(settings).items():
        out.append(
            {
                "token_id": token_id,
                "role": entry.get("role"),
                "subject": entry.get("subject"),
                "created_at": entry.get("created_at"),
                "expires_at": entry.get("expires_at"),
                "revoked_at": entry.get("revoked_at"),
                "status": token_status(entry, now),
                "note": entry.get("note", ""),
            }
        )
    return sorted(out, key=lambda t: (t["created_at"] or "", t["token_id"]))


# --------------------------------------------------------------------------- verify


class _StoreCache:
    """The tokens file, re-read only when it changes on disk (one stat per request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Path, tuple[tuple[int, int, int], bytes, dict[str, Any]]] = {}

    def forget(self, path: Path) -> None:
        with self._lock:
            self._entries.pop(path, None)

    def get(self, settings: Settings) -> tuple[bytes, dict[str, dict[str, Any]]] | None:
        path = settings.tokens_file
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            cached = self._entries.get(path)
            if cached and cached[0] == key:
                return cached[1], cached[2]
        pepper = _pepper(settings, create=False)
        if pepper is None:
            return None
        tokens = _read_store(settings)
        with self._lock:
            self._entries[path] = (key, pepper, tokens)
        return pepper, tokens


_CACHE = _StoreCache()
_DUMMY_PEPPER = secrets.token_bytes(32)


def verify(
    settings: Settings, bearer: str | None, now: dt.datetime | None = None
) -> Principal | None:
    """The principal a presented token stands for; None when it is malformed, unknown, expired
    or revoked. The comparison is constant-time, and unknown ids cost the same as known ones."""
    match = TOKEN_RE.match(bearer or "")
    loaded = _CACHE.get(settings)
    if match is None or loaded is None:
        hmac.compare_digest(_digest(_DUMMY_PEPPER, bearer or ""), "0" * 64)
        return None
    pepper, tokens = loaded
    token_id = match.group(1)
    entry = tokens.get(token_id)
    expected = str(entry.get("hash", "")) if entry else "0" * 64
    if not hmac.compare_digest(_digest(pepper, bearer or ""), expected) or entry is None:
        return None
    if token_status(entry, now) != "active":
        return None
    role = entry.get("role")
    if role not in ROLES:
        return None
    return Principal(role=role, subject=entry.get("subject"), token_id=token_id)


def verify_id(
    settings: Settings, token_id: str | None, now: dt.datetime | None = None
) -> Principal | None:
    """The principal of a token already verified once (a portal session keeps only its id);
    None when the token has since been revoked, has expired or is unknown. So a session ends
    when its token does."""
    if not token_id or not TOKEN_ID_RE.match(token_id):
        return None
    loaded = _CACHE.get(settings)
    if loaded is None:
        return None
    entry = loaded[1].get(token_id)
    if entry is None or token_status(entry, now) != "active":
        return None
    role = entry.get("role")
    if role not in ROLES:
        return None
    return Principal(role=role, subject=entry.get("subject"), token_id=token_id)


def token_expiry(settings: Settings, token_id: str) -> dt.datetime | None:
    """When a token expires (None: never, or unknown)."""
    loaded = _CACHE.get(settings)
    entry = loaded[1].get(token_id) if loaded else None
    return _parse_time(entry.get("expires_at")) if entry else None
