"""The plan asks only for metrics in force for the period, so a filled template submits clean."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from collectonce.cli import app

runner = CliRunner()


def _plan(catalog: Path, provider: str, period: str, template: Path) -> dict:
    result = runner.invoke(
        app,
        [
            "plan",
            "--provider",
            provider,
            "--period",
            period,
            "--catalog",
            str(catalog),
            "--csv-template",
            str(template),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_plan_leaves_out_metrics_not_yet_collected(shipped_catalog_dir: Path, tmp_path: Path):
    """Hospital-onset C. difficile cases are collected from April 2019: March's plan does not ask
    for them, April's does. All C. difficile cases, collected since 2016 under an older
    definition, are asked for in both."""
    march = _plan(shipped_catalog_dir, "RRK", "2019-03", tmp_path / "march.csv")
    april = _plan(shipped_catalog_dir, "RRK", "2019-04", tmp_path / "april.csv")
    asked = {m: {i["metric"] for i in p["items"]} for m, p in (("mar", march), ("apr", april))}
    assert "cdiff_hoha_cases" not in asked["mar"] and "cdiff_hoha_cases" in asked["apr"]
    assert "cdiff_cases" in asked["mar"] and "cdiff_cases" in asked["apr"]
    reasons = [u["reason"] for u in march["unmapped_items"] if u["their_code"]]
    assert any("cdiff_hoha_cases is collected from 2019-04-01" in r for r in reasons)


def test_a_filled_template_draws_no_warning_about_dates(
    shipped_catalog_dir: Path, tmp_path: Path, home: Path
) -> None:
    """Fill March 2019's template (every value 1) and submit it: no finding says a metric was
    not defined or not collected for the period."""
    template = tmp_path / "RRK_2019-03.csv"
    _plan(shipped_catalog_dir, "RRK", "2019-03", template)
    with template.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        row["value"] = "1"
    with template.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(
        app,
        ["submit", str(template), "--as", "RRK", "--catalog", str(shipped_catalog_dir), "--json"],
        env={"COLLECTONCE_HOME": str(home)},
    )
    receipt = json.loads(result.stdout)
    assert receipt["rows_read"] == len(rows)
    rules = {f["rule"] for f in receipt["findings"]}
    assert not rules & {"metric_effective_period", "metric_active"}, rules


def test_catalog_check_refuses_a_first_collected_date_after_the_current_version(
    catalog_min_dir: Path, tmp_path: Path
) -> None:
    """`first_collected` is when a metric was first collected, so it cannot come after the date
    its current version took effect; `collectonce catalog check` names the file and the fix."""
    import shutil

    folder = tmp_path / "catalog"
    shutil.copytree(catalog_min_dir, folder)
    path = next(folder.rglob("ae_attendances_type1.yaml"))
    text = path.read_text(encoding="utf-8")
    assert "status:" in text
    lines = [
        "status: {state: active, version: 2, effective_from: 2018-04-01, "
        "first_collected: 2019-04-01}"
        if line.startswith("status:")
        else line
        for line in text.splitlines()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["catalog", "check", "--catalog", str(folder)])
    assert result.exit_code == 1
    assert "ae_attendances_type1.yaml" in result.output
    assert "first_collected 2019-04-01 is after effective_from 2018-04-01" in result.output
