"""`collectonce rollup`: one metric at a region or England, with coverage and SPC verdicts; and
`collectonce publish` and `view`, which reach every level (registered by
`collectonce.rollup.publish_cli`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from collectonce.catalog.cli_open import open_catalog
from collectonce.cli_common import (
    AsOfOpt,
    CatalogOpt,
    JsonOpt,
    PeriodFromOpt,
    PeriodToOpt,
    console,
    fail,
    print_json,
    settings_for,
)


def _fail(message: str, as_json: bool, code: int = 1) -> NoReturn:
    if as_json:
        print_json({"ok": False, "error": message})
    fail(message, code)


def rollup(
    metric: Annotated[str, typer.Option("--metric", help="The metric code.")],
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            help="region (the default), england, or icb when providers.csv "
            "names integrated care boards.",
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="Only this region (level region).")
    ] = None,
    icb: Annotated[
        str | None, typer.Option("--icb", help="Only this integrated care board (level icb).")
    ] = None,
    period_from: PeriodFromOpt = None,
    period_to: PeriodToOpt = None,
    as_of: AsOfOpt = None,
    catalog: CatalogOpt = Path("catalog"),
    json_out: JsonOpt = False,
) -> None:
    """A metric rolled up from its providers to each region or to England.

    Counts are summed; ratios are recomputed from the summed numerator and denominator, never
    averaged; a metric that cannot be added up (a median, a mean) is refused. Each value says
    how many providers contributed of how many expected, and is partial below the catalogue's
    coverage threshold (levels.yaml); partial periods are left out of the SPC limits.
    """
    from collectonce.publish.errors import PublishError
    from collectonce.rollup.errors import RollupError
    from collectonce.rollup.levels import resolve_code
    from collectonce.rollup.query import rows_to_dicts, select_rollups

    cat = open_catalog(catalog, as_json=json_out)
    settings = settings_for(catalog)
    named = {"region": region, "icb": icb}
    given = [k for k, v in named.items() if v is not None]
    if len(given) > 1:
        _fail("give one of --region or --icb", json_out, 2)
    level = (level or (given[0] if given else "region")).strip().lower()
    try:
        codes = None
        if given:
            if level != given[0]:
                _fail(f"--{given[0]} goes with --level {given[0]}", json_out, 2)
            codes = [resolve_code(cat, level, str(named[level]))]
        rows, version = select_rollups(
            cat,
            settings,
            metric=metric,
            level=level,
            period_from=period_from,
            period_to=period_to,
            as_of=as_of,
            codes=codes,
        )
    except (RollupError, PublishError) as exc:
        _fail(str(exc), json_out)
    if json_out:
        print_json({"rows": rows_to_dicts(cat, rows)})
        return
    _print_table(cat, metric, level, rows, version)


def _print_table(cat: object, metric: str, level: str, rows: object, version: int) -> None:
    from rich.table import Table

    from collectonce.feedback.wording import format_value
    from collectonce.rollup.query import rows_to_dicts
    from collectonce.rollup.series import level_spc, verdicts

    m = cat.metrics[metric]  # type: ignore[attr-defined]
    threshold = cat.levels.coverage_threshold  # type: ignore[attr-defined]
    records = rows_to_dicts(cat, rows)  # type: ignore[arg-type]
    table = Table(title=f"{m.label} by {level} (publication v{version})")
    for name, justify in (
        (level, "left"),
        ("period", "left"),
        ("value", "right"),
        ("providers", "right"),
        ("expected", "right"),
        ("coverage", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in records:
        table.add_row(
            r["code"],
            r["period"],
            format_value(r["value"], m) if r["value"] is not None else "no value",
            str(r["providers"]),
            str(r["providers_expected"]),
            "[yellow]partial[/]" if r["partial"] else "complete",
        )
    console.print(table)
    if not records:
        console.print("no roll-ups for this metric, level and range")
        return
    _points, summary = level_spc(cat, rows)  # type: ignore[arg-type]
    found = verdicts(summary)
    console.print(f"SPC verdict per {level} (partial periods left out of the limits):")
    for code in dict.fromkeys(r["code"] for r in records):
        v = found.get((code, metric))
        if v is None:
            console.print(f"  {code}: too few complete periods for SPC")
            continue
        console.print(
            f"  {code}: variation {v['variation_text'].lower()}; "
            f"assurance {v['assurance_text'].lower()}",
            highlight=False,
        )
    console.print(
        f"A value is partial when fewer than {threshold:.0%} of the providers expected reported.",
        highlight=False,
    )


def publish_cmd(catalog: CatalogOpt = Path("catalog"), json_out: JsonOpt = False) -> None:
    """Publish the current accepted values (and derived metrics) as one versioned commit, with
    the regional and England roll-ups."""
    from collectonce.publish.errors import PublishError
    from collectonce.rollup.publishing import publish_all

    cat = open_catalog(catalog, as_json=json_out)
    settings = settings_for(catalog)
    try:
        result = publish_all(cat, settings)
    except PublishError as exc:
        if json_out:
            print_json({"ok": False, "error": str(exc)})
        fail(str(exc))
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
    cat = open_catalog(catalog)
    settings = settings_for(catalog)
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
    app.command("rollup")(rollup)
