"""`collectonce submissions list` shows the submissions a crash left without a receipt (their
values stored but not published), with the fix; sending the file again as told finishes them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "fixtures" / "submissions"


def collectonce(home: Path, catalog: Path, *args: str, fault: str | None = None):
    command = Path(sys.executable).with_name("collectonce")
    env = {**os.environ, "COLLECTONCE_HOME": str(home)}
    env.pop("COLLECTONCE_FAULT_AT", None)
    if fault:
        env["COLLECTONCE_FAULT_AT"] = fault
    return subprocess.run(
        [str(command) if command.exists() else "collectonce", *args, "--catalog", str(catalog)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_a_submission_killed_after_storing_is_listed_with_its_fix(
    tmp_path: Path, shipped_catalog_dir: Path
) -> None:
    home = tmp_path / "home"
    path = tmp_path / "rf4__nhse_published_monthly_ae.csv"
    shutil.copyfile(SHARED / path.name, path)
    killed = collectonce(
        home, shipped_catalog_dir, "submit", str(path), "--as", "RF4", fault="submit:stored"
    )
    assert killed.returncode != 0  # killed between storing the values and the receipt

    listed = collectonce(home, shipped_catalog_dir, "submissions", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    answer = json.loads(listed.stdout)
    assert answer["count"] == 0
    [left] = answer["unfinished"]
    assert left["submission_id"].endswith("_RF4") and left["as_provider"] == "RF4"
    assert left["original_name"] == path.name and left["published"] is False
    assert (left["providers"], left["periods"]) == (["RF4"], ["2019-01"]) and left["values"] > 0
    assert left["file_sha256"] in left["fix"] and "--as RF4" in left["fix"]
    assert Path(left["archive"]).is_file() and left["archive"] in left["fix"]

    human = collectonce(home, shipped_catalog_dir, "submissions", "list")
    assert "no receipt" in human.stdout and "not published" in human.stdout
    assert left["submission_id"] in human.stdout and "fix:" in human.stdout

    # The fix as printed: the archived copy, sent again as RF4.
    again = collectonce(
        home, shipped_catalog_dir, "submit", left["archive"], "--as", "RF4", "--json"
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["submission_id"] == left["submission_id"]
    after = json.loads(
        collectonce(home, shipped_catalog_dir, "submissions", "list", "--json").stdout
    )
    assert after["unfinished"] == [] and after["count"] == 1
