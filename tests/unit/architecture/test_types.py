"""The library's types hold: `basedpyright` (configured in pyproject.toml) finds no error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_BIN = Path(sys.executable).parent / "basedpyright"
BASEDPYRIGHT = str(_BIN) if _BIN.exists() else shutil.which("basedpyright")

pytestmark = pytest.mark.skipif(BASEDPYRIGHT is None, reason="basedpyright is not installed")


def _check(*args: str, cwd: Path = ROOT) -> dict:
    result = subprocess.run(
        [str(BASEDPYRIGHT), "--outputjson", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def test_the_library_type_checks() -> None:
    report = _check()
    errors = [
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}"
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    ]
    assert report["summary"]["filesAnalyzed"] > 100
    assert not errors, "\n".join(errors[:50])


def test_a_type_error_is_caught(tmp_path: Path) -> None:
    """The same checker and settings on a module that returns the wrong type report it, so a
    clean run means something."""
    settings = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = settings[settings.index("[tool.basedpyright]") :].split("\n\n", 1)[0]
    (tmp_path / "pyproject.toml").write_text(block.replace('["src"]', '["pkg"]') + "\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "wrong.py").write_text(
        "def period_label(year: int) -> str:\n    return year\n", encoding="utf-8"
    )
    report = _check(cwd=tmp_path)
    rules = [d.get("rule") for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert rules == ["reportReturnType"]
