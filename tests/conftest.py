"""Shared fixtures: a private data folder per test and the catalogues."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collectonce._quiet import quiet_environment

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Every command a test runs does its own work; the worker's tests ask for one explicitly.
os.environ.setdefault("COLLECTONCE_WORKER", "off")
# API uploads are checked in the server's threads; the upload pool's tests ask for processes.
os.environ.setdefault("COLLECTONCE_UPLOAD_PROCESSES", "0")
quiet_environment()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh COLLECTONCE_HOME for one test."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("COLLECTONCE_HOME", str(path))
    return path


@pytest.fixture
def settings(home: Path):
    from collectonce.settings import get_settings

    return get_settings(home=home)


@pytest.fixture(scope="session")
def catalog_min_dir() -> Path:
    return FIXTURES / "catalog_min"


@pytest.fixture(scope="session")
def catalog_min(catalog_min_dir: Path):
    from collectonce.catalog import load_catalog

    return load_catalog(catalog_min_dir)


@pytest.fixture(scope="session")
def shipped_catalog_dir() -> Path:
    return ROOT / "catalog"


@pytest.fixture(scope="session")
def shipped_catalog(shipped_catalog_dir: Path):
    from collectonce.catalog import load_catalog

    return load_catalog(shipped_catalog_dir)


@pytest.fixture(scope="session")
def pulled_rows():
    """Reads a pull's rows whatever format it was asked in (json, csv, parquet or xlsx)."""
    import io

    import pandas as pd

    def read(response, fmt: str) -> pd.DataFrame:
        if fmt == "json":
            return pd.DataFrame(response.json()["rows"])
        if fmt == "csv":
            return pd.read_csv(io.StringIO(response.text))
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(response.content))
        return pd.read_excel(io.BytesIO(response.content))

    return read
