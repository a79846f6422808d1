"""The import layering in pyproject.toml holds: `lint-imports` keeps every contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_import_contracts_are_kept() -> None:
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_layer_importing_upwards_is_caught(tmp_path: Path) -> None:
    """The same tool on a contract the code breaks today (the command line imports the
    catalogue) reports it, so a kept contract means something."""
    config = tmp_path / "upside_down.toml"
    config.write_text(
        """
[tool.importlinter]
root_packages = ["collectonce"]

[[tool.importlinter.contracts]]
name = "the catalogue above the command line"
type = "layers"
layers = ["collectonce.catalog", "collectonce.cli"]
""",
        encoding="utf-8",
    )
    result = _lint("--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "collectonce.cli is not allowed to import collectonce.catalog" in result.stdout
