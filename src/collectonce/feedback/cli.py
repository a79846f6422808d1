"""`collectonce pack`, `collectonce packs` and `collectonce overview`.

Heavy imports (pandas, the SPC engine, Delta Lake) happen inside the commands so that
`collectonce --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from collectonce.catalog.cli_open import open_with_settings
from collectonce.cli_common import CatalogOpt, JsonOpt, console, fail, print_json


def pack(
    provider: Annotated[
        str | None, typer.Option("--provider", help="The provider's ODS code.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the pack (default: the data folder's packs/ODS)."),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="A region's pack instead, rolled up.")
    ] = None,
    england: Annotated[
        bool, typer.Option("--england", help="England's pack instead, rolled up.")
    ] = False,
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """Build one provider's feedback pack (HTML, XLSX, CSV) from the latest publication, or
    with --region NAME or --england the pack of a region or of England (HTML)."""
    from collectonce.feedback.errors import PackError
    from collectonce.feedback.rebuild import build_provider_pack

    if sum(x is not None and x is not False for x in (provider, region, england)) != 1:
        fail("give exactly one of --provider ODS, --region NAME or --england", as_json=json_out)
    cat, settings = open_with_settings(catalog, as_json=json_out)
    if provider is None:
        from collectonce.feedback.level_pack import write_level_pack_cli

        write_level_pack_cli(cat, settings, region, out, json_out)
        return
    try:
        paths = build_provider_pack(cat, settings, provider, out_dir=out)
    except PackError as exc:
        fail(str(exc), as_json=json_out)
    except OSError as exc:
        fail(f"cannot write the pack: {exc.strerror or exc}", as_json=json_out)
    ods = provider.strip().upper()
    if json_out:
        print_json({"ok": True, "provider": ods, "paths": {k: str(v) for k, v in paths.items()}})
        return
    console.print(f"[green]✓[/] feedback pack for {ods}:")
    for kind, path in paths.items():
        console.print(f"  {kind:<5} {path}", highlight=False, soft_wrap=True)


def packs(
    rebuild_all: Annotated[
        bool, typer.Option("--all", help="Rebuild every pack, changed or not.")
    ] = False,
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """Rebuild the packs of every provider whose data changed since the last build."""
    import time

    from collectonce.feedback.errors import PackError
    from collectonce.feedback.rebuild import build_all_packs
    from collectonce.feedback.sources import load_publication

    cat, settings = open_with_settings(catalog, as_json=json_out)
    start = time.perf_counter()
    try:
        unified, info = load_publication(settings)
    except PackError as exc:
        fail(str(exc), as_json=json_out)
    present = set(unified["provider_code"].astype(str).unique())
    providers = sorted(p for p in cat.providers if p in present)
    skipped: list[str] = []

    try:
        with _pack_bar(len(providers), shown=not json_out and console.is_terminal) as advance:

            def tick(ods: str, done: bool) -> None:
                if not done:
                    skipped.append(ods)
                advance(ods)

            built = build_all_packs(
                cat,
                settings,
                providers,
                changed_only=not rebuild_all,
                unified=unified,
                publication=info,
                progress=tick,
            )
    except PackError as exc:
        fail(str(exc), as_json=json_out)
    except OSError as exc:
        fail(f"cannot write the packs: {exc.strerror or exc}", as_json=json_out)
    seconds = round(time.perf_counter() - start, 2)
    if json_out:
        print_json(
            {
                "ok": True,
                "publication_version": info.get("version"),
                "built": built,
                "unchanged": skipped,
                "packs_dir": str(settings.packs_dir),
                "seconds": seconds,
            }
        )
        return
    console.print(
        f"[green]✓[/] built {len(built)} pack(s), {len(skipped)} unchanged, in {seconds} s "
        f"→ {settings.packs_dir}",
        highlight=False,
        soft_wrap=True,
    )


def overview(
    metric: Annotated[str, typer.Option("--metric", help="The metric code.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the overview page to this HTML file.")
    ] = None,
    by: Annotated[
        str, typer.Option("--by", help="provider, or region: the matrix grouped by region.")
    ] = "provider",
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """The Making Data Count matrix of one metric across every provider (or by region)."""
    from collectonce.feedback.errors import PackError
    from collectonce.feedback.exports import replace_bytes
    from collectonce.feedback.overview import (
        VARIATION_ROWS,
        build_overview,
        overview_matrix,
        overview_to_dict,
        render_overview_html,
    )

    cat, settings = open_with_settings(catalog, as_json=json_out)
    try:
        table, info = build_overview(cat, settings, metric)
    except PackError as exc:
        fail(str(exc), as_json=json_out)
    if by.strip().lower() != "provider":
        from collectonce.feedback.overview_cli import overview_by_region_cli

        overview_by_region_cli(cat, settings, metric, table, info, by, out, json_out)
        return
    if out is not None:
        if out.is_dir():
            fail(f"{out} is a folder: give a file name such as overview.html", as_json=json_out)
        try:
            html = render_overview_html(cat, table, metric, info)
            replace_bytes(out, html.encode("utf-8"))
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}", as_json=json_out)
    if json_out:
        result = overview_to_dict(cat, table, metric, info)
        if out is not None:
            result["html"] = str(out)
        print_json({"ok": True, **result})
        return
    from rich.table import Table

    grid = Table(title=f"{metric}: providers by variation × assurance", show_lines=False)
    grid.add_column("variation")
    labels = {
        "consistent_pass": "passing",
        "inconsistent": "hit and miss",
        "consistent_fail": "failing",
        "not_assessed": "not assessed",
    }
    for label in labels.values():
        grid.add_column(label, justify="right")
    grid.add_column("total", justify="right")
    names = dict(VARIATION_ROWS)
    for row in overview_matrix(table):
        grid.add_row(
            names[row["variation"]],
            *(str(row["cells"][k]["count"]) for k in labels),
            str(row["total"]),
        )
    console.print(grid)
    console.print(f"{len(table)} provider(s) with data for {metric}.")
    if out is not None:
        console.print(f"[green]✓[/] wrote {out}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("pack")(pack)
    app.command("packs")(packs)
    app.command("overview")(overview)


@contextmanager
def _pack_bar(total: int, *, shown: bool) -> Iterator[Callable[[str], None]]:
    """A progress bar over the packs on a terminal (nothing otherwise); yields its step."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    if not shown:
        yield lambda ods: None
        return
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("Building packs", total=total)
        yield lambda ods: bar.update(task, advance=1, description=f"Pack {ods}")
