"""`collectonce publications | query | lock | late-changes | exception grant|list` (`publish` and
`view`, which reach every level, are `collectonce.rollup.publish_cli`)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from collectonce.catalog.cli_open import open_catalog
from collectonce.cli_common import (
    AsOfOpt,
    CatalogOpt,
    JsonOpt,
    console,
    fail,
    print_json,
    settings_for,
)

ByOpt = Annotated[
    str | None, typer.Option("--by", help="Who is doing this (default: the login name).")
]


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "data_team"


def publications_cmd(catalog: CatalogOpt = Path("catalog"), json_out: JsonOpt = False) -> None:
    """List every publication: version, time, catalogue version and counts."""
    from collectonce.publish.history import publications

    rows = publications(settings_for(catalog))
    if json_out:
        print_json({"publications": [row.to_dict() for row in rows]})
        return
    if not rows:
        console.print("Nothing has been published yet: run `collectonce publish`.")
        return
    from rich.table import Table

    table = Table("version", "published at", "catalogue", "rows", "derived", "late", "revised")
    for row in rows:
        counts = row.counts
        table.add_row(
            str(row.version),
            row.published_at.isoformat()[:16].replace("T", " ") if row.published_at else "",
            row.catalog_version,
            f"{counts.get('rows', 0):,}",
            f"{counts.get('derived', 0):,}",
            f"{counts.get('late', 0):,}",
            f"{counts.get('revised', 0):,}",
        )
    console.print(table)


def query_cmd(
    sql: Annotated[str, typer.Argument(help="A DuckDB query; the published table is `unified`.")],
    as_of: AsOfOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table, csv or json.", show_default=True)
    ] = "table",
    limit: Annotated[
        int, typer.Option("--limit", help="Rows shown by --format table.", show_default=True)
    ] = 50,
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """Run SQL over a publication with DuckDB, which reads the Delta table directly.

    Only queries run, and only the published table `unified` can be read: other files,
    COPY ... TO, ATTACH and INSTALL are refused.

    Example: collectonce query "SELECT metric_id, count(*) FROM unified GROUP BY 1" --as-of 0
    """
    import duckdb

    from collectonce.publish.errors import PublishError
    from collectonce.publish.exports import write_export
    from collectonce.publish.sql import QueryRefused, run_query

    fmt = "json" if json_out else fmt
    if fmt not in {"table", "csv", "json"}:
        fail(f"--format {fmt!r} is not one of: table, csv, json", 2)
    settings = settings_for(catalog)
    try:
        frame = run_query(settings, sql, as_of).to_pandas()
    except QueryRefused as exc:
        fail(f"the query was refused: {exc}", 2)
    except PublishError as exc:
        fail(str(exc))
    except duckdb.Error as exc:
        fail(f"the query failed: {str(exc).splitlines()[0]}", 2)
    if fmt in {"csv", "json"}:
        write_export(frame, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    from rich.table import Table

    table = Table(show_lines=False)
    for column in frame.columns:
        table.add_column(str(column))
    for values in frame.head(limit).itertuples(index=False):
        table.add_row(*("" if v is None or v != v else str(v) for v in values))
    console.print(table)
    if len(frame) > limit:
        console.print(f"{len(frame) - limit:,} more rows: use --format csv for all of them.")


def lock_cmd(
    up_to: Annotated[str, typer.Option("--up-to", help="Lock every period up to YYYY-MM.")],
    by: ByOpt = None,
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """Lock published periods: later changes to them need an exception to be published."""
    from collectonce.publish.errors import PublishError
    from collectonce.publish.locks import lock_periods

    try:
        lock = lock_periods(settings_for(catalog), up_to, _who(by))
    except PublishError as exc:
        fail(str(exc), 2)
    if json_out:
        print_json({"ok": True, **lock.to_dict()})
    elif lock.created:
        console.print(f"[green]✓[/] periods up to {lock.up_to} are locked.")
    else:
        console.print(f"Already locked up to {lock.up_to} since {lock.locked_at:%Y-%m-%d %H:%M}.")


def late_changes_cmd(catalog: CatalogOpt = Path("catalog"), json_out: JsonOpt = False) -> None:
    """List changes to locked periods: held back, or admitted by an exception."""
    from collectonce.publish.errors import PublishError
    from collectonce.publish.exports import to_records
    from collectonce.publish.locks import late_changes

    try:
        changes = late_changes(settings_for(catalog))
    except PublishError as exc:
        fail(str(exc))
    if "period" in changes and len(changes):
        changes = changes.assign(period=changes["period"].dt.strftime("%Y-%m"))
    if json_out:
        print_json({"changes": to_records(changes)})
        return
    if changes.empty:
        console.print("No changes to locked periods.")
        return
    for row in to_records(changes):
        console.print(
            f"{row['decision']}: {row['provider_code']} {row['period']} {row['metric_id']} "
            f"{row['locked_value']} → {row['new_value']} ({row['submission_id']})",
            highlight=False,
        )


exception_app = typer.Typer(help="Late-change exceptions for locked periods.")


@exception_app.command("grant")
def exception_grant(
    provider: Annotated[str, typer.Option("--provider", help="The provider's ODS code.")],
    period: Annotated[str, typer.Option("--period", help="The locked month, YYYY-MM.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the change is allowed.")],
    by: ByOpt = None,
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """Allow a provider's changes to one locked period into the next publication."""
    from collectonce.publish.errors import PublishError
    from collectonce.publish.locks import grant_exception

    cat = open_catalog(catalog, as_json=json_out)
    code = provider.strip().upper()
    if code and code not in cat.providers:
        fail(f"there is no provider {code} in the catalogue", 2)
    try:
        grant = grant_exception(settings_for(catalog), code, period, reason, _who(by))
    except PublishError as exc:
        fail(str(exc), 2)
    if json_out:
        print_json({"ok": True, **grant.to_dict()})
    else:
        console.print(
            f"[green]✓[/] {grant.provider} may change {grant.period}; "
            "the change shows as a revision at the next `collectonce publish`."
        )


@exception_app.command("list")
def exception_list(catalog: CatalogOpt = Path("catalog"), json_out: JsonOpt = False) -> None:
    """List the locks and the exceptions granted."""
    from collectonce.publish.errors import PublishError
    from collectonce.publish.locks import load_locks

    try:
        state = load_locks(settings_for(catalog))
    except PublishError as exc:
        fail(str(exc))
    if json_out:
        print_json(state.to_dict())
        return
    for lock in state.locks:
        console.print(
            f"lock: up to {lock.up_to} since {lock.locked_at:%Y-%m-%d %H:%M} by {lock.by}"
        )
    for grant in state.exceptions:
        console.print(
            f"exception: {grant.provider} {grant.period} by {grant.by}: {grant.reason}",
            highlight=False,
        )
    if not state.locks and not state.exceptions:
        console.print("No locks and no exceptions.")


def register(app: typer.Typer) -> None:
    """Add the publish-stage commands to the `collectonce` app."""
    app.command("publications")(publications_cmd)
    app.command("query")(query_cmd)
    app.command("lock")(lock_cmd)
    app.command("late-changes")(late_changes_cmd)
    app.add_typer(exception_app, name="exception")
