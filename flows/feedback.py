"""Give data back: rebuild provider packs after a publication, only where data changed."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.task_runners import ThreadPoolTaskRunner

from flows.common import (
    IO_RETRIES,
    check_providers,
    open_catalog,
    open_settings,
    record_failure,
    table_artifact,
)


def task_runner_for(use_dask: bool, address: str | None, workers: int) -> Any:
    """Dask when asked (a scheduler address, or a local cluster); threads otherwise."""
    if not (use_dask or address):
        return ThreadPoolTaskRunner(max_workers=2)
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True}
    )


@task(name="providers-to-rebuild", **IO_RETRIES)
def providers_to_rebuild(
    providers: list[str] | None, changed_only: bool, catalog_dir: str | None, home: str | None
) -> list[str]:
    from collectonce.feedback.pack import providers_needing_packs

    return providers_needing_packs(
        open_catalog(catalog_dir),
        open_settings(home),
        providers=providers,
        changed_only=changed_only,
    )


@task(name="build-packs", **IO_RETRIES)
def build_packs_task(
    providers: list[str], catalog_dir: str | None, home: str | None
) -> list[dict[str, Any]]:
    """SPC for a batch of providers in one vectorised pass, then one pack each."""
    from collectonce.feedback.pack import build_all_packs

    built = build_all_packs(
        open_catalog(catalog_dir), open_settings(home), providers=providers, changed_only=False
    )
    return [dict(b) if isinstance(b, dict) else {"provider": str(b)} for b in built]


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@flow(name="send_provider_feedback", flow_run_name="provider feedback", log_prints=True)
def send_provider_feedback(
    providers: list[str] | None = None,
    changed_only: bool = True,
    chunk_size: int = 40,
    catalog_dir: str | None = None,
    home: str | None = None,
) -> dict[str, Any]:
    """Rebuild the packs of providers whose published data changed (or those named)."""
    catalog = open_catalog(catalog_dir)
    check_providers(catalog, providers)
    todo = providers_to_rebuild(providers, changed_only, catalog_dir, home)
    states = [
        (chunk, build_packs_task.submit(chunk, catalog_dir, home))
        for chunk in _chunks(todo, max(1, chunk_size))
    ]
    built: list[dict[str, Any]] = []
    failed: list[str] = []
    for chunk, future in states:
        state = future.wait() or future.state
        if state.is_completed():
            built.extend(future.result())
        else:
            failed.extend(chunk)
            record_failure(f"packs for {', '.join(chunk)}", str(state.message))
    table_artifact(
        "packs",
        [{"provider": p, "status": "failed"} for p in failed]
        + [{"provider": b.get("provider"), "status": "built"} for b in built],
        f"{len(built)} packs built, {len(failed)} failed",
    )
    get_run_logger().info("packs built for %d provider(s); %d failed", len(built), len(failed))
    if failed:
        raise RuntimeError(f"packs failed for {len(failed)} provider(s): {', '.join(failed[:10])}")
    return {"built": len(built), "providers": [b.get("provider") for b in built]}


def with_runner(use_dask: bool = False) -> Any:
    """The feedback flow bound to Dask when asked or configured."""
    settings = open_settings()
    runner = task_runner_for(use_dask, settings.dask_address, settings.dask_workers)
    return send_provider_feedback.with_options(task_runner=runner)
