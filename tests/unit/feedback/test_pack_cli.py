"""`collectonce pack`, `packs` and `overview` from the command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from collectonce.cli import app
from collectonce.contracts import UNIFIED

runner = CliRunner()


def published(settings) -> None:
    """Publish 15 months of attendances and the 4-hour % for the four catalogue providers."""
    from deltalake import write_deltalake

    rng = np.random.default_rng(11)
    periods = [(pd.Timestamp("2018-01-01") + pd.DateOffset(months=i)).date() for i in range(15)]
    frames = []
    for ods in ("RF4", "RRK", "R1H", "RQM"):
        for metric, level, spread in (
            ("ae_attendances_type1", 9000, 300),
            ("ae_4hr_performance_type1", 90, 2),
        ):
            frames.append(
                pd.DataFrame(
                    {
                        "provider_code": ods,
                        "period": periods,
                        "metric_id": metric,
                        "value": level + rng.normal(0, spread, 15),
                        "value_status": "reported",
                        "is_derived": metric == "ae_4hr_performance_type1",
                        "is_late": False,
                        "revision": np.ones(15, dtype="int32"),
                    }
                )
            )
    frame = pd.concat(frames, ignore_index=True)
    for col in ("submission_id", "file_sha256", "source_row", "received_at", "comment"):
        frame[col] = None
    table = pa.Table.from_pandas(frame, schema=UNIFIED, preserve_index=False)
    write_deltalake(str(settings.tables_dir / "unified"), table)


@pytest.fixture
def cat(catalog_min_dir) -> list[str]:
    return ["--catalog", str(catalog_min_dir)]


def test_pack_command_prints_the_paths(settings, cat):
    """It builds one pack and prints its three paths as one JSON object."""
    published(settings)
    result = runner.invoke(app, ["pack", "--provider", "RRK", *cat, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert set(data["paths"]) == {"html", "xlsx", "csv"}
    assert data["paths"]["html"].endswith("RRK_pack.html")


def test_pack_command_writes_to_out(settings, cat, tmp_path):
    """It writes the pack into --out and names the files in plain text."""
    published(settings)
    result = runner.invoke(app, ["pack", "--provider", "RRK", "--out", str(tmp_path / "o"), *cat])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "RRK_pack.html").exists()
    assert "RRK_pack.xlsx" in result.stdout


def test_pack_command_refuses_an_unknown_provider_in_one_line(settings, cat):
    """It exits 1 with a one-line error (no traceback) for an unknown ODS code."""
    published(settings)
    result = runner.invoke(app, ["pack", "--provider", "NOPE1", *cat])
    assert result.exit_code == 1
    assert "unknown provider" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_pack_command_before_publication_says_what_to_run(settings, cat):
    """It exits 1 telling the user to run `collectonce publish` first."""
    result = runner.invoke(app, ["pack", "--provider", "RRK", *cat, "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "ok": False,
        "error": "nothing has been published yet: run `collectonce publish` first",
    }


def test_packs_command_rebuilds_only_changed_providers(settings, cat):
    """It builds every pack once, then none until the data changes, or all with --all."""
    published(settings)
    first = json.loads(runner.invoke(app, ["packs", *cat, "--json"]).stdout)
    assert first["built"] == ["R1H", "RF4", "RQM", "RRK"]
    second = json.loads(runner.invoke(app, ["packs", *cat, "--json"]).stdout)
    assert second["built"] == []
    assert sorted(second["unchanged"]) == ["R1H", "RF4", "RQM", "RRK"]
    forced = runner.invoke(app, ["packs", "--all", *cat])
    assert forced.exit_code == 0
    assert "built 4 pack(s)" in forced.stdout


def test_packs_command_before_publication_fails_in_one_line(settings, cat):
    """It exits 1 with one line when nothing has been published."""
    result = runner.invoke(app, ["packs", *cat])
    assert result.exit_code == 1
    assert "collectonce publish" in result.output


def test_overview_command_prints_the_matrix_and_writes_html(settings, cat, tmp_path):
    """It prints the matrix as JSON and writes the overview page."""
    published(settings)
    out = tmp_path / "overview.html"
    result = runner.invoke(
        app,
        ["overview", "--metric", "ae_4hr_performance_type1", "--out", str(out), *cat, "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["providers"] == 4
    assert sum(row["total"] for row in data["matrix"]) == 4
    assert 'id="mdc-matrix"' in out.read_text(encoding="utf-8")

    text = runner.invoke(app, ["overview", "--metric", "ae_4hr_performance_type1", *cat])
    assert text.exit_code == 0
    assert "4 provider(s) with data" in text.stdout


def test_overview_command_refuses_an_unknown_metric(settings, cat):
    """It exits 1 with a one-line error for a metric the catalogue does not have."""
    published(settings)
    result = runner.invoke(app, ["overview", "--metric", "no_such_metric", *cat])
    assert result.exit_code == 1
    assert "unknown metric" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_pack_workbook_and_page_read_right(settings, cat, tmp_path):
    """Publication 0 is shown as 0; counts are whole numbers and percentages carry a % format;
    a provider alone in its peer group is told there is no one to compare with; the page says
    what "late" means."""
    import openpyxl

    published(settings)  # version 0
    out = tmp_path / "rqm"
    result = runner.invoke(app, ["pack", "--provider", "RQM", "--out", str(out), *cat])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out / "RQM_pack.xlsx")
    summary = book["Summary"]
    assert str(summary["A2"].value).startswith("Publication 0")
    data = book["Data"]
    header = [c.value for c in data[1]]
    col = {name: i for i, name in enumerate(header)}
    rows = list(data.iter_rows(min_row=2))
    counts = [r for r in rows if r[col["metric"]].value == "ae_attendances_type1"]
    shares = [r for r in rows if r[col["metric"]].value == "ae_4hr_performance_type1"]
    assert counts and shares
    for r in counts:
        cell = r[col["value"]]
        assert cell.number_format == "#,##0" and float(cell.value).is_integer()
        assert r[col["mean"]].number_format == "#,##0.0"
    for r in shares:
        cell = r[col["value"]]
        assert cell.number_format == '0.0"%"'
        assert round(cell.value, 2) == cell.value and not float(cell.value).is_integer()
    html = (out / "RQM_pack.html").read_text(encoding="utf-8")
    assert "no one to compare with yet" in html
    assert "1st of 1" not in html
    assert "Late means the value arrived after the deadline" in html
