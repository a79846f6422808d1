"""`collectonce overview --by region`: the matrix grouped by region, with each region's figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from collectonce.cli_common import console, fail, print_json


def overview_by_region_cli(
    cat: Any,
    settings: Any,
    metric: str,
    table: pd.DataFrame,
    info: dict[str, Any],
    by: str,
    out: Path | None,
    json_out: bool,
) -> None:
    from collectonce.feedback.exports import replace_bytes
    from collectonce.feedback.overview import VARIATION_ROWS
    from collectonce.feedback.overview_levels import (
        overview_by_region,
        region_rollup_verdicts,
        render_overview_by_region_html,
    )
    from collectonce.feedback.wording import ASSURANCE_SHORT, VARIATION_SHORT

    if by.strip().lower() != "region":
        message = f"--by {by!r} is not known: use provider or region"
        fail(message, 2, as_json=json_out)
    rollups = region_rollup_verdicts(cat, settings, metric, info.get("version"))
    groups = overview_by_region(cat, table, rollups)
    if out is not None:
        html = render_overview_by_region_html(cat, groups, metric, info)
        try:
            replace_bytes(out, html.encode("utf-8"))
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
    if json_out:
        result: dict[str, Any] = {
            "ok": True,
            "metric": metric,
            "by": "region",
            "publication_version": info.get("version"),
            "regions": [{k: v for k, v in g.items() if k != "matrix"} for g in groups],
        }
        if out is not None:
            result["html"] = str(out)
        print_json(result)
        return
    from rich.table import Table

    grid = Table(title=f"{metric}: providers by region, variation and assurance")
    grid.add_column("region")
    grid.add_column("region's figure", justify="right")
    grid.add_column("region's verdict")
    short = {"improvement": "impr.", "common_cause": "common", "concern": "concern",
             "neutral": "neutral", "no_limits": "no limits"}  # fmt: skip
    for key, _ in VARIATION_ROWS:
        grid.add_column(short[key], justify="right")
    from collectonce.display import format_value

    m = cat.metrics[metric]
    for g in groups:
        r = g["rollup"]
        figure = "not rolled up"
        verdict = ""
        if r:
            figure = format_value(r["latest_value"], m) + (" (partial)" if r["partial"] else "")
            verdict = VARIATION_SHORT.get(r["variation"] or "", "Not assessed")
            if r["assurance"]:
                verdict += f"; {ASSURANCE_SHORT[r['assurance']]}"
        grid.add_row(
            g["region"], figure, verdict, *(str(g["variation"][k]) for k, _ in VARIATION_ROWS)
        )
    console.print(grid)
    if out is not None:
        console.print(f"[green]✓[/] wrote {out}", highlight=False, soft_wrap=True)
