"""DuckDB never draws its progress bar on standard output (it would break `--json`)."""

from __future__ import annotations

from pathlib import Path

from collectonce import duck

SRC = Path(__file__).resolve().parents[3] / "src" / "collectonce"


def test_connections_have_no_progress_bar() -> None:
    with duck.connect({"threads": 1}) as con:
        assert con.sql("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
        assert con.sql("SELECT current_setting('threads')").fetchone() == (1,)


def test_cursors_share_one_database_each_with_its_own_names() -> None:
    import threading

    first, second = duck.cursor(), duck.cursor()
    try:
        assert first.sql("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
        first.execute("CREATE TEMP VIEW mine AS SELECT 1 AS one")
        assert first.sql("SELECT one FROM mine").fetchone() == (1,)
        names = {r[0] for r in second.sql("SELECT view_name FROM duckdb_views()").fetchall()}
        assert "mine" not in names
    finally:
        first.close()
        second.close()
    found: list[object] = []

    def ask() -> None:
        with duck.cursor() as con:
            found.append(con.sql("SELECT 41 + 1").fetchone())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [(42,)] * 8


def test_every_connection_comes_from_duck_connect() -> None:
    opened_elsewhere = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "duck.py" and "duckdb.connect(" in path.read_text(encoding="utf-8")
    ]
    assert opened_elsewhere == []
