"""The bundled NHS England A&E data submitted and published through the CLI, once per module."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from rollup_helpers import AE_CSV, CATALOG, submit_and_publish


@pytest.fixture(scope="module")
def ae_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding one publication of the whole bundled A&E file."""
    home = tmp_path_factory.mktemp("ae_home")
    submit_and_publish(home, AE_CSV)
    return home


@pytest.fixture(scope="session")
def ae_data() -> pd.DataFrame:
    """The bundled A&E file with each provider's region from providers.csv (Unassigned if none)."""
    data = pd.read_csv(AE_CSV, dtype={"type": str})
    regions = pd.read_csv(CATALOG / "providers.csv", dtype=str, keep_default_na=False)
    region = dict(zip(regions["ods_code"], regions["region"], strict=True))
    data["region"] = data["org_code"].map(region).replace("", "Unassigned").fillna("Unassigned")
    data["month"] = data["period"].str[:7]
    return data


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Callable[[], Path]:
    """A private copy of the shipped catalogue to edit."""

    def make() -> Path:
        target = tmp_path / "catalog"
        shutil.copytree(CATALOG, target)
        return target

    return make
