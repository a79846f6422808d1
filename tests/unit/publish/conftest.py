"""Fixtures for the publish tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from publish_helpers import write_rows


@pytest.fixture
def submit(settings: Any) -> Callable[[list[dict[str, Any]]], None]:
    """Write submissions rows into this test's data folder."""
    return lambda rows: write_rows(settings, rows)


@pytest.fixture(autouse=True)
def fresh_views() -> None:
    """Each test starts with an empty in-memory view cache."""
    from collectonce.publish.snapshot import clear_cache

    clear_cache()


@pytest.fixture
def catalog_more_dir(tmp_path: Path, catalog_min_dir: Path) -> Path:
    """The tiny catalogue plus a quarterly request (last, max, min, scale) and a yearly one."""
    dest = tmp_path / "catalog_more"
    shutil.copytree(catalog_min_dir, dest)
    (dest / "requests" / "test_quarter_transforms.yaml").write_text(
        """\
code: test_quarter_transforms
requester: nhs_england
title: Quarter-end snapshot
purpose: Exercises the month to quarter transforms.
frequency: quarter
due_days_after_period: 20
minutes_per_item: 5
items:
  - their_code: L1
    their_label: Attendances in the last month
    metric: ae_attendances_type1
    transform: {aggregate: last}
  - their_code: X1
    their_label: Busiest month
    metric: ae_attendances_type1
    transform: {aggregate: max}
  - their_code: N1
    their_label: Quietest month
    metric: ae_attendances_type1
    transform: {aggregate: min}
  - their_code: K1
    their_label: Attendances (thousands)
    metric: ae_attendances_type1
    transform: {aggregate: sum, scale: 0.001}
""",
        encoding="utf-8",
    )
    (dest / "requests" / "test_yearly_total.yaml").write_text(
        """\
code: test_yearly_total
requester: nhs_england
title: Yearly total
frequency: year
due_days_after_period: 60
minutes_per_item: 5
items:
  - {their_code: Y1, their_label: Attendances in the year, metric: ae_attendances_type1}
""",
        encoding="utf-8",
    )
    return dest


@pytest.fixture
def catalog_more(catalog_more_dir: Path) -> Any:
    from collectonce.catalog import load_catalog

    return load_catalog(catalog_more_dir)
