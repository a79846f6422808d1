"""The publish, publications, view, lock and exception commands."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from publish_helpers import ATT, ae_rows, row
from typer.testing import CliRunner

from collectonce.publish.cli import register
from collectonce.rollup.publish_cli import register as register_publish_and_view

runner = CliRunner()


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    register_publish_and_view(app)
    register(app)
    return app


@pytest.fixture
def cat(catalog_min_dir: Path) -> list[str]:
    return ["--catalog", str(catalog_min_dir)]


def run(cli: typer.Typer, *args: str):
    return runner.invoke(cli, list(args), catch_exceptions=False)


def one_line_error(result) -> str:
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    return lines[0]


def test_publish_json_then_nothing_new(cli, cat, submit) -> None:
    """It prints one JSON object per run; the second run reports created false."""
    submit(ae_rows())
    first = run(cli, "publish", "--json", *cat)
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    assert doc["ok"] and doc["created"] and doc["version"] == 0
    assert doc["counts"]["rows"] == 48
    second = json.loads(run(cli, "publish", "--json", *cat).stdout)
    assert second["created"] is False and second["version"] == 0
    text = run(cli, "publish", *cat)
    assert "Nothing new to publish" in text.stdout


def test_publish_with_nothing_submitted_fails_in_one_line(cli, cat, home) -> None:
    """It exits 1 with a one-line error when there is nothing to publish."""
    result = run(cli, "publish", *cat)
    assert result.exit_code == 1
    assert "no accepted submissions" in one_line_error(result)


def test_publications_lists_versions(cli, cat, submit) -> None:
    """It lists publications as JSON and as a table."""
    assert json.loads(run(cli, "publications", "--json", *cat).stdout) == {"publications": []}
    submit(ae_rows(providers=("RF4",)))
    run(cli, "publish", *cat)
    doc = json.loads(run(cli, "publications", "--json", *cat).stdout)
    assert [p["version"] for p in doc["publications"]] == [0]
    assert doc["publications"][0]["counts"]["rows"] == 12
    assert "version" in run(cli, "publications", *cat).stdout


def test_view_csv_and_json_print_to_stdout(cli, cat, submit) -> None:
    """It prints the view as CSV or as {"request", "publication", "rows"} JSON."""
    submit(ae_rows())
    run(cli, "publish", *cat)
    args = ["view", "cqc_uec_quarterly", "--from", "2019-01", "--to", "2019-03", *cat]
    csv_out = run(cli, *args, "--format", "csv")
    assert csv_out.exit_code == 0, csv_out.output
    df = pd.read_csv(io.StringIO(csv_out.stdout))
    hit = df.loc[(df["provider_code"] == "RF4") & (df["item"] == "UEC01")]
    assert hit["value"].tolist() == [46991] and hit["period"].tolist() == ["2018/19 Q4"]
    doc = json.loads(run(cli, *args, "--format", "json").stdout)
    assert doc["request"] == "cqc_uec_quarterly" and doc["publication"] == 0
    assert {"provider_code", "period", "item", "metric", "value"} <= set(doc["rows"][0])


def test_view_parquet_and_xlsx_write_files(cli, cat, submit, home, tmp_path) -> None:
    """It writes parquet to the exports folder by default and xlsx to --out."""
    submit(ae_rows())
    run(cli, "publish", *cat)
    args = ["view", "nhse_ae_monthly", "--from", "2019-01", "--to", "2019-01", *cat]
    result = run(cli, *args, "--format", "parquet")
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert path.parent == home / "exports" and path.exists()
    assert len(pd.read_parquet(path)) == 4 * 3
    out = tmp_path / "view.xlsx"
    result = run(cli, *args, "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0 and out.exists()


def test_view_as_of_an_earlier_publication(cli, cat, submit) -> None:
    """It prints the view as of an earlier publication."""
    submit(ae_rows(providers=("RF4",)))
    run(cli, "publish", *cat)
    submit([row("RF4", "2019-01", ATT, 1, submission="sub-2")])
    run(cli, "publish", *cat)
    args = ["view", "nhse_ae_monthly", "--from", "2019-01", "--to", "2019-01", *cat]
    then = json.loads(run(cli, *args, "--format", "json", "--as-of", "0").stdout)
    now = json.loads(run(cli, *args, "--format", "json").stdout)
    a1 = [r for r in then["rows"] if r["provider_code"] == "RF4" and r["item"] == "A1"]
    assert a1[0]["value"] == 16428 and then["publication"] == 0
    a1 = [r for r in now["rows"] if r["provider_code"] == "RF4" and r["item"] == "A1"]
    assert a1[0]["value"] == 1 and now["publication"] == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["view", "nhse_ae_monthly", "--from", "2019-13"], 2, "month 13"),
        (["view", "nhse_ae_monthly", "--format", "pdf"], 2, "not one of"),
        (["view", "no_such_request"], 1, "no request"),
        (["view", "../../etc/passwd"], 2, "not a code"),
        (["view", "nhse_ae_monthly", "--as-of", "7"], 1, "no publication 7"),
        (["lock", "--up-to", "2019-3"], 2, "YYYY-MM"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(cli, cat, submit, args, code, message) -> None:
    """It refuses bad input with a one-line error and a non-zero exit, never a traceback."""
    submit(ae_rows(providers=("RF4",)))
    run(cli, "publish", *cat)
    result = run(cli, *args, *cat)
    assert result.exit_code == code, result.output
    assert message in one_line_error(result)


def test_view_before_any_publication(cli, cat, home) -> None:
    """It says nothing is published yet."""
    result = run(cli, "view", "nhse_ae_monthly", *cat)
    assert result.exit_code == 1
    assert "nothing has been published" in one_line_error(result)


def test_lock_exception_and_late_changes(cli, cat, submit) -> None:
    """It locks periods, grants an exception, and reports held-back and admitted changes."""
    submit(ae_rows(providers=("RF4", "RRK")))
    run(cli, "publish", *cat)
    locked = run(cli, "lock", "--up-to", "2019-03", "--by", "analyst", "--json", *cat)
    assert json.loads(locked.stdout)["up_to"] == "2019-03"
    after_lock = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    submit(
        [
            row("RF4", "2019-02", ATT, 1, submission="late", received=after_lock),
            row("RRK", "2019-02", ATT, 2, submission="late", received=after_lock),
        ]
    )
    published = json.loads(run(cli, "publish", "--json", *cat).stdout)
    assert published["created"] is False and published["counts"]["held_back"] == 2
    grant = run(
        cli,
        "exception",
        "grant",
        "--provider",
        "RF4",
        "--period",
        "2019-02",
        "--reason",
        "miscoded month",
        "--by",
        "regulator",
        *cat,
    )
    assert grant.exit_code == 0, grant.output
    changes = json.loads(run(cli, "late-changes", "--json", *cat).stdout)["changes"]
    decisions = {c["provider_code"]: c["decision"] for c in changes}
    assert decisions == {"RF4": "admitted", "RRK": "held_back"}
    assert changes[0]["period"] == "2019-02"
    again = json.loads(run(cli, "publish", "--json", *cat).stdout)
    assert again["created"] and again["version"] == 1 and again["counts"]["held_back"] == 1
    listed = json.loads(run(cli, "exception", "list", "--json", *cat).stdout)
    assert listed["exceptions"][0]["provider"] == "RF4"


def test_exception_for_unknown_provider_is_refused(cli, cat, home) -> None:
    """It refuses an exception for a provider the catalogue does not list."""
    run(cli, "lock", "--up-to", "2019-03", *cat)
    result = run(
        cli,
        "exception",
        "grant",
        "--provider",
        "ZZZ99",
        "--period",
        "2019-01",
        "--reason",
        "x y z",
        *cat,
    )
    assert result.exit_code == 2
    assert "no provider ZZZ99" in one_line_error(result)


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "reading or writing other files is turned off"),
        ("SELECT * FROM read_text('/etc/hostname')", "reading or writing other files"),
        ("COPY (SELECT * FROM unified) TO '{out}'", "COPY statements are refused"),
        ("COPY (SELECT 1) TO '{table}/part-evil.parquet'", "COPY statements are refused"),
        ("ATTACH '{db}' AS other", "ATTACH statements are refused"),
        ("SELECT 1; SET enable_external_access = true", "SET statements are refused"),
        ("INSTALL httpfs", "refused"),
    ],
)
def test_query_cannot_touch_other_files(cli, cat, submit, settings, tmp_path, sql, words) -> None:
    """`collectonce query` reads the published table and nothing else: reading a system file,
    writing with COPY, attaching another database or changing the settings is refused with a
    clear message (exit 2), and no file is written."""
    submit(ae_rows())
    run(cli, "publish", *cat)
    table = settings.tables_dir / "unified"
    before = sorted(p.name for p in table.iterdir())
    text = sql.format(out=tmp_path / "leak.csv", table=table, db=tmp_path / "other.db")
    result = run(cli, "query", text, *cat)
    assert result.exit_code == 2, result.output
    line = one_line_error(result)
    assert "the query was refused" in line and words in line
    assert not (tmp_path / "leak.csv").exists() and not (tmp_path / "other.db").exists()
    assert sorted(p.name for p in table.iterdir()) == before
    ok = run(cli, "query", "SELECT count(*) AS n FROM unified", "--json", *cat)
    assert ok.exit_code == 0 and json.loads(ok.stdout)["rows"][0]["n"] > 0
