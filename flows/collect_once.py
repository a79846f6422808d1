"""The whole mission in one flow: take files in, publish once, give data back, measure burden."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.burden import report_burden
from flows.common import FLOW_OPTIONS, on_dask, open_catalog
from flows.feedback import send_provider_feedback
from flows.ingest import watch_landing
from flows.publish import build_views, publish_dataset


@flow(name="collect_once", flow_run_name="collect once", **FLOW_OPTIONS)
def collect_once(
    catalog_dir: str | None = None,
    home: str | None = None,
    build_packs: bool = True,
    use_dask: bool = False,
) -> dict[str, Any]:
    """Ingest the landing folder, publish, render views, rebuild changed packs, report burden.

    A stage that fails does not stop the stages that do not need it: when some landing files
    fail, what did land is still published and given back. The run then ends Failed, naming
    each failed stage and why.
    """
    log = get_run_logger()
    open_catalog(catalog_dir)  # fail fast on a missing catalogue
    args = {"catalog_dir": catalog_dir, "home": home}
    failed: dict[str, str] = {}

    def run(stage: str, subflow: Any, default: Any, **params: Any) -> Any:
        state = subflow(**args, **params, return_state=True)
        if state.is_completed():
            return state.result()
        failed[stage] = str(state.message or state.name)
        log.error("%s failed: %s", stage, failed[stage])
        return default

    # With use_dask the heavy subflows get a DaskTaskRunner through with_options.
    landing = on_dask(watch_landing) if use_dask else watch_landing
    feedback = on_dask(send_provider_feedback) if use_dask else send_provider_feedback
    receipts = run("ingest", landing, [])
    publication = run("publish", publish_dataset, {"version": None, "created": False})
    views: list[dict[str, Any]] = []
    packs: dict[str, Any] = {"built": 0, "providers": []}
    if publication.get("version") is not None:
        views = run("views", build_views, [])
        if build_packs:
            packs = run("packs", feedback, packs)
    burden = run("burden", report_burden, {"summary": {}, "paths": {}})
    log.info(
        "collect once: %d file(s) received, publication %s, %d view(s), %d pack(s)",
        len(receipts),
        publication.get("version"),
        len(views),
        packs.get("built", 0),
    )
    if failed:
        raise RuntimeError(
            "; ".join(f"{stage} failed ({why})" for stage, why in failed.items())
            + ". The other stages ran; see each failed run's failure artifact, fix, re-run"
        )
    return {
        "receipts": receipts,
        "publication": publication,
        "views": views,
        "packs": packs,
        "burden": burden["summary"],
        "burden_paths": burden["paths"],
    }
