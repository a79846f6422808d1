"""`collectonce requests dedupe` and `collectonce requests suggest` (a view of the same engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from collectonce.catalog.cli_open import open_catalog
from collectonce.cli_common import CatalogOpt, JsonOpt, console, err_console, fail, print_json


def _analyse(catalog: Any, register: Path | None, as_json: bool) -> Any:
    from collectonce.dedupe.register import RegisterError
    from collectonce.dedupe.rules import RulesInvalid
    from collectonce.dedupe.run import analyse

    try:
        result = analyse(catalog, register)
    except RegisterError as exc:
        fail(str(exc), as_json=as_json)
    except RulesInvalid as exc:
        fail("; ".join(str(p) for p in exc.problems), as_json=as_json)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    return result


RegisterOpt = Annotated[
    Path | None,
    typer.Option(
        "--register",
        help="An outside register (CSV or XLSX) with columns requester, request, item_code, "
        "label and optional definition, unit, frequency.",
    ),
]


def dedupe(
    catalog: CatalogOpt = Path("catalog"),
    register: RegisterOpt = None,
    json_out: JsonOpt = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the review page for approvers here.")
    ] = None,
    accept: Annotated[
        list[str] | None,
        typer.Option(
            "--accept", help="Accept this cluster id: write its mapping into the catalogue."
        ),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="With --accept: map to this catalogue metric instead."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Clusters to print (0 = all).")] = 40,
) -> None:
    """Find the requested items that ask for the same figure, across every request.

    Every item of every request in the catalogue (mapped or not) is compared with every other,
    and with an outside register if given. Pairs whose facets conflict are vetoed; the rest are
    scored and clustered, each cluster naming its catalogue metric or proposing a new one.
    """
    cat = open_catalog(catalog, as_json=json_out)
    result = _analyse(cat, register, json_out)
    if accept:
        _accept(result, accept, catalog, metric, json_out)
        return
    if metric is not None:
        fail("--metric goes with --accept CLUSTER", as_json=json_out)
    arg = f" --register {register}" if register else ""
    if html is not None:
        from collectonce.dedupe.render import render_html

        try:
            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(render_html(result, register_arg=arg), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {html}: {exc.strerror or exc}", as_json=json_out)
    if json_out:
        data = result.to_dict()
        if html is not None:
            data["summary"]["html"] = str(html)
        print_json(data)
        return
    from collectonce.dedupe.render import print_queue

    print_queue(result, console, limit=limit or None, register_arg=arg)
    if html is not None:
        console.print(f"[green]✓[/] wrote the review page to {html}")


def _accept(
    result: Any, clusters: list[str], catalog: Path, metric: str | None, as_json: bool
) -> None:
    from collectonce.dedupe.accept import AcceptError, accept_cluster

    reports = []
    for cid in clusters:
        try:
            report = accept_cluster(result, cid, catalog, metric=metric)
        except AcceptError as exc:
            fail(str(exc), as_json=as_json)
        reports.append(report)
        if not report.ok:
            break
    ok = all(r.ok for r in reports)
    if as_json:
        print_json({"ok": ok, "accepted": [r.to_dict() for r in reports]})
    else:
        for r in reports:
            if not r.ok:
                for p in r.problems:
                    err_console.print(f"[red]✗[/] {p}", highlight=False, soft_wrap=True)
                err_console.print(
                    f"[bold red]cluster {r.cluster} not accepted:[/] the catalogue check failed, "
                    "so every file was put back as it was"
                )
                continue
            console.print(
                f"[green]✓[/] cluster {r.cluster} accepted: {len(r.mapped)} item(s) now map to "
                f"{r.metric}; {len(r.already)} already did."
            )
            if r.new_metric_file:
                console.print(
                    f"  new draft metric {r.new_metric_file}: write its definition and make it "
                    "active once agreed"
                )
            for f in r.files_created:
                console.print(f"  created {f}")
            for f in r.files_changed:
                console.print(f"  changed {f}")
        if ok:
            console.print(
                "[green]✓[/] the catalogue check passes. Run `collectonce catalog generate` and "
                "commit the catalogue and schemas/."
            )
    if not ok:
        raise typer.Exit(1)


def suggest(
    catalog: CatalogOpt = Path("catalog"),
    register: RegisterOpt = None,
    min_score: Annotated[
        float,
        typer.Option(
            "--min-score", min=0.0, max=1.0, help="Only show suggestions scoring at least this."
        ),
    ] = 0.5,
    json_out: JsonOpt = False,
) -> None:
    """Proposed mappings for unmapped or suspicious items (the same engine as dedupe)."""
    from rich.table import Table

    from collectonce.dedupe.suggest import suggestions

    cat = open_catalog(catalog, as_json=json_out)
    result = _analyse(cat, register, json_out)
    rows = suggestions(result, min_score=min_score)
    if json_out:
        print_json({"catalog_version": cat.version, "min_score": min_score, "suggestions": rows})
        return
    if not rows:
        console.print(f"No suggestions scoring {min_score:.2f} or more.")
        return
    out = Table(title=f"Suggested mappings (score ≥ {min_score:.2f})", show_lines=True)
    for name in ("kind", "item", "now", "suggested", "score", "why"):
        out.add_column(name, justify="right" if name == "score" else "left")
    for row in rows:
        out.add_row(
            row["kind"],
            f"{row['request']} · {row['their_code']}\n[dim]{row['their_label']}[/]",
            str(row["current_metric"] or "—"),
            str(row["suggested_metric"] or "new metric"),
            f"{row['score']:.2f}",
            row["reason"],
        )
    console.print(out)
