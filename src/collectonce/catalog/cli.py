"""`collectonce catalog check|generate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collectonce.catalog.cli_open import open_catalog
from collectonce.cli_common import CatalogOpt, JsonOpt, console, print_json

app = typer.Typer(help="Check the catalogue and generate the contracts built from it.")


@app.command("check")
def check(catalog: CatalogOpt = Path("catalog"), json_out: JsonOpt = False) -> None:
    """Validate every catalogue file and every cross-reference. Exit 1 on any problem."""
    cat = open_catalog(catalog, as_json=json_out)
    summary = {
        "ok": True,
        "version": cat.version,
        "fingerprint": cat.fingerprint,
        "metrics": len(cat.metrics),
        "collected_metrics": len(cat.collected_metrics),
        "derived_metrics": sum(m.is_derived for m in cat.metrics.values()),
        "requests": len(cat.requests),
        "requesters": len(cat.requesters),
        "items": sum(len(r.items) for r in cat.requests.values()),
        "providers": len(cat.providers),
        "regions": len([r for r in cat.regions if r != cat.levels.unassigned_label]),
        "aggregations": {
            how: sum(m.rolls_up == how for m in cat.metrics.values())
            for how in ("sum", "recompute", "none")
        },
        "warnings": [w.to_dict() for w in cat.warnings],
    }
    if json_out:
        print_json(summary)
        return
    for warning in cat.warnings:
        console.print(f"[yellow]![/] {warning}", highlight=False, soft_wrap=True)
    console.print(
        f"[green]✓[/] catalogue {cat.version} is valid: {summary['metrics']} metrics "
        f"({summary['derived_metrics']} derived), {summary['requests']} requests from "
        f"{summary['requesters']} requesters, {summary['items']} items, "
        f"{summary['providers']} providers."
    )
    rolls = summary["aggregations"]
    console.print(
        f"  roll-ups to {summary['regions']} regions and England: {rolls['sum']} metrics summed, "
        f"{rolls['recompute']} recomputed from their numerator and denominator, "
        f"{rolls['none']} not rolled up (coverage threshold {cat.levels.coverage_threshold:.0%})."
    )


@app.command("generate")
def generate(
    catalog: CatalogOpt = Path("catalog"),
    out: Annotated[Path, typer.Option("--out", help="Where the contracts go.")] = Path("schemas"),
    check_only: Annotated[
        bool, typer.Option("--check", help="Fail if the committed contracts are stale.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Write schemas/ from the catalogue, or with --check fail when it is out of date."""
    from collectonce.catalog.generate import generate_contracts, stale_contracts, write_contracts

    cat = open_catalog(catalog, as_json=json_out)
    files = generate_contracts(cat)
    if check_only:
        stale = stale_contracts(files, out)
        if json_out:
            print_json({"ok": not stale, "stale": stale})
        if stale:
            if not json_out:
                for name in stale:
                    what = "is stale or missing" if name in files else "is no longer generated"
                    console.print(f"[red]✗[/] {out / name} {what}")
                console.print("Run `collectonce catalog generate` and commit the result.")
            raise typer.Exit(1)
        if not json_out:
            console.print(f"[green]✓[/] {len(files)} contracts in {out} are up to date.")
        return
    written = write_contracts(files, out)
    if json_out:
        print_json({"ok": True, "written": written})
    else:
        removed = sum(name not in files for name in written)
        note = f", removed {removed} no longer generated" if removed else ""
        console.print(
            f"[green]✓[/] wrote {len(written) - removed} changed file(s) of {len(files)} to "
            f"{out}{note}"
        )
