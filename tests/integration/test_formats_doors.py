"""Every advertised format works through every door: `collectonce submit`, the API upload and
the landing folder, on files made the way people make them (see `user_files`).

Each cell checks the receipt (rows read, accepted and rejected) and the facts stored for RF4.
The landing column calls the flow's batch task as the flow calls it; one real `watch_landing`
run takes a landing folder holding every format at once.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from user_files import CATALOG, MAKERS, PROVIDER, ROOT, UserFile, soffice

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.integration

FORMATS = list(MAKERS)
DOORS = ["cli", "api", "landing"]


@pytest.fixture(scope="module")
def catalog():
    from collectonce.catalog import load_catalog

    return load_catalog(CATALOG)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, UserFile | None]:
    """Every file, made once."""
    folder = tmp_path_factory.mktemp("user_files")
    out: dict[str, UserFile | None] = {}
    for key, make in MAKERS.items():
        if key.startswith("libreoffice") and soffice() is None:
            out[key] = None
            continue
        out[key] = make(folder)
    return out


def _file(made: dict[str, UserFile | None], fmt: str) -> UserFile:
    found = made[fmt]
    if found is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    return found


def stored_facts(settings: Any, month: str) -> tuple[dict[str, Any], dict[str, str]]:
    """What the submissions table holds for RF4 in a month: metric -> (value, status), and the
    comments."""
    from collectonce.store.submissions import current_values

    current = current_values(settings, providers=[PROVIDER])
    current = current[current["period"].astype(str) == f"{month}-01"]
    facts = {}
    comments = {}
    for row in current.itertuples():
        value = None if row.value is None or math.isnan(row.value) else float(row.value)
        facts[row.metric_id] = (value, row.value_status)
        if row.comment:
            comments[row.metric_id] = row.comment
    return facts, comments


def check(receipt: dict[str, Any], user_file: UserFile, settings: Any) -> None:
    errors = [f for f in receipt["findings"] if f["severity"] == "error"]
    assert receipt["status"] in ("accepted", "accepted_with_warnings"), errors
    assert receipt["original_name"] == user_file.path.name
    assert (
        receipt["rows_read"],
        receipt["rows_accepted"],
        receipt["rows_rejected"],
        receipt.get("rows_skipped", 0),
    ) == (
        user_file.rows_read,
        user_file.rows_accepted,
        user_file.rows_rejected,
        user_file.rows_skipped,
    ), receipt["findings"]
    facts, comments = stored_facts(settings, user_file.month)
    assert facts == user_file.facts
    assert receipt["values_stored"] == len(user_file.facts)
    for metric, comment in user_file.comments.items():
        assert comments.get(metric) == comment


def submit_by_cli(path: Path, home: Path) -> dict[str, Any]:
    """`collectonce submit FILE --as RF4 --json`, run in this process (typer's runner; the
    intake door tests run the installed command)."""
    from typer.testing import CliRunner

    from collectonce.cli import app

    args = ["submit", str(path), "--as", PROVIDER, "--json", "--catalog", str(CATALOG)]
    result = CliRunner().invoke(app, args, env={"COLLECTONCE_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def submit_by_api(path: Path, catalog: Any, settings: Any) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app

    _, token = create_token(settings, role="provider", subject=PROVIDER, catalog=catalog)
    with TestClient(build_app(catalog, settings)) as client:
        response = client.post(
            "/v1/submissions",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": (path.name, path.read_bytes())},
        )
    assert response.status_code == 201, response.text
    return response.json()


def submit_by_landing(path: Path, settings: Any, home: Path) -> dict[str, Any]:
    """Dropped in the landing folder and picked up by the flow's batch task, as the flow runs
    it."""
    from flows.ingest import ingest_batch_task

    settings.landing_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, settings.landing_dir / path.name)
    (receipt,) = ingest_batch_task.fn(
        names=[path.name],
        first_received=dt.datetime.now(dt.UTC).isoformat(),
        catalog_dir=str(CATALOG),
        home=str(home),
    )
    assert not (settings.landing_dir / path.name).exists()
    assert (settings.landing_dir / "processed" / path.name).is_file()
    return receipt


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_through_every_door(
    fmt: str, door: str, made, catalog, settings, home: Path
) -> None:
    """It accepts the file and stores exactly its facts, whichever door it comes through."""
    user_file = _file(made, fmt)
    if door == "cli":
        receipt = submit_by_cli(user_file.path, home)
    elif door == "api":
        receipt = submit_by_api(user_file.path, catalog, settings)
    else:
        receipt = submit_by_landing(user_file.path, settings, home)
    check(receipt, user_file, settings)


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_one_flow_run_takes_every_format_from_the_landing_folder(
    harness, settings, home: Path, tmp_path: Path
) -> None:
    """It picks up a landing folder holding one file of every format (each for its own month)
    in one `watch_landing` run, and stores each file's facts."""
    from flows.ingest import watch_landing

    months = [str(p) for p in pd.period_range("2017-10", periods=len(MAKERS), freq="M")]
    files = []
    for (key, make), month in zip(MAKERS.items(), months, strict=True):
        if key.startswith("libreoffice") and soffice() is None:
            continue
        files.append(make(tmp_path, month))
    settings.landing_dir.mkdir(parents=True, exist_ok=True)
    for user_file in files:
        shutil.copyfile(user_file.path, settings.landing_dir / user_file.path.name)
    (settings.landing_dir / "RF4_2019-03.csv").symlink_to(tmp_path / "deleted.csv")
    receipts = watch_landing(catalog_dir=str(CATALOG), home=str(home), files_per_task=5)
    by_name = {r["original_name"]: r for r in receipts}
    assert sorted(by_name) == sorted(f.path.name for f in files)
    for user_file in files:
        check(by_name[user_file.path.name], user_file, settings)
    assert not [p for p in settings.landing_dir.iterdir() if p.is_file()]
    # The dangling link is reported on the run, with what to do, not skipped in silence.
    (refused,) = [str(a.data) for a in artifacts("landing-refused")]
    assert "RF4_2019-03.csv is a symbolic link" in refused and "does not exist" in refused


def artifacts(key: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
