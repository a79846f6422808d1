"""`collectonce submit | submissions list|show | ingest-landing`.

Exit codes of `submit`: 0 when anything was accepted, 1 when it was rejected, 2 for a usage
error (no such file, unknown provider, a symbolic link). A duplicate exits as its original did.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from collectonce.catalog.cli_open import open_catalog, open_with_settings
from collectonce.cli_common import (
    CatalogOpt,
    JsonOpt,
    console,
    err_console,
    fail,
    print_json,
    settings_for,
)

if TYPE_CHECKING:
    from collectonce.store.receipts import Receipt

_STATUS_STYLE = {
    "accepted": "green",
    "accepted_with_warnings": "yellow",
    "partially_accepted": "yellow",
    "rejected": "red",
    "duplicate": "cyan",
}
#: Findings printed on the terminal; the HTML report and --json have them all.
SHOWN_FINDINGS = 40

submissions_app = typer.Typer(help="Look at received submissions, their findings and quarantine.")


def submit_cmd(
    file: Annotated[str, typer.Argument(help="The file to submit (CSV, XLSX, Parquet or JSON).")],
    as_provider: Annotated[
        str | None,
        typer.Option("--as", help="Submit as this provider (ODS code): only its rows count."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything, commit nothing.")
    ] = False,
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """Submit one file and print its receipt (through the data folder's validation worker when
    one runs; the first submission starts it: COLLECTONCE_WORKER)."""
    from collectonce.ingest.door import Refused, request_for, submit

    request = request_for(file, catalog, as_provider=as_provider, dry_run=dry_run)
    settings = settings_for(catalog)
    try:
        receipt = submit(
            request,
            settings,
            lambda folder: open_catalog(folder, as_json=json_out, check_extras=False),
        )
    except Refused as exc:
        fail(str(exc), 2, as_json=json_out)
    except typer.Exit:  # the catalogue's problems, listed
        raise
    except OSError as exc:
        fail(f"could not store the submission: {exc.strerror or exc}", 1)
    except Exception as exc:  # a defect: still one line, never a traceback
        fail(
            f"the submission failed ({type(exc).__name__}: {exc}); run it again: nothing is "
            "stored twice",
            1,
        )
    if json_out:
        print_json(receipt.to_dict())
    else:
        _print_receipt(receipt)
    if receipt.exit_code:
        raise typer.Exit(receipt.exit_code)


def _print_receipt(r: Receipt, *, shown: int = SHOWN_FINDINGS) -> None:
    from rich.table import Table

    style = _STATUS_STYLE.get(r.status, "white")
    head = f"[bold {style}]{r.status}[/]"
    if r.dry_run:
        head += " [dim](dry run: nothing was stored)[/]"
    if r.status == "duplicate":
        head += (
            f" — identical to submission {r.submission_id} received "
            f"{r.received_at.isoformat()} ({r.original_status}); nothing changed"
        )
    if r.resent_because:
        again = f"attempt {r.attempt}: processed again because {r.resent_because}"
        head += f" [dim]({again})[/]"
    console.print(f"{head}  {r.original_name}  [dim]{r.submission_id}[/]", highlight=False)
    console.print(
        f"rows read {r.rows_read:,} = accepted {r.rows_accepted:,} + rejected "
        f"{r.rows_rejected:,}"
        + (f" + skipped {r.rows_skipped:,}" if r.rows_skipped else "")
        + f";  values stored {r.values_stored:,}, already held "
        f"{r.values_unchanged:,}, revisions {r.values_revised:,}",
        highlight=False,
    )
    console.print(
        f"template {r.template};  providers {', '.join(r.providers) or '-'};  "
        f"periods {_span(r.periods)}",
        highlight=False,
    )
    findings = r.findings
    if findings:
        # A terminal's width is shared out between the columns; piped output keeps each finding
        # on its own line at its own length.
        table = Table(show_lines=False, header_style="bold", expand=console.is_terminal)
        table.add_column("row", justify="right", no_wrap=True)
        table.add_column("check", overflow="fold", ratio=1)
        table.add_column("what to do", overflow="fold", ratio=3)
        for f in findings[:shown]:
            colour = "red" if f.severity == "error" else "yellow"
            where = " · ".join(str(v) for v in (f.column, f.metric) if v)
            table.add_row(
                "file" if f.row is None else str(f.row),
                f"[{colour}]{f.severity}[/] {f.rule or ''}"
                + (f"\n[dim]{where}[/]" if where else ""),
                f.message or "",
            )
        console.print(table)
        if len(findings) > shown:
            console.print(f"… and {len(findings) - shown:,} more findings (see the report).")
    if r.report:
        console.print(f"report: {r.report}", highlight=False)
    if r.quarantine:
        console.print(f"quarantine: {r.quarantine}", highlight=False)


def _span(periods: list[str]) -> str:
    if not periods:
        return "-"
    return periods[0] if len(periods) == 1 else f"{periods[0]}…{periods[-1]} ({len(periods)})"


@submissions_app.command("list")
def list_cmd(
    provider: Annotated[
        str | None, typer.Option("--provider", help="Only this provider's submissions.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only this status (accepted, rejected, …)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest first, at most.")] = 50,
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """List submissions, newest first, and any left unfinished (values stored, no receipt:
    not published until the same file is sent again)."""
    from collectonce.ingest.service import list_receipts
    from collectonce.store.receipts import STATUSES

    if status is not None and status not in STATUSES:
        fail(f"unknown status {status!r}: use one of {', '.join(STATUSES)}", 2, as_json=json_out)
    settings = settings_for(catalog)
    receipts = list_receipts(settings, provider=provider.upper() if provider else None)
    if status:
        receipts = [r for r in receipts if r.status == status]
    receipts = sorted(receipts, key=lambda r: r.received_at, reverse=True)[:limit]
    rows = [
        {
            "submission_id": r.submission_id,
            "status": r.status,
            "received_at": r.received_at.isoformat(),
            "original_name": r.original_name,
            "submitted_by": r.submitted_by,
            "providers": r.providers,
            "rows_read": r.rows_read,
            "rows_accepted": r.rows_accepted,
            "rows_rejected": r.rows_rejected,
            "errors": r.errors,
            "warnings": r.warnings,
        }
        for r in receipts
    ]
    unfinished = _unfinished(settings, provider.upper() if provider else None)
    if json_out:
        print_json({"submissions": rows, "count": len(rows), "unfinished": unfinished})
        return
    _print_unfinished(unfinished)
    if not rows:
        console.print("No submissions match.")
        return
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("submission", "status", "received", "file", "providers", "read", "rejected"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = _STATUS_STYLE.get(str(row["status"]), "white")
        table.add_row(
            str(row["submission_id"]),
            f"[{style}]{row['status']}[/]",
            str(row["received_at"])[:19],
            str(row["original_name"]),
            ", ".join(row["providers"][:5]) + ("…" if len(row["providers"]) > 5 else ""),
            f"{row['rows_read']:,}",
            f"{row['rows_rejected']:,}",
        )
    console.print(table)


def _unfinished(settings: Any, provider: str | None) -> list[dict[str, Any]]:
    """Submissions whose values were stored but whose run stopped before the receipt (a crash,
    a kill), each with the fix: send the same bytes again, as the same sender."""
    from collectonce.store.archive import archive_key, archive_meta
    from collectonce.store.storage import archive_store
    from collectonce.store.submissions import unfinished_submissions

    store = archive_store(settings)

    out = []
    for item in unfinished_submissions(settings):
        if provider and provider not in item["providers"]:
            continue
        sha = item["file_sha256"]
        parts = str(item["submission_id"]).split("_")
        as_provider = parts[2] if len(parts) > 2 else None
        meta = archive_meta(settings, sha) or {}
        name = str(meta.get("original_name") or "")
        copy = store.location(archive_key(sha))
        sender = f" --as {as_provider}" if as_provider else ""
        fix = (
            f"Send the same file again{' (' + name + ')' if name else ''}, as the same sender: "
            f"collectonce submit FILE{sender}. Its archived copy (sha256 {sha}) is "
            f"{copy}: collectonce submit {copy}{sender} finishes it. Nothing is stored twice."
        )
        received = item["received_at"]
        out.append(
            {
                **item,
                "received_at": received.isoformat() if received is not None else None,
                "original_name": name or None,
                "as_provider": as_provider,
                "archive": copy,
                "published": False,
                "fix": fix,
            }
        )
    return out


def _print_unfinished(unfinished: list[dict[str, Any]]) -> None:
    if not unfinished:
        return
    console.print(
        f"[yellow]! {len(unfinished)} submission(s) stored values but have no receipt[/] (the "
        "run stopped before it finished, or is still running): their values are not published.",
        highlight=False,
    )
    for item in unfinished:
        console.print(
            f"  {item['submission_id']}  {item['original_name'] or '(name not recorded)'}  "
            f"{item['values']:,} values for {', '.join(item['providers'][:5])} "
            f"{', '.join(item['periods'][:3])}{'…' if len(item['periods']) > 3 else ''}, "
            f"received {str(item['received_at'])[:19]}\n    fix: {item['fix']}",
            highlight=False,
            soft_wrap=True,
        )


@submissions_app.command("show")
def show_cmd(
    submission_id: Annotated[str, typer.Argument(help="The submission id (sub_…).")],
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """Show one submission: its receipt, findings, quarantine and report."""
    from collectonce.ingest.service import get_receipt
    from collectonce.store.quarantine import quarantine_contents

    settings = settings_for(catalog)
    receipt = get_receipt(settings, submission_id.strip())
    if receipt is None:
        if json_out:
            print_json({"ok": False, "error": f"no submission {submission_id}"})
        fail(f"no submission {submission_id}: `collectonce submissions list` shows the ids", 1)
    quarantine_files = [str(p) for p in quarantine_contents(settings, receipt.submission_id)]
    if json_out:
        print_json({**receipt.to_dict(), "quarantine_files": quarantine_files})
        return
    _print_receipt(receipt, shown=200)
    for path in quarantine_files:
        console.print(f"  {path}", highlight=False)


def ingest_landing_cmd(catalog: CatalogOpt = Path("catalog"), json_out: JsonOpt = False) -> None:
    """Submit every new file in the landing folder, then move each to landing/processed/."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from collectonce.ingest.landing import ingest_landing, landing_files, refused_landing_entries
    from collectonce.store.storage import landing_store

    cat, settings = open_with_settings(catalog, as_json=json_out)
    waiting = landing_files(settings)
    refused = [e.to_dict() for e in refused_landing_entries(settings)]
    if not json_out:
        for entry in refused:
            err_console.print(f"[red]refused[/] {entry['reason']}", highlight=False)
    if not waiting:
        where = landing_store(settings).location("")
        if json_out:
            print_json({"files": 0, "receipts": [], "landing": where, "refused": refused})
        else:
            console.print(f"No new files in {where}.", highlight=False)
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=json_out,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            receipts = ingest_landing(cat, settings, names=waiting, progress=progress)
        except Exception as exc:  # one line, never a traceback; a re-run is safe
            fail(
                f"ingest stopped ({type(exc).__name__}: {exc}); run it again: it is safe to re-run",
                1,
            )
    counts: dict[str, int] = {}
    for r in receipts:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = {
        "files": len(receipts),
        "statuses": counts,
        "rows_read": sum(r.rows_read for r in receipts if r.status != "duplicate"),
        "rows_accepted": sum(r.rows_accepted for r in receipts if r.status != "duplicate"),
        "rows_rejected": sum(r.rows_rejected for r in receipts if r.status != "duplicate"),
        "values_stored": sum(r.values_stored for r in receipts if r.status != "duplicate"),
    }
    if json_out:
        print_json(
            {**summary, "receipts": [_brief(r.to_dict()) for r in receipts], "refused": refused}
        )
        return
    console.print(
        f"{summary['files']} file(s): "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + f"; rows read {summary['rows_read']:,}, accepted {summary['rows_accepted']:,}, "
        f"rejected {summary['rows_rejected']:,}; values stored {summary['values_stored']:,}",
        highlight=False,
    )
    for r in receipts:
        if r.status in ("rejected", "partially_accepted"):
            console.print(
                f"  [{_STATUS_STYLE[r.status]}]{r.status}[/] {r.original_name} "
                f"({r.submission_id}): {r.rows_rejected:,} rows rejected",
                highlight=False,
            )


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "submission_id",
        "status",
        "original_name",
        "rows_read",
        "rows_accepted",
        "rows_rejected",
        "rows_skipped",
        "errors",
        "warnings",
        "report",
    )
    return {k: r.get(k) for k in keep}


def register(app: typer.Typer) -> None:
    app.command("submit")(submit_cmd)
    app.command("ingest-landing")(ingest_landing_cmd)
    app.add_typer(submissions_app, name="submissions")
