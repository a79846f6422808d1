"""`collectonce rollup`: one metric at a region or England, with coverage and SPC verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import JustifyMethod

    from collectonce.catalog import Catalog

#: The table's columns beside the level's code, and how each is aligned.
_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("period", "left"),
    ("value", "right"),
    ("providers", "right"),
    ("expected", "right"),
    ("coverage", "left"),
)


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

    cat, settings = open_with_settings(catalog, as_json=json_out)
    named = {"region": region, "icb": icb}
    given = [k for k, v in named.items() if v is not None]
    if len(given) > 1:
        fail("give one of --region or --icb", 2, as_json=json_out)
    level = (level or (given[0] if given else "region")).strip().lower()
    try:
        codes = None
        if given:
            if level != given[0]:
                fail(f"--{given[0]} goes with --level {given[0]}", 2, as_json=json_out)
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
        fail(str(exc), as_json=json_out)
    if json_out:
        print_json({"rows": rows_to_dicts(cat, rows)})
        return
    _print_table(cat, metric, level, rows, version)


def _print_table(cat: Catalog, metric: str, level: str, rows: pd.DataFrame, version: int) -> None:
    from rich.table import Table

    from collectonce.display import format_value
    from collectonce.feedback.level_spc import level_spc, verdicts
    from collectonce.rollup.query import rows_to_dicts

    m = cat.metrics[metric]
    threshold = cat.levels.coverage_threshold
    records = rows_to_dicts(cat, rows)
    table = Table(title=f"{m.label} by {level} (publication v{version})")
    table.add_column(level, justify="left")
    for name, justify in _COLUMNS:
        table.add_column(name, justify=justify)
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
    _points, summary = level_spc(cat, rows)
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


def register(app: typer.Typer) -> None:
    app.command("rollup")(rollup)
