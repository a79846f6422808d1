"""What anyone typing `collectonce` meets first: the version, help that shows flags as flags,
and output that a pipe or a file receives unwrapped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from collectonce import __version__

EXE = [sys.executable, "-m", "collectonce.cli"]
ENV = {**os.environ, "COLUMNS": "80", "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EXE, *args], capture_output=True, text=True, timeout=120, env=ENV, cwd=cwd, check=False
    )


def test_version_prints_the_version() -> None:
    done = _run("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"collectonce {__version__}"


def test_on_off_options_show_as_flags() -> None:
    """--dry-run takes no value, so the help shows no type after it."""
    done = _run("submit", "--help")
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if "--dry-run" in x)
    assert "<bool>" not in line and "--no-dry-run" not in line
    assert "<bool>" not in done.stdout


def test_piped_output_is_not_wrapped(tmp_path: Path) -> None:
    """A table sent to a pipe keeps each row on one line, however narrow the terminal was."""
    values = [1195, 1843, 1397, 1333, 1771, 1751, 2013, 1759, 2179, 2585, 1654, 1543]
    values += [1632, 1558, 1190, 1357, 1279, 1683, 2190, 1804, 986, 2181, 2048, 2154]
    lines = ["date,value"] + [
        f"{2016 + (3 + i) // 12}-{(3 + i) % 12 + 1:02d}-01,{v}" for i, v in enumerate(values)
    ]
    path = tmp_path / "breaches.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = _run("spc", str(path), "--direction", "decrease")
    assert done.returncode == 0, done.stderr
    rows = [x for x in done.stdout.splitlines() if "2017-02-01" in x]
    assert len(rows) == 1
    assert "Improvement (low)" in rows[0] and "7 or more points below the mean" in rows[0]
