"""`collectonce serve`, `collectonce token create|list|revoke` and `collectonce audit`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collectonce.catalog.cli_open import open_catalog, open_with_settings
from collectonce.cli_common import CatalogOpt, JsonOpt, console, fail, print_json, settings_for

if TYPE_CHECKING:
    from collectonce.access.auth import Role

token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


def serve(
    catalog: CatalogOpt = Path("catalog"),
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Server processes.")] = 1,
    log_level: Annotated[
        str, typer.Option("--log-level", help="uvicorn log level: warning, info, debug.")
    ] = "info",
) -> None:
    """Start the pull API (FastAPI on uvicorn). The OpenAPI document is served at /openapi.json."""
    import os

    import uvicorn

    if log_level not in {"critical", "error", "warning", "info", "debug", "trace"}:
        fail(f"unknown --log-level {log_level!r}; use warning, info or debug", 2)
    settings = settings_for(catalog)
    cat = open_catalog(catalog)
    settings.root.mkdir(parents=True, exist_ok=True)
    server = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "timeout_keep_alive": settings.keep_alive_seconds,
    }
    if workers > 1:
        os.environ["COLLECTONCE_CATALOG"] = str(Path(catalog).resolve())
        os.environ["COLLECTONCE_HOME"] = str(settings.root)
        uvicorn.run("collectonce.api.app:app_from_env", factory=True, workers=workers, **server)
        return
    from collectonce.api.app import build_app

    uvicorn.run(build_app(cat, settings, warm=True), **server)


def token_create(
    provider: Annotated[
        str | None, typer.Option("--provider", help="A provider's ODS code: its own data.")
    ] = None,
    requester: Annotated[
        str | None, typer.Option("--requester", help="A requester code: its own requests.")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region", help="A region (regional team): its roll-ups and its providers' data."
        ),
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="The data team: everything.")] = False,
    expires_days: Annotated[
        int, typer.Option("--expires-days", min=0, help="Days until it expires; 0 for never.")
    ] = 365,
    note: Annotated[str, typer.Option("--note", help="Who it is for, for the list.")] = "",
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """Create a token for exactly one of --provider, --requester, --region or --admin. It is
    shown once."""
    from collectonce.access.auth import TokenError, create_token

    given: list[tuple[Role, str | None]] = []
    if provider is not None:
        given.append(("provider", provider))
    if requester is not None:
        given.append(("requester", requester))
    if region is not None:
        given.append(("region", region))
    if admin:
        given.append(("admin", None))
    if len(given) != 1:
        fail("give exactly one of --provider ODS, --requester CODE, --region NAME or --admin", 2)
    role, subject = given[0]
    cat, settings = open_with_settings(catalog, as_json=json_out)
    try:
        token_id, token = create_token(
            settings,
            role=role,
            subject=subject,
            expires_days=expires_days or None,
            note=note,
            catalog=cat,
        )
    except TokenError as exc:
        fail(str(exc))
    out = {"token": token, "token_id": token_id, "role": role, "subject": subject}
    if json_out:
        print_json(out)
        return
    console.print(f"token id {token_id} ({role}{f' {subject}' if subject else ''})")
    console.print(token, highlight=False, soft_wrap=True)
    console.print("[yellow]Keep it safe: it is not stored and cannot be shown again.[/]")


def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (see `token list`).")],
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """Revoke a token; it stops working at once, also on a running server."""
    from collectonce.access.auth import TOKEN_ID_RE, TokenError, revoke_token

    if not TOKEN_ID_RE.match(token_id):
        fail(f"{token_id!r} is not a token id: ids are 12 hex characters (see `token list`)", 2)
    try:
        changed = revoke_token(settings_for(catalog), token_id)
    except TokenError as exc:
        fail(str(exc))
    if json_out:
        print_json({"token_id": token_id, "revoked": True, "already_revoked": not changed})
    elif changed:
        console.print(f"[green]✓[/] revoked token {token_id}")
    else:
        console.print(f"token {token_id} was already revoked")


def token_list(catalog: CatalogOpt = Path("catalog"), json_out: JsonOpt = False) -> None:
    """List tokens: id, role, subject, status and dates. Never the secrets."""
    from rich.table import Table

    from collectonce.access.auth import list_tokens

    try:
        tokens = list_tokens(settings_for(catalog))
    except (OSError, ValueError) as exc:
        fail(f"cannot read the tokens file: {exc}")
    if json_out:
        print_json({"tokens": tokens})
        return
    if not tokens:
        console.print("no tokens yet: `collectonce token create --provider ODS` makes one")
        return
    table = Table()
    for name in ("id", "role", "subject", "status", "created", "expires"):
        table.add_column(name, no_wrap=True)
    table.add_column("note")
    for t in tokens:
        table.add_row(
            t["token_id"],
            t["role"],
            t["subject"] or "",
            t["status"],
            (t["created_at"] or "")[:10],
            (t["expires_at"] or "never")[:10],
            t["note"],
        )
    console.print(table)


def audit(
    tail: Annotated[int, typer.Option("--tail", min=1, help="Show the last N entries.")] = 20,
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """Show the audit log: who pulled or uploaded what, when, from which publication."""
    from rich.table import Table

    from collectonce.access.audit import read_audit

    entries = read_audit(settings_for(catalog), tail)
    if json_out:
        print_json({"entries": entries})
        return
    if not entries:
        console.print("the audit log is empty")
        return
    table = Table("time", "who", "action", "target", "version", "status", "rows")
    for e in entries:
        who = e.get("role") or "-"
        if e.get("subject"):
            who += f" {e['subject']}"
        if e.get("token_id"):
            who += f" ({e['token_id']})"
        table.add_row(
            str(e.get("time", ""))[:19],
            who,
            str(e.get("action", "")),
            str(e.get("target") or ""),
            "" if e.get("publication_version") is None else str(e["publication_version"]),
            str(e.get("status", "")),
            "" if e.get("rows") is None else str(e["rows"]),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("audit")(audit)
    token_app.command("create")(token_create)
    token_app.command("revoke")(token_revoke)
    token_app.command("list")(token_list)
    app.add_typer(token_app, name="token")
