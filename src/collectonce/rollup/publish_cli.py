"""`collectonce publish` and `collectonce view`: publishing and reading at every level, the
provider table with its regional and England roll-ups (`collectonce.rollup.publishing`).

Registered before the publish stage's other commands, so the help lists them first."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from collectonce.catalog.cli_open import open_with_settings
from collectonce.cli_common import (
    AsOfOpt,
    CatalogOpt,
    JsonOpt,
    PeriodFromOpt,
    PeriodToOpt,
    console,
    fail,
    print_json,
)


def publish_cmd(catalog: CatalogOpt = Path("catalog"), json_out: JsonOpt = False) -> None:
    """Publish the current accepted values (and derived metrics) as one versioned commit, with
    the regional and England roll-ups."""
    from collectonce.publish.errors import PublishError
    from collectonce.rollup.publishing import publish_all

    cat, settings = open_with_settings(catalog, as_json=json_out)
    try:
        result = publish_all(cat, settings)
    except PublishError as exc:
        fail(str(exc), as_json=json_out)
    if json_out:
        print_json({"ok": True, **result.to_dict()})
        return
    counts = result.counts
    if result.created:
        console.print(
            f"[green]✓[/] published version {result.version}: {counts.get('rows', 0):,} rows "
            f"({counts.get('derived', 0):,} derived) for {counts.get('providers', 0)} providers, "
            f"catalogue {result.catalog_version}."
        )
    else:
        console.print(
            f"Nothing new to publish: version {result.version} is current "
            f"({counts.get('rows', 0):,} rows)."
        )
    if counts.get("held_back"):
        console.print(
            f"[yellow]![/] {counts['held_back']} change(s) to locked periods held back: "
            "see `collectonce late-changes`."
        )


def view_cmd(
    request: Annotated[str, typer.Argument(help="The request code, e.g. nhse_ae_monthly.")],
    period_from: PeriodFromOpt = None,
    period_to: PeriodToOpt = None,
    as_of: AsOfOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", help="csv, json, parquet or xlsx.", show_default=True)
    ] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    catalog: CatalogOpt = Path("catalog"),
) -> None:
    """Print or write a request's view: its own codes, frequency and items only.

    csv and json go to stdout unless --out is given; parquet and xlsx go to --out, or to
    exports/ in the data folder (the path is printed).
    """
    from collectonce.publish.errors import BadParameter, PublishError
    from collectonce.publish.exports import FORMATS, write_export
    from collectonce.rollup.publishing import render_request_view

    if fmt not in FORMATS:
        fail(f"--format {fmt!r} is not one of: {', '.join(FORMATS)}", 2)
    cat, settings = open_with_settings(catalog)
    try:
        df = render_request_view(cat, settings, request, period_from, period_to, as_of=as_of)
    except PublishError as exc:
        fail(str(exc), 2 if isinstance(exc, BadParameter) else 1)
    meta: dict[str, Any] = {
        "request": request,
        "publication": df.attrs.get("publication"),
        "period_from": period_from,
        "period_to": period_to,
    }
    if out is None and fmt in {"csv", "json"}:
        write_export(df, fmt, sys.stdout.buffer, meta=meta)
        sys.stdout.buffer.flush()
        return
    if out is None:
        span = f"{period_from or 'start'}_{period_to or 'end'}"
        out = settings.root / "exports" / f"{request}_{span}_v{meta['publication']}.{fmt}"
    try:
        units = {code: metric.unit for code, metric in cat.metrics.items()}
        write_export(df, fmt, out, meta=meta, units=units)
    except PublishError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    console.print(str(out), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `publish` and `view` to the `collectonce` app."""
    app.command("publish")(publish_cmd)
    app.command("view")(view_cmd)
