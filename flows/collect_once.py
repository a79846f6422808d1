"""The whole mission in one flow: take files in, publish once, give data back, measure burden."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.burden import report_burden
from flows.common import open_settings
from flows.feedback import send_provider_feedback as _feedback
from flows.feedback import task_runner_for
from flows.ingest import watch_landing
from flows.publish import build_views, publish_dataset


@flow(name="collect_once", flow_run_name="collect once", log_prints=True)
def collect_once(
    catalog_dir: str | None = None,
    home: str | None = None,
    build_packs: bool = True,
    use_dask: bool = False,
) -> dict[str, Any]:
    """Ingest the landing folder, publish, render views, rebuild changed packs, report burden."""
    log = get_run_logger()
    settings = open_settings(home)

    def runner() -> Any:
        return task_runner_for(use_dask, settings.dask_address, settings.dask_workers)

    receipts = watch_landing.with_options(task_runner=runner())(catalog_dir=catalog_dir, home=home)
    publication = publish_dataset(catalog_dir=catalog_dir, home=home)
    views: list[dict[str, Any]] = []
    packs: dict[str, Any] = {"built": 0, "providers": []}
    if publication.get("version") is not None:
        views = build_views(catalog_dir=catalog_dir, home=home)
        if build_packs:
            packs = _feedback.with_options(task_runner=runner())(catalog_dir=catalog_dir, home=home)
    burden = report_burden(catalog_dir=catalog_dir, home=home)
    log.info("collect once: %d files, publication %s", len(receipts), publication.get("version"))
    return {
        "receipts": receipts,
        "publication": publication,
        "views": views,
        "packs": packs,
        "burden": burden["summary"],
        "burden_paths": burden["paths"],
    }
