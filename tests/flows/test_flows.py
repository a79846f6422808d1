"""The flows run end to end on a tiny catalogue, refuse bad parameters up front, and keep going
when one provider's work fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _artifacts(key: str, flow_run_id: Any = None) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    wanted = ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
    if flow_run_id is not None:
        wanted.flow_run_id = ArtifactFilterFlowRunId(any_=[flow_run_id])
    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=wanted)


def _run_failed(state: Any) -> tuple[str, str]:
    """The state message of a flow run that must have failed, and the failure artifact its
    failure hook left on it."""
    assert state.is_failed(), state
    found = [str(a.data) for a in _artifacts("failure", state.state_details.flow_run_id)]
    (summary,) = [d for d in found if "**Why:**" in d]
    assert str(state.message) in summary
    return str(state.message), summary


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
    """A run for a provider that does not exist fails before any work, saying what to pass,
    and leaves a failure artifact on the run."""
    from flows.feedback import send_provider_feedback

    state = send_provider_feedback(
        providers=["RF5", "RRK"],
        catalog_dir=str(catalog_min_dir),
        home=str(home),
        return_state=True,
    )
    message, artifact = _run_failed(state)
    assert "unknown provider code(s) RF5 (did you mean RF4?)" in message
    assert "providers.csv" in message
    assert "RF5" in artifact and "Run the deployment again with the parameters" in artifact
    assert not (home / "packs").exists()


def test_future_or_malformed_period_fails_fast(harness, home: Path, catalog_min_dir: Path) -> None:
    """A view for a period in the future, or not a month, is refused before any work starts."""
    from flows.publish import build_views

    args = {"catalog_dir": str(catalog_min_dir), "home": str(home), "return_state": True}
    message, artifact = _run_failed(build_views(period_from="2999-01", **args))
    assert "period_from 2999-01 is in the future" in message and "or earlier" in message
    assert "2999-01" in artifact
    message, _ = _run_failed(build_views(period_to="2019-13", **args))
    assert "period_to '2019-13' is not a month: pass YYYY-MM" in message
    assert not (home / "views").exists()


def test_missing_catalogue_fails_fast(harness, home: Path, tmp_path: Path) -> None:
    """A catalogue folder that is not there fails the run at once, naming the parameter."""
    from flows.publish import publish_dataset

    message, _ = _run_failed(
        publish_dataset(catalog_dir=str(tmp_path / "nowhere"), home=str(home), return_state=True)
    )
    assert "does not exist: pass catalog_dir" in message


def _landing_pair(home: Path, period: str = "2019-02") -> None:
    _write(
        home / "landing" / f"RF4_{period}.csv",
        f"provider_code,period,metric_id,value\nRF4,{period},ae_attendances_type1,20001\n",
    )
    _write(
        home / "landing" / f"RRK_{period}.csv",
        f"provider_code,period,metric_id,value\nRRK,{period},ae_attendances_type1,9876\n",
    )


def _crash_on_rrk_files(monkeypatch: pytest.MonkeyPatch) -> Any:
    import collectonce.ingest.landing as landing

    real = landing.ingest_landing

    def crashing(catalog, settings, *, names=None, **kw):
        if any(name.startswith("RRK") for name in names or []):
            raise RuntimeError("a bug met in RRK's file")
        return real(catalog, settings, names=names, **kw)

    monkeypatch.setattr(landing, "ingest_landing", crashing)
    return real


def test_a_crashing_file_does_not_stop_the_others(
    harness, home: Path, catalog_min_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that crashes its batch is isolated: the other file of the same batch lands, the
    crashing one stays in the landing folder with a failure artifact, and a re-run takes it."""
    from flows.ingest import watch_landing

    import collectonce.ingest.landing as landing

    _landing_pair(home)
    real = _crash_on_rrk_files(monkeypatch)
    state = watch_landing(catalog_dir=str(catalog_min_dir), home=str(home), return_state=True)
    assert state.is_failed()
    assert "RRK_2019-02.csv" in str(state.message) and "the other 1 landed" in str(state.message)
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert run.name == "ingest RF4_2019-02.csv and 1 more"  # what the UI lists
    assert (home / "landing" / "processed" / "RF4_2019-02.csv").exists()
    assert (home / "landing" / "RRK_2019-02.csv").exists()
    details = [str(a.data) for a in _artifacts("failure", state.state_details.flow_run_id)]
    assert any("RRK_2019-02.csv" in d and "a bug met in RRK's file" in d for d in details)
    # the file that landed is named only in the run's name, never as a failure
    assert not any("RF4_2019-02.csv" in d.replace(run.name, "") for d in details)

    monkeypatch.setattr(landing, "ingest_landing", real)
    (again,) = watch_landing(catalog_dir=str(catalog_min_dir), home=str(home))
    assert again["original_name"] == "RRK_2019-02.csv" and again["status"] == "accepted"


