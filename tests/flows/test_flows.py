"""The flows run end to end on a tiny catalogue, and refuse bad parameters up front."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_collect_once_end_to_end(harness, home: Path, catalog_min_dir: Path) -> None:
    """Files in the landing folder become receipts, a publication, views, packs and burden."""
    from flows.collect_once import collect_once

    landing = home / "landing"
    _write(
        landing / "RF4_2019-01.csv",
        "provider_code,period,metric_id,value\n"
        "RF4,2019-01,ae_attendances_type1,21289\n"
        "RF4,2019-01,ae_breaches_4hr_type1,2879\n"
        "RF4,2019-01,ae_emergency_admissions,5060\n",
    )
    _write(
        landing / "RRK_2019-01.csv",
        "provider_code,period,metric_id,value\n"
        "RRK,2019-01,ae_attendances_type1,10032\n"
        "RRK,2019-01,ae_breaches_4hr_type1,12000\n",
    )
    result = collect_once(catalog_dir=str(catalog_min_dir), home=str(home))
    statuses = sorted(r["status"] for r in result["receipts"])
    assert statuses == ["accepted", "partially_accepted"] or "rejected" in statuses
    assert result["publication"]["version"] is not None
    assert {v["request"] for v in result["views"]} == {
        "nhse_ae_monthly",
        "cqc_uec_quarterly",
        "icb_quality_monthly",
    }
    assert result["burden"]["hours_after"] < result["burden"]["hours_before"]
    assert (home / "packs" / "RF4").exists()

    again = collect_once(catalog_dir=str(catalog_min_dir), home=str(home))
    assert again["receipts"] == []
    assert again["publication"]["created"] is False


def test_unknown_provider_fails_fast(harness, home: Path, catalog_min_dir: Path) -> None:
    """A run for a provider that does not exist fails with a clear message."""
    from flows.common import BadParameters
    from flows.feedback import send_provider_feedback

    with pytest.raises(BadParameters, match="unknown provider code"):
        send_provider_feedback(providers=["ZZZ"], catalog_dir=str(catalog_min_dir), home=str(home))


def test_future_period_fails_fast(harness, home: Path, catalog_min_dir: Path) -> None:
    """A view for a period in the future is refused before any work starts."""
    from flows.common import BadParameters
    from flows.publish import build_views

    with pytest.raises(BadParameters, match="in the future"):
        build_views(period_from="2999-01", catalog_dir=str(catalog_min_dir), home=str(home))
