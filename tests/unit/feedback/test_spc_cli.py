"""``collectonce spc``: JSON and table output, charts, and one-line errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from collectonce.feedback.spc_cli import register

# A&E type 1 breaches, RRK, April 2016 to March 2018 (NHSRdatasets ae_attendances)
RRK = [1195, 1843, 1397, 1333, 1771, 1751, 2013, 1759, 2179, 2585, 1654, 1543]
RRK += [1632, 1558, 1190, 1357, 1279, 1683, 2190, 1804, 986, 2181, 2048, 2154]


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test host for the spc command."""

    register(app)
    return app


def _csv(tmp_path: Path, text: str, name: str = "series.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _rrk_csv(tmp_path: Path, header: str = "date,value") -> Path:
    lines = [header]
    for i, value in enumerate(RRK):
        year, month = 2016 + (3 + i) // 12, (3 + i) % 12 + 1
        lines.append(f"{year}-{month:02d}-01,{value}")
    return _csv(tmp_path, "\n".join(lines) + "\n")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_json_output_has_one_object_with_points_and_icons(
    runner: CliRunner, tmp_path: Path
) -> None:
    """It prints exactly one JSON object whose points carry limits and the MDC labels."""
    path = _rrk_csv(tmp_path, header="Date,VALUE")  # header case does not matter
    result = runner.invoke(_app(), ["spc", str(path), "--direction", "decrease", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"points", "variation_icon", "assurance"}
    assert len(payload["points"]) == 24
    first = payload["points"][0]
    assert set(first) == {
        "date",
        "value",
        "mean",
        "lpl",
        "upl",
        "point_type",
        "special_cause_type",
    }
    assert first["date"] == "2016-04-01"
    assert isinstance(first["value"], float) and isinstance(first["upl"], float)
    types = [p["point_type"] for p in payload["points"]]
    assert types.count("special_cause_improvement") == 8  # the vignette's 8 blue points
    assert payload["variation_icon"] == "common_cause"
    assert payload["assurance"] is None


def test_target_gives_assurance_and_missing_values_are_null(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = _csv(tmp_path, "date,value\n2024-01-01,10\n2024-02-01,\n2024-03-01,12\n2024-04-01,11\n")
    result = runner.invoke(
        _app(), ["spc", str(path), "--direction", "increase", "--target", "100", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    missing = payload["points"][1]
    assert missing["value"] is None and missing["point_type"] is None
    assert payload["assurance"] == "consistent_fail"


def test_rebase_fix_after_and_no_screen_change_the_limits(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = _rrk_csv(tmp_path)

    def limits(*args: str) -> list[tuple[float, float]]:
        result = runner.invoke(_app(), ["spc", str(path), "--json", *args])
        assert result.exit_code == 0, result.output
        return [(p["lpl"], p["upl"]) for p in json.loads(result.stdout)["points"]]

    plain = limits()
    assert len(set(plain)) == 1
    rebased = limits("--rebase", "2017-04-01", "--rebase", "2017-10-01")
    assert len(set(rebased)) == 3
    assert limits("--fix-after", "12")[0] != plain[0]


def test_table_output_and_chart_files(runner: CliRunner, tmp_path: Path) -> None:
    path = _rrk_csv(tmp_path)
    svg_path, html_path = tmp_path / "chart.svg", tmp_path / "chart.html"
    result = runner.invoke(
        _app(), ["spc", str(path), "--direction", "decrease", "--chart", str(svg_path)]
    )
    assert result.exit_code == 0, result.output
    assert "2016-04-01" in result.stdout
    assert "Improvement (low)" in result.stdout
    assert "Variation: Common cause" in result.stdout
    assert svg_path.read_text(encoding="utf-8").startswith("<svg")

    result = runner.invoke(_app(), ["spc", str(path), "--json", "--chart", str(html_path)])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # the chart message goes to stderr, not into the JSON
    html = html_path.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "<svg" in html


@pytest.mark.parametrize(
    ("content", "args", "code", "message"),
    [
        (None, [], 2, "file not found"),
        ("name,value\nRRK,1\n", [], 1, "no 'date' column and no column of dates"),
        ("date,note\n2024-01-01,high\n", [], 1, "no 'value' column and no column of numbers"),
        ("date,value\n2024-01-01,1\n", ["--value-col", "count"], 2, "--value-col 'count'"),
        ("date,value\n2024-01-01,1\n2024-02-01,lots\n", [], 1, "line 3: value 'lots'"),
        ("date,value\n2024-01-01,1\nsoon,2\n", [], 1, "line 3: date 'soon'"),
        ("date,value\n2024-01-01,1\n2024-01-01,2\n", [], 1, "duplicate date"),
        ("date,value\n", [], 1, "no data rows"),
        ("", [], 1, "is empty"),
        ("date,value\n2024-01-01,1\n", ["--fix-after", "11"], 2, "--fix-after"),
        ("date,value\n2024-01-01,1\n", ["--fix-after", "twelve"], 2, "--fix-after"),
        ("date,value\n2024-01-01,1\n", ["--direction", "up"], 2, "--direction"),
        ("date,value\n2024-01-01,1\n", ["--target", "high"], 2, "--target"),
        ("date,value\n2024-01-01,1\n", ["--rebase", "April"], 2, "--rebase"),
        ("date,value\n2024-01-01,1\n", ["--chart", "out.png"], 2, "--chart"),
    ],
)
def test_bad_input_fails_with_one_line_and_no_traceback(
    runner: CliRunner,
    tmp_path: Path,
    content: str | None,
    args: list[str],
    code: int,
    message: str,
) -> None:
    """It exits 2 for bad usage and 1 for bad data, with a single line on stderr."""
    path = tmp_path / "missing.csv" if content is None else _csv(tmp_path, content)
    result = runner.invoke(_app(), ["spc", str(path), *args])
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in result.output


def test_help_text_minimum_matches_the_engine() -> None:
    """The --fix-after minimum the help text and checks use is the SPC engine's."""
    from collectonce.feedback import spc, spc_cli

    assert spc_cli.MIN_FIX_AFTER_N_POINTS == spc.MIN_FIX_AFTER_N_POINTS


def test_cli_modules_import_no_data_libraries() -> None:
    """Registering the feedback and API commands loads neither pandas, numpy nor the chart code,
    so `collectonce --help` stays fast."""
    modules = ("collectonce.feedback.spc_cli", "collectonce.feedback.cli", "collectonce.api.cli")
    heavy = (
        "pandas",
        "numpy",
        "scipy",
        "fastapi",
        "collectonce.feedback.spc",
        "collectonce.feedback.chart",
    )
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("Date,Value\n01/04/2016,10\n01/05/2016,12\n", ["2016-04-01", "2016-05-01"]),
        ("date,value\n2016-04,10\n2016-05,12\n", ["2016-04-01", "2016-05-01"]),
        (
            '\ufeff"DATE","VALUE"\n"Apr-16","1,234"\n"May-16","1,300"\n',
            ["2016-04-01", "2016-05-01"],
        ),
        ("date,value\nApril 2016,10\nMay 2016,12\n", ["2016-04-01", "2016-05-01"]),
        ("date;value\n2016-04-01;10\n2016-05-01;12\n", ["2016-04-01", "2016-05-01"]),
        # separated as a submission may be: pipes, and a quoted header holding a comma
        ("date|value\n2016-04-01|10\n2016-05-01|12\n", ["2016-04-01", "2016-05-01"]),
        ('"Month, start";value\n2016-04-01;10\n2016-05-01;12\n', ["2016-04-01", "2016-05-01"]),
        (
            "date,value\n2016-04-01 00:00:00,10\n2016-05-01 00:00:00,12\n",
            ["2016-04-01", "2016-05-01"],
        ),
        ("date,value\n13/04/2016,10\n13/05/2016,12\n", ["2016-04-13", "2016-05-13"]),
    ],
)
def test_real_world_dates_headers_and_separators_are_read(
    runner: CliRunner, tmp_path: Path, text: str, dates: list[str]
) -> None:
    """It reads British, month-name and ISO dates, quoted headers in any case, a byte-order
    mark, thousands separators and semicolon-separated files."""
    result = runner.invoke(_app(), ["spc", str(_csv(tmp_path, text)), "--json"])
    assert result.exit_code == 0, result.output
    points = json.loads(result.stdout)["points"]
    assert [p["date"] for p in points] == dates
    assert all(isinstance(p["value"], float) for p in points)


def test_blank_and_suppressed_values_are_missing_and_blank_rows_are_skipped(
    runner: CliRunner, tmp_path: Path
) -> None:
    text = (
        "date,value\n2024-01-01,10\n2024-02-01,*\n\n2024-03-01,\n,\n2024-04-01,12%\n2024-05-01,11\n"
    )
    result = runner.invoke(_app(), ["spc", str(_csv(tmp_path, text)), "--json"])
    assert result.exit_code == 0, result.output
    points = json.loads(result.stdout)["points"]
    assert [p["date"] for p in points] == [f"2024-0{m}-01" for m in range(1, 6)]
    assert [p["value"] for p in points] == [10.0, None, None, 12.0, 11.0]
    assert points[1]["point_type"] is None and points[0]["mean"] == 11.0


def test_a_rebase_date_that_is_not_in_the_file_is_reported_and_ignored(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = _rrk_csv(tmp_path)
    result = runner.invoke(_app(), ["spc", str(path), "--json", "--rebase", "2017-04-15"])
    assert result.exit_code == 0, result.output
    assert "2017-04-15 is not a date" in result.stderr
    assert len({p["upl"] for p in json.loads(result.stdout)["points"]}) == 1


def test_table_and_chart_explain_flat_series_and_missing_months(
    runner: CliRunner, tmp_path: Path
) -> None:
    """All-equal values give no limits (as in R) and a month with no row is named."""
    lines = ["date,value"] + [f"2024-{m:02d}-01,5" for m in (1, 2, 3, 5, 6)]
    path = _csv(tmp_path, "\n".join(lines) + "\n")
    chart = tmp_path / "flat.svg"
    result = runner.invoke(_app(), ["spc", str(path), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    assert "no variation" in result.stdout
    assert "No data for Apr 2024" in result.stdout
    svg = chart.read_text(encoding="utf-8")
    assert "No limits: every value equals the one before it" in svg
    assert "No data for Apr 2024" in svg
    assert 'class="upl"' not in svg and 'class="mean"' in svg


def test_decimal_commas_in_semicolon_files_and_line_numbers_after_blank_lines(
    runner: CliRunner, tmp_path: Path
) -> None:
    european = _csv(tmp_path, "date;value\n01/04/2016;12,5\n01/05/2016;13,25\n", "eu.csv")
    result = runner.invoke(_app(), ["spc", str(european), "--json"])
    assert result.exit_code == 0, result.output
    assert [p["value"] for p in json.loads(result.stdout)["points"]] == [12.5, 13.25]

    gappy = _csv(tmp_path, "date,value\n2016-04-01,10\n\n2016-05-01,oops\n", "gappy.csv")
    result = runner.invoke(_app(), ["spc", str(gappy), "--json"])
    assert result.exit_code == 1
    assert "line 4: value 'oops'" in result.stderr


def _real_app() -> typer.Typer:
    from collectonce.cli import app

    return app


def test_no_screen_keeps_large_moving_ranges_in_the_limits(
    runner: CliRunner, tmp_path: Path
) -> None:
    """--no-screen computes the limits from every moving range, as the Making Data Count Excel
    tool does: with one large jump, the limits are wider than the screened ones, and equal to
    the engine's own unscreened limits."""
    from collectonce.feedback.spc import compute_spc

    values = [10, 11, 10, 12, 11, 10, 11, 60, 11, 10, 12, 11, 10, 11]
    lines = ["date,value"] + [f"2024-{m:02d}-01,{v}" for m, v in enumerate(values[:12], 1)]
    lines += [f"2025-{m:02d}-01,{v}" for m, v in enumerate(values[12:], 1)]
    path = _csv(tmp_path, "\n".join(lines) + "\n")

    def first_limits(*args: str) -> tuple[float, float]:
        result = runner.invoke(_real_app(), ["spc", str(path), "--json", *args])
        assert result.exit_code == 0, result.output
        point = json.loads(result.stdout)["points"][0]
        return point["lpl"], point["upl"]

    screened, unscreened = first_limits(), first_limits("--no-screen")
    assert unscreened[1] - unscreened[0] > screened[1] - screened[0]
    import pandas as pd

    frame = pd.DataFrame(
        {"date": pd.to_datetime([line.split(",")[0] for line in lines[1:]]), "value": values}
    )
    engine = compute_spc(frame, screen_outliers=False).iloc[0]
    assert unscreened == pytest.approx((engine["lpl"], engine["upl"]))


def test_columns_are_chosen_by_name_or_guessed_with_a_message(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A file saved from a spreadsheet has its own headings: --date-col/--value-col name them;
    without them the date and number columns are guessed, and stderr says which were used."""
    rows = [
        f"{m},{v},RRK"
        for m, v in zip(["Apr-16", "May-16", "Jun-16", "Jul-16"], RRK[:4], strict=True)
    ]
    path = _csv(tmp_path, "Month,Attendances,Org\n" + "\n".join(rows) + "\n")
    named = runner.invoke(
        _real_app(),
        ["spc", str(path), "--date-col", "month", "--value-col", "Attendances", "--json"],
    )
    assert named.exit_code == 0, named.output
    values = [p["value"] for p in json.loads(named.stdout)["points"]]
    assert values == [float(v) for v in RRK[:4]]
    assert json.loads(named.stdout)["points"][0]["date"] == "2016-04-01"

    guessed = runner.invoke(_real_app(), ["spc", str(path), "--json"])
    assert guessed.exit_code == 0, guessed.output
    assert json.loads(guessed.stdout) == json.loads(named.stdout)
    assert "Dates from column 'Month' (choose with --date-col)" in guessed.stderr
    assert "Values from column 'Attendances' (choose with --value-col)" in guessed.stderr


def test_table_uses_the_pack_wording(runner: CliRunner, tmp_path: Path) -> None:
    """The table names points and rules as the pack and the chart legend do."""
    from collectonce.feedback.wording import RULE_TEXT, VARIATION_SHORT

    path = _rrk_csv(tmp_path)
    result = runner.invoke(_real_app(), ["spc", str(path), "--direction", "decrease"])
    assert result.exit_code == 0, result.output
    assert VARIATION_SHORT["improvement_low"] in result.stdout
    assert VARIATION_SHORT["concern_high"] in result.stdout
    assert RULE_TEXT["Above UCL"] in result.stdout
    assert "7 Points Below CL" not in result.stdout  # the engine's label, not the pack's words