def test_collect_once_gives_back_what_landed_when_a_file_crashes(
    harness, home: Path, catalog_min_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One provider's crash does not stop the chain: the rest is published, its views and packs
    built, and the parent run ends Failed saying which stage failed."""
    from flows.collect_once import collect_once

    from collectonce.publish.unified import read_unified
    from collectonce.settings import get_settings

    _landing_pair(home)
    _crash_on_rrk_files(monkeypatch)
    state = collect_once(catalog_dir=str(catalog_min_dir), home=str(home), return_state=True)
    message, artifact = _run_failed(state)
    assert message.count("failed (") == 1 and "ingest failed" in message
    assert "RRK_2019-02.csv" in artifact
    published = read_unified(get_settings(home=home))
    assert set(published.loc[published["value"].notna(), "provider_code"]) == {"RF4"}
    assert (home / "packs" / "RF4" / "RF4_pack.html").exists()
    assert (home / "views" / "nhse_ae_monthly.csv").exists()


def test_a_crashing_pack_does_not_stop_the_others(
    harness, home: Path, catalog_min_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider whose pack crashes fails alone, even inside a chunk of several providers: the
    others' packs are built, the run fails naming it, and a failure artifact says why."""
    from flows.feedback import send_provider_feedback
    from flows.ingest import watch_landing
    from flows.publish import publish_dataset

    import collectonce.feedback.rebuild as pack

    args = {"catalog_dir": str(catalog_min_dir), "home": str(home)}
    _landing_pair(home)
    watch_landing(**args)
    publish_dataset(**args)
    real = pack.build_all_packs

    def crashing(catalog, settings, providers=None, **kw):
        if "RRK" in (providers or []):
            raise ZeroDivisionError("RRK's series broke the chart")
        return real(catalog, settings, providers=providers, **kw)

    monkeypatch.setattr(pack, "build_all_packs", crashing)
    state = send_provider_feedback(changed_only=False, chunk_size=40, **args, return_state=True)
    message, _ = _run_failed(state)
    assert "packs failed for 1 provider(s): RRK" in message
    assert (home / "packs" / "RF4" / "RF4_pack.html").exists()
    assert not (home / "packs" / "RRK").exists()
    details = [str(a.data) for a in _artifacts("failure", state.state_details.flow_run_id)]
    assert any("packs for RRK failed" in d and "RRK's series broke" in d for d in details)
    (table,) = _artifacts("packs", state.state_details.flow_run_id)
    assert '"provider": "RRK", "status": "failed"' in str(table.data)
    assert '"provider": "RF4", "status": "built"' in str(table.data)


def test_a_publication_says_what_changed(harness, home: Path, catalog_min_dir: Path) -> None:
    """The publication artifact lists the revised value against the previous publication."""
    from flows.ingest import watch_landing
    from flows.publish import publish_dataset

    args = {"catalog_dir": str(catalog_min_dir), "home": str(home)}
    _landing_pair(home)
    _write(
        home / "landing" / "R1H_2019-02.csv",
        "provider_code,period,metric_id,value\nR1H,2019-02,ae_breaches_4hr_type1,*\n",
    )
    watch_landing(**args)
    first = publish_dataset(**args)
    # every row of the first publication is added, the suppressed one too, so the count
    # agrees with `collectonce publications`
    assert first["changes"]["against"] is None
    assert first["changes"]["added"] == first["counts"]["rows"] >= 3
    _write(
        home / "landing" / "RF4_2019-02_revision.csv",
        "provider_code,period,metric_id,value\nRF4,2019-02,ae_attendances_type1,20100\n",
    )
    watch_landing(**args)
    state = publish_dataset(**args, return_state=True)
    second = state.result()
    assert second["version"] == first["version"] + 1
    assert second["changes"]["revised"] >= 1 and second["changes"]["providers"] == ["RF4"]
    (artifact,) = _artifacts("publication", state.state_details.flow_run_id)
    assert f"Against v{first['version']}" in str(artifact.data)
    assert "| RF4 | 2019-02 | ae_attendances_type1 | 20,001 | 20,100 | reported |" in str(
        artifact.data
    )
    assert publish_dataset(**args)["created"] is False


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
    """Given a DaskTaskRunner through with_options (`on_dask`), the same flow validates its
    batches on a local Dask cluster of worker processes, and names each batch's run for its
    files."""
    from flows.common import on_dask
    from flows.ingest import watch_landing
    from prefect_dask import DaskTaskRunner

    _landing_pair(home)
    on_cluster = on_dask(watch_landing, workers=1)
    assert isinstance(on_cluster.task_runner, DaskTaskRunner)
    receipts = on_cluster(catalog_dir=str(catalog_min_dir), home=str(home), files_per_task=1)
    assert sorted(r["status"] for r in receipts) == ["accepted", "accepted"]
    assert sorted(p.name for p in (home / "landing" / "processed").iterdir()) == [
        "RF4_2019-02.csv",
        "RRK_2019-02.csv",
    ]


def test_a_configured_dask_scheduler_runs_the_deployed_flows(
    harness, home: Path, catalog_min_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With COLLECTONCE_DASK_ADDRESS set (as on a worker), the landing and pack flows are
    declared with a DaskTaskRunner for that cluster: a deployed flow (a new process on the
    worker) honours the setting without any parameter."""
    from distributed import LocalCluster
    from flows.common import default_task_runner
    from flows.feedback import send_provider_feedback
    from flows.ingest import watch_landing
    from flows.publish import publish_dataset

    args = {"catalog_dir": str(catalog_min_dir), "home": str(home)}
    _landing_pair(home)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True) as cluster:
        monkeypatch.setenv("COLLECTONCE_DASK_ADDRESS", cluster.scheduler_address)
        # what importing the flows in a worker's flow-run process declares them with
        runner = default_task_runner()
        assert type(runner).__name__ == "DaskTaskRunner"
        before = cluster.scheduler.transition_counter
        receipts = watch_landing.with_options(task_runner=runner)(files_per_task=1, **args)
        landed = cluster.scheduler.transition_counter
        publish_dataset(**args)
        packs = send_provider_feedback.with_options(task_runner=default_task_runner())(
            changed_only=False, chunk_size=1, **args
        )
        after = cluster.scheduler.transition_counter
    assert sorted(r["status"] for r in receipts) == ["accepted", "accepted"]
    assert sorted(packs["providers"]) == ["RF4", "RRK"]
    assert landed > before and after > landed, "the tasks did not run on the configured cluster"
