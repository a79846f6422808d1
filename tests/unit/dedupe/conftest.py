"""Fixtures for the duplicate-request engine: the shipped rules and a private catalogue copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def rules():
    from collectonce.dedupe.rules import load_rules

    return load_rules(ROOT / "catalog")


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    """A copy of the shipped catalogue that a test may change."""
    target = tmp_path / "catalog"
    shutil.copytree(ROOT / "catalog", target)
    return target
