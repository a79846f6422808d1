"""Give data back: rebuild provider packs after a publication, only where data changed, and
England's and each region's pack where their figures changed."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run, task_run

from flows.common import (
    FLOW_OPTIONS,
    IO_RETRIES,
    check_providers,
    default_task_runner,
    open_catalog,
    open_settings,
    record_failure,
    run_isolated,
    submit,
    table_artifact,
    task_runner_for,
)

__all__ = ["send_provider_feedback", "task_runner_for"]


@task(name="providers-to-rebuild", **IO_RETRIES)
def providers_to_rebuild(
    providers: list[str] | None, changed_only: bool, catalog_dir: str | None, home: str | None
) -> list[str]:
    from collectonce.feedback.errors import NoPublication
    from collectonce.feedback.rebuild import providers_needing_packs

    try:
        return providers_needing_packs(
            open_catalog(catalog_dir),
            open_settings(home),
            providers=providers,
            changed_only=changed_only,
        )
    except NoPublication:  # a trigger may follow a publish run that had nothing to publish
        return []


def _packs_run_name() -> str:
    providers = task_run.parameters.get("providers") or ["nobody"]
    more = f" and {len(providers) - 1} more" if len(providers) > 1 else ""
    return f"packs {providers[0]}{more}"


@task(name="build-packs", task_run_name=_packs_run_name, **IO_RETRIES)
def build_packs_task(
    providers: list[str], catalog_dir: str | None, home: str | None
) -> list[dict[str, Any]]:
    """SPC for a batch of providers in one vectorised pass, then one pack each."""
    from collectonce.feedback.rebuild import build_all_packs

    built = build_all_packs(
        open_catalog(catalog_dir), open_settings(home), providers=providers, changed_only=False
    )
    return [dict(b) if isinstance(b, dict) else {"provider": str(b)} for b in built]


@task(name="build-level-packs", **IO_RETRIES)
def build_level_packs_task(
    changed_only: bool, catalog_dir: str | None, home: str | None
) -> list[dict[str, Any]]:
    """England's pack and each region's, where their figures changed."""
    from collectonce.feedback.errors import NoPublication
    from collectonce.feedback.level_pack import build_changed_level_packs

    try:
        return build_changed_level_packs(
            open_catalog(catalog_dir), open_settings(home), changed_only=changed_only
        )
    except NoPublication:
        return []


def _feedback_run_name() -> str:
    providers = flow_run.parameters.get("providers")
    if not providers:
        return "provider feedback"
    more = f" and {len(providers) - 3} more" if len(providers) > 3 else ""
    return f"provider feedback {', '.join(providers[:3])}{more}"


@flow(
    name="send_provider_feedback",
    flow_run_name=_feedback_run_name,
    task_runner=default_task_runner(),
    **FLOW_OPTIONS,
)
def send_provider_feedback(
    providers: list[str] | None = None,
    changed_only: bool = True,
    chunk_size: int = 40,
    catalog_dir: str | None = None,
    home: str | None = None,
) -> dict[str, Any]:
    """Rebuild the packs of providers whose published data changed (or those named), in chunks
    that run side by side on the flow's task runner (Dask when COLLECTONCE_DASK_ADDRESS names a
    scheduler, or with `on_dask(send_provider_feedback)`). A provider whose pack fails does not
    stop the others: its chunk is split until only it is left."""
    catalog = open_catalog(catalog_dir)
    check_providers(catalog, providers)
    settings = open_settings(home)
    todo = providers_to_rebuild(providers, changed_only, catalog_dir, home)
    done, failures = run_isolated(
        lambda chunk: submit(build_packs_task, providers=chunk, catalog_dir=catalog_dir, home=home),
        todo,
        max(1, chunk_size),
    )
    built = sorted((b for chunk in done for b in chunk), key=lambda b: str(b.get("provider")))
    failed: list[str] = []
    for chunk, error in failures:
        failed.extend(chunk)
        record_failure(f"packs for {', '.join(chunk)}", error)
    levels = build_level_packs_task(changed_only, catalog_dir, home)
    table_artifact(
        "level-packs",
        [{k: p[k] for k in ("title", "status", "path")} for p in levels],
        f"{sum(p['status'] == 'built' for p in levels)} regional and England packs built, "
        f"{sum(p['status'] == 'unchanged' for p in levels)} unchanged",
    )
    table_artifact(
        "packs",
        [{"provider": p, "status": "failed"} for p in failed]
        + [{"provider": b.get("provider"), "status": "built"} for b in built],
        f"{len(built)} packs built, {len(failed)} failed",
    )
    get_run_logger().info(
        "packs built for %d provider(s) in %s; %d failed",
        len(built),
        settings.packs_dir,
        len(failed),
    )
    if failed:
        raise RuntimeError(
            f"packs failed for {len(failed)} provider(s): {', '.join(failed[:10])}; the other "
            f"{len(built)} were built. See the failure artifact, fix the cause, then re-run"
        )
    return {
        "built": len(built),
        "providers": [b.get("provider") for b in built],
        "level_packs": [p["title"] for p in levels if p["status"] == "built"],
    }
