"""The type checker covers the whole library: pyproject.toml gives it nothing to skip."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _config() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["tool"]["basedpyright"]


def test_the_whole_library_is_checked() -> None:
    config = _config()
    assert config.get("include") == ["src"]
    assert not config.get("ignore"), f"ignored by the type checker: {config.get('ignore')}"
    assert not config.get("exclude"), f"excluded from the type checker: {config.get('exclude')}"


def test_the_checker_is_not_turned_down() -> None:
    assert _config().get("typeCheckingMode") in {"standard", "strict", "recommended", "all"}
