"""Tokens are created for one role, stored hashed, and stop working when expired or revoked."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectonce.access.auth import TokenError, create_token, list_tokens, revoke_token, verify
from collectonce.cli import app

runner = CliRunner()


def test_token_works_and_is_stored_hashed(settings, catalog_min) -> None:
    """It verifies a fresh token as its role and subject, and never writes the token to disk."""
    token_id, token = create_token(
        settings, role="provider", subject="RF4", catalog=catalog_min, note="RF4 analyst"
    )
    principal = verify(settings, token)
    assert principal is not None
    assert (principal.role, principal.subject, principal.token_id) == ("provider", "RF4", token_id)
    stored = settings.tokens_file.read_text()
    secret = token.split("_", 2)[2]
    assert token not in stored and secret not in stored
    assert stat.S_IMODE(settings.tokens_file.stat().st_mode) == 0o600
    assert json.loads(stored)["tokens"][token_id]["note"] == "RF4 analyst"


def test_tampered_or_foreign_tokens_are_refused(settings, catalog_min) -> None:
    """It refuses a token with one character changed, an unknown id, junk, and no token."""
    token_id, token = create_token(settings, role="admin", subject=None, catalog=catalog_min)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    unknown_id = token.replace(token_id, "0" * 12)
    for bad in (flipped, unknown_id, "co_junk", "", None, token + "x", token.upper()):
        assert verify(settings, bad) is None


def test_revoked_token_is_refused(settings, catalog_min) -> None:
    """It refuses a token once revoked; revoking twice is harmless; unknown ids are an error."""
    token_id, token = create_token(settings, role="requester", subject="cqc", catalog=catalog_min)
    assert revoke_token(settings, token_id) is True
    assert verify(settings, token) is None
    assert revoke_token(settings, token_id) is False
    with pytest.raises(TokenError, match="no token with id"):
        revoke_token(settings, "f" * 12)


def test_expired_token_is_refused(settings, catalog_min) -> None:
    """It refuses a token after its expiry date, and a token without expiry keeps working."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    _, expired = create_token(
        settings, role="admin", subject=None, expires_days=5, catalog=catalog_min, now=past
    )
    _, forever = create_token(
        settings, role="admin", subject=None, expires_days=None, catalog=catalog_min, now=past
    )
    assert verify(settings, expired) is None
    assert verify(settings, forever) is not None
    statuses = {t["status"] for t in list_tokens(settings)}
    assert statuses == {"expired", "active"}


@pytest.mark.parametrize(
    ("role", "subject", "message"),
    [
        ("provider", "ZZZ", "not a provider in the catalogue"),
        ("provider", None, "must name its provider"),
        ("requester", "ofsted", "not a requester in the catalogue"),
        ("admin", "RF4", "names no provider or requester"),
    ],
)
def test_token_must_name_a_catalogue_subject(settings, catalog_min, role, subject, message):
    """It refuses tokens for providers or requesters the catalogue does not know."""
    with pytest.raises(TokenError, match=message):
        create_token(settings, role=role, subject=subject, catalog=catalog_min)
    assert not settings.tokens_file.exists()


def test_token_cli_create_list_revoke(home: Path, catalog_min_dir: Path) -> None:
    """It creates a token as JSON, lists it without the secret, and revokes it by id."""
    cat = ["--catalog", str(catalog_min_dir)]
    made = runner.invoke(app, ["token", "create", "--requester", "nhs_england", "--json", *cat])
    assert made.exit_code == 0, made.output
    out = json.loads(made.stdout)
    assert out["role"] == "requester" and out["subject"] == "nhs_england"
    assert out["token"].startswith(f"co_{out['token_id']}_")

    listed = runner.invoke(app, ["token", "list", "--json", *cat])
    assert listed.exit_code == 0
    assert out["token"] not in listed.stdout
    (entry,) = json.loads(listed.stdout)["tokens"]
    assert entry["status"] == "active" and "hash" not in entry

    revoked = runner.invoke(app, ["token", "revoke", out["token_id"], *cat])
    assert revoked.exit_code == 0
    listed = runner.invoke(app, ["token", "list", "--json", *cat])
    assert json.loads(listed.stdout)["tokens"][0]["status"] == "revoked"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create"], 2, "exactly one of"),
        (["create", "--admin", "--provider", "RF4"], 2, "exactly one of"),
        (["create", "--provider", "XYZ99"], 1, "not a provider in the catalogue"),
        (["revoke", "../../etc"], 2, "not a token id"),
        (["revoke", "abcdefabcdef"], 1, "no token with id"),
    ],
)
def test_token_cli_refuses_bad_input(home, catalog_min_dir, args, code, message) -> None:
    """It prints a one-line error, no traceback, and exits non-zero on bad input."""
    result = runner.invoke(app, ["token", *args, "--catalog", str(catalog_min_dir)])
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output
