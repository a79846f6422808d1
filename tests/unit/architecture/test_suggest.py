"""One "did you mean" for every message that offers one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from collectonce.suggest import close_matches, closest


def test_the_closest_known_code_is_offered() -> None:
    assert closest("ae_breaches_4hr_typ1", ["ae_attendances_type1", "ae_breaches_4hr_type1"]) == (
        "ae_breaches_4hr_type1"
    )
    assert closest("ZZZZZZ", ["RF4", "RRK"]) is None


def test_ods_codes_sharing_a_start_come_first() -> None:
    known = ["FR4", "RF4", "RFF", "RFR", "XYZ"]
    shown = close_matches("RF5", known, limit=3, prefer_shared_start=True)
    assert shown[0].startswith("RF") and "XYZ" not in shown
    assert len(shown) == 3


def test_a_submission_is_offered_the_closest_codes_at_the_door(tmp_path: Path) -> None:
    """A misspelt metric and an unknown provider in a submitted CSV are each reported with the
    code they were probably meant to be, through `collectonce submit`."""
    path = tmp_path / "RF4_2019-01.csv"
    path.write_text(
        "provider_code,period,metric_id,value\n"
        "RF4,2019-01,ae_attendances_typ1,1200\n"
        "RRK1,2019-01,ae_attendances_type1,1200\n",
        encoding="utf-8",
    )
    env = {**os.environ, "COLLECTONCE_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "collectonce"), "submit", str(path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert "Did you mean 'ae_attendances_type1'?" in result.stdout, result.stdout + result.stderr
    assert "Did you mean RRK?" in result.stdout, result.stdout
