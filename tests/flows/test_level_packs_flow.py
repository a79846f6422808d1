"""The feedback flow writes England's and each region's pack after a publication, only where
their figures changed, and lists them in an artifact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _land(home: Path, name: str, text: str) -> None:
    path = home / "landing" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _level_table(flow_run_id: Any) -> dict[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    wanted = ArtifactFilter(
        key=ArtifactFilterKey(any_=["level-packs"]),
        flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
    )
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(artifact_filter=wanted)
    rows = artifact.data if isinstance(artifact.data, list) else json.loads(artifact.data)
    return {row["title"]: row["status"] for row in rows}


def test_the_feedback_flow_writes_level_packs_where_their_figures_changed(
    harness, home: Path, catalog_min_dir: Path
) -> None:
    from flows.feedback import send_provider_feedback
    from flows.ingest import watch_landing
    from flows.publish import publish_dataset

    args = {"catalog_dir": str(catalog_min_dir), "home": str(home)}
    row = "provider_code,period,metric_id,value\n{},2019-02,ae_attendances_type1,{}\n"
    _land(home, "RF4_2019-02.csv", row.format("RF4", 20001))  # London
    _land(home, "RRK_2019-02.csv", row.format("RRK", 9876))  # Midlands
    watch_landing(**args)
    publish_dataset(**args)
    levels = home / "packs" / "levels"

    first = send_provider_feedback(**args, return_state=True)
    assert first.is_completed(), first
    built = _level_table(first.state_details.flow_run_id)
    assert built["England"] == built["London region"] == built["Midlands region"] == "built"
    for name in ("england", "london", "midlands"):
        assert (levels / f"{name}_pack.html").is_file()
    assert "Barking" in (levels / "london_pack.html").read_text()
    assert set(first.result()["level_packs"]) == set(built)

    # Nothing changed: nothing is rewritten.
    stamp = (levels / "england_pack.html").stat().st_mtime_ns
    second = send_provider_feedback(**args, return_state=True)
    assert set(_level_table(second.state_details.flow_run_id).values()) == {"unchanged"}
    assert (levels / "england_pack.html").stat().st_mtime_ns == stamp

    # RRK revises its figure: England's and the Midlands' packs change, London's does not.
    _land(home, "RRK_2019-02_revised.csv", row.format("RRK", 9900))
    watch_landing(**args)
    publish_dataset(**args)
    third = send_provider_feedback(**args, return_state=True)
    after = _level_table(third.state_details.flow_run_id)
    assert (after["England"], after["Midlands region"]) == ("built", "built")
    assert after["London region"] == "unchanged"
    assert "9,900" in (levels / "midlands_pack.html").read_text()
