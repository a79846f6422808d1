"""Helpers of the roll-up tests: run the CLI as a user would, in a given data folder."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[3]
AE_CSV = ROOT / "data" / "ae_attendances.csv"
CATALOG = ROOT / "catalog"


def invoke(home: Path, *args: str, catalog: Path = CATALOG) -> tuple[int, str]:
    """Run `collectonce …` as a user would (same entry point), in data folder `home`."""
    from collectonce.cli import app

    result = CliRunner().invoke(
        app,
        [*args[:1], *args[1:], "--catalog", str(catalog)] if args[0] != "catalog" else [*args],
        env={"COLLECTONCE_HOME": str(home), "COLUMNS": "200"},
    )
    return result.exit_code, result.output


def rollup_json(home: Path, *args: str, catalog: Path = CATALOG) -> list[dict]:
    code, out = invoke(home, "rollup", *args, "--json", catalog=catalog)
    assert code == 0, out
    return json.loads(out)["rows"]


def submit_and_publish(home: Path, csv: Path, catalog: Path = CATALOG) -> None:
    code, out = invoke(home, "submit", str(csv), "--json", catalog=catalog)
    assert code == 0, out
    assert json.loads(out)["status"] in {"accepted", "accepted_with_warnings"}, out
    code, out = invoke(home, "publish", "--json", catalog=catalog)
    assert code == 0, out
