"""`collectonce demo` runs the whole mission on the bundled real data, tells the truth about
where to look, and never empties a data folder it did not make."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from collectonce.demo import MARKER, DemoFolderInUse, next_steps, prepare_home

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "collectonce")


def _demo(home: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLLECTONCE_HOME": str(home)}
    env.pop("PREFECT_HOME", None)
    env.pop("COLLECTONCE_PREFECT_HOME_DEFAULTED", None)
    return subprocess.run(
        [CLI, "demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.integration
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """It ingests, publishes twice (a late revision), builds packs and reports burden; the
    files its closing lines name exist."""
    home = tmp_path / "home"
    done = _demo(home, "--months", "1", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["receipts"].get("accepted", 0) > 200
    assert result["publication"]["version"] == 1
    assert result["publication"]["counts"]["revised"] >= 1
    assert result["publication"]["changes"]["providers"] == ["RF4"]
    assert result["burden"]["hours_after"] < result["burden"]["hours_before"]
    pack = home / "packs" / "RRK" / "RRK_pack.html"
    assert pack.exists() and "RRK" in pack.read_text()
    assert (home / "prefect").is_dir(), "Prefect state must live under the data folder"
    assert any((home / "archive").rglob("*")), "every received file is archived"
    named = [
        Path(m)
        for line in next_steps(home, ROOT / "catalog")
        for m in re.findall(r"(/\S+\.(?:html|csv|json|md))", line)
    ]
    assert named and all(p.exists() for p in named), named
    assert (home / "views" / "nhse_ae_monthly.csv").exists()
    # the back-fill lands before any monthly file, so months are checked against their history
    from collectonce.ingest.service import list_receipts
    from collectonce.settings import get_settings

    receipts = sorted(list_receipts(get_settings(home=home)), key=lambda r: r.received_at)
    assert receipts[0].original_name == result["files"]["history"]
    assert receipts[0].status == "accepted"


def test_the_demo_refuses_a_data_folder_it_did_not_make(tmp_path: Path) -> None:
    """A real data folder is neither emptied nor written into; the message says what to do."""
    home = tmp_path / "live"
    (home / "tables").mkdir(parents=True)
    (home / "tokens.json").write_text("{}")
    for flag in ("--fresh", "--keep"):
        done = _demo(home, flag, timeout=120)
        assert done.returncode == 1
        assert "holds data the demo did not make" in done.stderr
        assert "--home" in done.stderr
    assert sorted(p.name for p in home.iterdir()) == ["tables", "tokens.json"]


def test_a_second_demo_starts_from_an_empty_folder(tmp_path: Path) -> None:
    """The demo's own folder is emptied on --fresh, kept on --keep, and marked as its own."""
    home = tmp_path / "demo"
    assert prepare_home(home, fresh=True) is False
    assert (home / MARKER).exists()
    (home / "landing").mkdir()
    assert prepare_home(home, fresh=False) is False
    assert (home / "landing").exists()
    assert prepare_home(home, fresh=True) is True
    assert sorted(p.name for p in home.iterdir()) == [MARKER]


def test_an_older_demo_folder_is_recognised_and_an_empty_one_used(tmp_path: Path) -> None:
    older = tmp_path / "older"
    (older / "later").mkdir(parents=True)
    (older / "tables").mkdir()
    assert prepare_home(older, fresh=True) is True
    empty = tmp_path / "empty"
    empty.mkdir()
    assert prepare_home(empty, fresh=True) is False
    file_in_the_way = tmp_path / "a-file"
    file_in_the_way.write_text("x")
    with pytest.raises(DemoFolderInUse):
        prepare_home(file_in_the_way, fresh=True)


def test_the_pull_instructions_point_at_the_demo_folder(tmp_path: Path) -> None:
    """Commands run from another shell reach the same data folder, and the curl line is whole."""
    lines = next_steps(tmp_path / "elsewhere", ROOT / "catalog")
    text = "\n".join(lines)
    assert f"export COLLECTONCE_HOME={tmp_path / 'elsewhere'}" in text
    assert text.index("export COLLECTONCE_HOME") < text.index("submissions list")
    (curl,) = [line for line in lines if "curl" in line]
    assert "/v1/requests/nhse_ae_monthly/view?from=2018-10&to=2019-03&format=csv'" in curl
