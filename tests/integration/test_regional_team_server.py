"""A regional team's day on the real server: the bundled data submitted and published with the
CLI, a `--region` token made with the CLI, roll-ups and the pack pulled over HTTP, and every
other region, route and provider refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from collectonce.testing import served

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "catalog"
AE_CSV = ROOT / "data" / "ae_attendances.csv"


def cli(home: Path, *args: str) -> str:
    env = {**os.environ, "COLLECTONCE_HOME": str(home), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "collectonce.cli", *args, "--catalog", str(CATALOG)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_regional_team_pulls_its_region_and_nothing_else(tmp_path: Path) -> None:
    import httpx

    home = tmp_path / "home"
    cli(home, "submit", str(AE_CSV))
    cli(home, "publish")
    london = json.loads(cli(home, "token", "create", "--region", "London", "--json"))["token"]
    auth = {"Authorization": f"Bearer {london}"}
    with served(home, CATALOG, log=tmp_path / "server.log") as base:
        rows = httpx.get(
            f"{base}/v1/rollups/region",
            params={"metric": "ae_4hr_performance_all", "from": "2019-03", "to": "2019-03"},
            headers=auth,
            timeout=30,
        )
        assert rows.status_code == 200, rows.text
        (row,) = rows.json()["rows"]
        data = pd.read_csv(AE_CSV)
        regions = pd.read_csv(CATALOG / "providers.csv", dtype=str, keep_default_na=False)
        in_london = set(regions.loc[regions["region"] == "London", "ods_code"])
        march = data[(data["period"] == "2019-03-01") & data["org_code"].isin(in_london)]
        expected = 100 * (1 - march["breaches"].sum() / march["attendances"].sum())
        assert row["code"] == "London" and row["value"] == pytest.approx(expected, abs=1e-6)

        pack = httpx.get(f"{base}/v1/packs/region/London", headers=auth, timeout=60)
        assert pack.status_code == 200 and "London region" in pack.text
        metric = "metric=ae_attendances_type1"
        refused = {
            "another region": f"{base}/v1/rollups/region?{metric}&region=Midlands",
            "England": f"{base}/v1/rollups/england?metric=ae_attendances_type1",
            "another region's pack": f"{base}/v1/packs/region/Midlands",
            "a Midlands trust": f"{base}/v1/providers/RRK/data",
            "a request's view": f"{base}/v1/requests/nhse_ae_monthly/view",
        }
        for what, url in refused.items():
            assert httpx.get(url, headers=auth, timeout=30).status_code == 403, what
        assert httpx.get(f"{base}/v1/providers/RF4/data", headers=auth, timeout=30).is_success
        assert httpx.get(f"{base}/v1/rollups/region?metric=ae_attendances_type1").status_code == 401
