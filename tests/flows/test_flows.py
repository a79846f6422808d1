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


def _landing_pair(home: Path) -> None:
    _write(
        home / "landing" / "RF4_2019-02.csv",
        "provider_code,period,metric_id,value\nRF4,2019-02,ae_attendances_type1,20001\n",
    )
    _write(
        home / "landing" / "RRK_2019-02.csv",
        "provider_code,period,metric_id,value\nRRK,2019-02,ae_attendances_type1,9876\n",
    )


def test_a_failed_batch_does_not_stop_the_others(
    harness, home: Path, catalog_min_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One batch crashing leaves its file waiting and a failure artifact; the other lands."""
    from flows.ingest import watch_landing
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    import collectonce.ingest.service as service

    _landing_pair(home)
    real = service.ingest_landing

    def flaky(catalog, settings, *, names=None, **kw):
        if names and names[0].startswith("RRK"):
            raise RuntimeError("a bug met in RRK's batch")
        return real(catalog, settings, names=names, **kw)

    monkeypatch.setattr(service, "ingest_landing", flaky)
    with pytest.raises(RuntimeError, match="stay in the landing folder"):
        watch_landing(catalog_dir=str(catalog_min_dir), home=str(home), files_per_task=1)
    assert (home / "landing" / "processed" / "RF4_2019-02.csv").exists()
    assert (home / "landing" / "RRK_2019-02.csv").exists()
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["failure"]))
        )
    assert any("a bug met in RRK's batch" in str(a.data) for a in artifacts)

    monkeypatch.setattr(service, "ingest_landing", real)
    (again,) = watch_landing(catalog_dir=str(catalog_min_dir), home=str(home))
    assert again["original_name"] == "RRK_2019-02.csv" and again["status"] == "accepted"


def test_views_are_reused_until_the_publication_changes(
    harness, home: Path, catalog_min_dir: Path
) -> None:
    """A second render of the same publication is served from Prefect's cache (the file is not
    rewritten); a new publication renders again."""
    from flows.ingest import watch_landing
    from flows.publish import build_views, publish_dataset

    args = {"catalog_dir": str(catalog_min_dir), "home": str(home)}
    _landing_pair(home)
    watch_landing(**args)
    publish_dataset(**args)
    (first,) = build_views(requests=["nhse_ae_monthly"], **args)
    written = Path(first["path"]).stat().st_mtime_ns
    build_views(requests=["nhse_ae_monthly"], **args)
    assert Path(first["path"]).stat().st_mtime_ns == written
    Path(first["path"]).unlink()  # a lost file is rendered again, whatever the cache holds
    build_views(requests=["nhse_ae_monthly"], **args)
    assert Path(first["path"]).exists()

    _write(
        home / "landing" / "RF4_2019-03.csv",
        "provider_code,period,metric_id,value\nRF4,2019-03,ae_attendances_type1,20500\n",
    )
    watch_landing(**args)
    publish_dataset(**args)
    (fresh,) = build_views(requests=["nhse_ae_monthly"], **args)
    assert Path(fresh["path"]).stat().st_mtime_ns != written
    assert fresh["rows"] > first["rows"]


def test_landing_batches_run_on_a_dask_cluster(harness, home: Path, catalog_min_dir: Path) -> None:
    """The same flow validates its batches on a local Dask cluster of two worker processes."""
    from flows.feedback import task_runner_for
    from flows.ingest import watch_landing

    _landing_pair(home)
    on_dask = watch_landing.with_options(task_runner=task_runner_for(True, None, 2))
    receipts = on_dask(catalog_dir=str(catalog_min_dir), home=str(home), files_per_task=1)
    assert sorted(r["status"] for r in receipts) == ["accepted", "accepted"]
    assert sorted(p.name for p in (home / "landing" / "processed").iterdir()) == [
        "RF4_2019-02.csv",
        "RRK_2019-02.csv",
    ]
