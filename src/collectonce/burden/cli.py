"""`collectonce requests overlap|dedupe|suggest`, `collectonce plan` and `collectonce burden`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collectonce.catalog.cli_open import open_catalog
from collectonce.cli_common import CatalogOpt, JsonOpt, console, fail, print_json
from collectonce.dedupe.cli import dedupe, suggest


def overlap(catalog: CatalogOpt = Path("catalog"), json_out: JsonOpt = False) -> None:
    """The dedupe table: which items across requests are the same metric."""
    from rich.table import Table

    from collectonce.burden.overlap import overlap_summary, overlap_table, records

    cat = open_catalog(catalog, as_json=json_out)
    table = overlap_table(cat)
    summary = overlap_summary(cat, table)
    unmapped = sum(not i.is_mapped for r in cat.requests.values() for i in r.items)
    if json_out:
        print_json(
            {
                "catalog_version": cat.version,
                "rows": records(table),
                "summary": records(summary),
                "unmapped_items": unmapped,
            }
        )
        return
    out = Table(title=f"Items that are the same metric (catalogue {cat.version})", show_lines=True)
    out.add_column("metric", style="bold")
    out.add_column("requesters", justify="right")
    out.add_column("requests", justify="right")
    out.add_column("items asked for (request · their code · their label)")
    by_metric: dict[str, list[str]] = {}
    for i in table.itertuples(index=False):
        by_metric.setdefault(str(i.metric), []).append(
            f"{i.request} · {i.their_code} · {i.their_label} ({i.frequency})"
        )
    for row in summary.itertuples(index=False):
        lines = by_metric.get(str(row.metric), [])
        label = f"{row.metric}\n[dim]{row.metric_label}{' (derived)' if row.is_derived else ''}[/]"
        out.add_row(label, str(row.requesters), str(row.requests), "\n".join(lines))
    console.print(out)
    shared = int((summary["requests"] > 1).sum())
    console.print(
        f"{len(table)} mapped items rest on {len(summary)} metrics; {shared} metrics are asked "
        f"for by more than one request. {unmapped} unmapped item(s): see "
        "`collectonce requests suggest` and `collectonce requests dedupe`."
    )


def plan(
    provider: Annotated[str, typer.Option("--provider", help="The provider's ODS code.")],
    period: Annotated[str, typer.Option("--period", help="The month, as YYYY-MM.")],
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
    csv_template: Annotated[
        Path | None, typer.Option("--csv-template", help="Write the CSV template here.")
    ] = None,
    xlsx_template: Annotated[
        Path | None, typer.Option("--xlsx-template", help="Write the XLSX template here.")
    ] = None,
) -> None:
    """What a provider owes for a month: each collected metric once, why and for whom."""
    from collectonce.burden.plan import collection_plan
    from collectonce.burden.plan_model import PlanError, parse_period
    from collectonce.burden.templates import write_csv_template, write_xlsx_template

    try:
        parse_period(period)
    except PlanError as exc:
        fail(str(exc), exc.exit_code, as_json=json_out)
    cat = open_catalog(catalog, as_json=json_out)
    try:
        result = collection_plan(cat, provider, period)
    except PlanError as exc:
        fail(str(exc), exc.exit_code, as_json=json_out)
    written: dict[str, str] = {}
    for kind, target, writer in (
        ("csv_template", csv_template, write_csv_template),
        ("xlsx_template", xlsx_template, write_xlsx_template),
    ):
        if target is None:
            continue
        try:
            written[kind] = str(writer(result, target))
        except OSError as exc:
            fail(f"cannot write {target}: {exc.strerror or exc}", as_json=json_out)
    if json_out:
        print_json({**result.to_dict(), **written})
        return
    _print_plan(result)
    for kind, path in written.items():
        console.print(f"[green]✓[/] wrote the {kind.replace('_', ' ')} to {path}")


def _print_plan(result: object) -> None:
    from rich.markup import escape
    from rich.table import Table

    d = result.to_dict()  # type: ignore[attr-defined]
    name = f" {d['provider_name']}" if d["provider_name"] else ""
    console.print(
        f"[bold]{d['provider']}{name}[/] ({d['peer_group']}) owes for {d['period']} "
        f"(catalogue {d['catalog_version']}):"
    )
    if not d["requests_due"]:
        console.print("No requests are due for this provider in this month.")
        return
    due = Table(title="Requests served by this one submission")
    for column in ("requester", "request", "reporting period", "items", "due"):
        due.add_column(column)
    for r in d["requests_due"]:
        due.add_row(
            r["requester_name"], r["request"], r["reporting_period"], str(r["items"]), r["due"]
        )
    console.print(due)
    items = Table(title="Collect each metric once", show_lines=True)
    for column in ("metric", "periods", "due", "used by", "why collected"):
        items.add_column(column)
    for item in d["items"]:
        later: dict[str, set[str]] = {}
        now = {u["requester"] for u in item["requests"] if u["due_now"]}
        for u in item["requests"]:
            if not u["due_now"] and u["requester"] not in now:
                later.setdefault(u["requester"], set()).add(u["reporting_period"])
        used_by = [
            r["name"]
            + (f" [dim](in {', '.join(sorted(later[r['code']]))})[/]" if r["code"] in later else "")
            for r in item["requesters"]
        ]
        items.add_row(
            f"{escape(item['metric'])}\n[dim]{escape(item['label'])} ({item['unit']})[/]",
            ", ".join(item["periods"]),
            item["due"],
            "\n".join(used_by),
            escape(item["why_collected"]),
        )
    console.print(items)
    s = d["summary"]
    console.print(
        f"{s['items_requested']} requested items → {s['metrics_to_collect']} metrics to collect "
        f"({s['template_rows']} template rows); {s['items_computed_from_derived_metrics']} items "
        "are computed from them, not collected."
    )
    for u in d["unmapped_items"]:
        console.print(
            f"[yellow]•[/] still on {u['request']}'s own form: {u['their_code']} "
            f"{u['their_label']} ({u['reason']})"
        )


def burden(
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the Markdown and HTML report (default: reports)."),
    ] = None,
) -> None:
    """Burden before and after collect-once, per provider, per requester and in total."""
    from rich.table import Table

    from collectonce.burden.model import compute_burden
    from collectonce.burden.report import write_burden_report
    from collectonce.cli_common import settings_for

    cat = open_catalog(catalog, as_json=json_out)
    report = compute_burden(cat)
    savings = _dedupe_savings(cat)
    out_dir = out if out is not None else settings_for(catalog).reports_dir
    try:
        paths = write_burden_report(report, out_dir, savings)
    except OSError as exc:
        fail(f"cannot write the report to {out_dir}: {exc.strerror or exc}", as_json=json_out)
    d = report.to_dict()
    if json_out:
        print_json(
            {**d, "dedupe_savings": savings, "reports": {k: str(v) for k, v in paths.items()}}
        )
        return
    head = Table(title=f"Reporting burden per year (catalogue {cat.version})")
    for column in ("", "before", "after", "saved"):
        head.add_column(column, justify="left" if not column else "right")
    avg = d["per_provider_average"]
    head.add_row(
        "hours, all providers",
        f"{d['hours_before']:,.1f}",
        f"{d['hours_after']:,.1f}",
        f"{d['hours_saved']:,.1f} ({d['reduction_pct']:.1f}%)",
    )
    head.add_row(
        "cost, all providers",
        f"£{d['cost_before_gbp']:,.0f}",
        f"£{d['cost_after_gbp']:,.0f}",
        f"£{d['cost_saved_gbp']:,.0f}",
    )
    head.add_row(
        "hours per provider",
        f"{avg['hours_before']:,.1f}",
        f"{avg['hours_after']:,.1f}",
        f"{avg['hours_saved']:,.1f}",
    )
    head.add_row(
        "items",
        f"{d['items_requested']} requested",
        f"{d['unique_items']} unique",
        f"ratio {d['unique_items_ratio']:.3f}",
    )
    console.print(head)
    per = Table(title="Per requester (hours after attributed in proportion to use)")
    for column in ("requester", "items", "hours before", "hours after", "saved"):
        per.add_column(column, justify="left" if column == "requester" else "right")
    for r in d["per_requester"]:
        per.add_row(
            r["name"],
            str(r["items"]),
            f"{r['hours_before']:,.1f}",
            f"{r['hours_after']:,.1f}",
            f"{r['hours_saved']:,.1f} ({r['reduction_pct']:.1f}%)",
        )
    console.print(per)
    for t in d["targets"]:
        mark = "[green]✓ met[/]" if t["met"] else f"[red]✗ short by {t['gap']:.1f}[/]"
        console.print(f"target {t['measure']}: {t['actual']:.1f} against {t['target']:g} {mark}")
    from collectonce.burden.report import savings_text

    console.print(savings_text(savings), highlight=False)
    console.print(
        f"{d['items_served_from_catalogue_pct']:.1f}% of requested items are served from the "
        f"catalogue. Report: {paths['html']} and {paths['markdown']}"
    )


def _dedupe_savings(cat: object) -> dict[str, object]:
    """What accepting the duplicate clusters would save, or why it was not worked out."""
    from collectonce.burden.savings import dedupe_savings
    from collectonce.dedupe.rules import RulesInvalid
    from collectonce.dedupe.run import analyse

    try:
        return dedupe_savings(cat, analyse(cat))  # type: ignore[arg-type]
    except RulesInvalid as exc:
        return {"reason": f"not analysed: {exc.problems[0].message} ({exc.problems[0].file})"}


def register(app: typer.Typer) -> None:
    """Add `requests overlap|suggest`, `plan` and `burden` to the main app."""
    requests_app = typer.Typer(
        help="The request register: declared overlap, duplicate requests and suggested mappings.",
        no_args_is_help=True,
    )
    requests_app.command("overlap")(overlap)
    requests_app.command("dedupe")(dedupe)
    requests_app.command("suggest")(suggest)
    app.add_typer(requests_app, name="requests")
    app.command("plan")(plan)
    app.command("burden")(burden)
