"""DuckDB never draws its progress bar on standard output (it would break `--json`)."""

from __future__ import annotations

from pathlib import Path

from collectonce import duck

SRC = Path(__file__).resolve().parents[3] / "src" / "collectonce"


def test_connections_have_no_progress_bar() -> None:
    with duck.connect({"threads": 1}) as con:
        assert con.sql("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
        assert con.sql("SELECT current_setting('threads')").fetchone() == (1,)


def test_every_connection_comes_from_duck_connect() -> None:
    opened_elsewhere = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "duck.py" and "duckdb.connect(" in path.read_text(encoding="utf-8")
    ]
    assert opened_elsewhere == []
