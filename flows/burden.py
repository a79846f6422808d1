"""The burden report: hours and cost before and after collecting once, against targets."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from flows.common import FLOW_OPTIONS, markdown_artifact, open_catalog, open_settings


@task(name="compute-burden", cache_policy=None)
def burden_task(catalog_dir: str | None, home: str | None) -> dict[str, Any]:
    from collectonce.burden.model import compute_burden
    from collectonce.burden.report import render_burden_markdown, write_burden_report

    catalog = open_catalog(catalog_dir)
    settings = open_settings(home)
    report = compute_burden(catalog)
    paths = write_burden_report(report, settings.reports_dir)
    return {
        "summary": report.to_dict(),
        "markdown": render_burden_markdown(report),
        "paths": {k: str(v) for k, v in paths.items()},
    }


@flow(name="report_burden", flow_run_name="report burden", **FLOW_OPTIONS)
def report_burden(catalog_dir: str | None = None, home: str | None = None) -> dict[str, Any]:
    """Compute the burden before and after, write the report, and show it in the UI."""
    open_catalog(catalog_dir)  # fail fast on a missing catalogue
    result = burden_task(catalog_dir, home)
    markdown_artifact(
        "burden-report", result["markdown"], "Burden before and after collecting once"
    )
    summary = result["summary"]
    get_run_logger().info(
        "burden %s hours a year before, %s after collecting once; report in %s",
        f"{summary.get('hours_before', 0):,.0f}",
        f"{summary.get('hours_after', 0):,.0f}",
        result["paths"].get("html", next(iter(result["paths"].values()), "")),
    )
    return result
