"""Flows that publish the unified dataset and render each request's view of it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from flows.common import (
    IO_RETRIES,
    BadParameters,
    check_period,
    markdown_artifact,
    open_catalog,
    open_settings,
    table_artifact,
)


@task(name="publish-unified", **IO_RETRIES)
def publish_task(catalog_dir: str | None, home: str | None) -> dict[str, Any]:
    from collectonce.publish.errors import NothingToPublish
    from collectonce.publish.unified import latest_version, publish

    settings = open_settings(home)
    try:
        return publish(open_catalog(catalog_dir), settings).to_dict()
    except NothingToPublish as exc:
        return {"version": latest_version(settings), "created": False, "reason": str(exc)}


@flow(name="publish_dataset", flow_run_name="publish dataset", log_prints=True)
def publish_dataset(catalog_dir: str | None = None, home: str | None = None) -> dict[str, Any]:
    """Commit the current accepted values, with derived metrics, as one versioned publication."""
    publication = publish_task(catalog_dir, home)
    counts = publication.get("counts", {})
    if publication.get("created"):
        lines = [f"## Publication v{publication['version']}", ""]
        lines += [f"- {k.replace('_', ' ')}: {v}" for k, v in counts.items()]
        lines.append(f"- catalogue version: {publication.get('catalog_version')}")
        markdown_artifact("publication", "\n".join(lines), f"Publication v{publication['version']}")
    else:
        markdown_artifact(
            "publication",
            f"No change since publication v{publication.get('version')}: nothing new published.",
            "No change",
        )
    get_run_logger().info(
        "publication %s (new: %s)", publication.get("version"), publication.get("created")
    )
    return publication


def view_path(home: str | None, request_code: str, fmt: str) -> Path:
    return open_settings(home).root / "views" / f"{request_code}.{fmt}"


def view_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """A view is the same while the publication, the catalogue and the request are: re-running
    the flow then skips it (Prefect shows the run as Cached)."""
    from collectonce.publish.unified import latest_version

    settings = open_settings(parameters["home"])
    key = [
        str(settings.root),
        open_catalog(parameters["catalog_dir"]).fingerprint,
        latest_version(settings),
        parameters["request_code"],
        parameters["period_from"],
        parameters["period_to"],
        parameters["fmt"],
    ]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()


@task(
    name="render-view",
    task_run_name="view {request_code}",
    cache_key_fn=view_cache_key,
    persist_result=True,
    **IO_RETRIES,
)
def render_view_task(
    request_code: str,
    period_from: str | None,
    period_to: str | None,
    fmt: str,
    catalog_dir: str | None,
    home: str | None,
) -> dict[str, Any]:
    from collectonce.publish.exports import write_export
    from collectonce.publish.views import render_view

    catalog = open_catalog(catalog_dir)
    settings = open_settings(home)
    view = render_view(catalog, settings, request_code, period_from, period_to)
    out = view_path(home, request_code, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    write_export(view, fmt, tmp)
    tmp.replace(out)
    return {"request": request_code, "rows": len(view), "path": str(out)}


@flow(name="build_views", flow_run_name="build views", log_prints=True)
def build_views(
    requests: list[str] | None = None,
    period_from: str | None = None,
    period_to: str | None = None,
    fmt: str = "csv",
    catalog_dir: str | None = None,
    home: str | None = None,
) -> list[dict[str, Any]]:
    """Render every request (or the ones named) in its own codes and frequency."""
    catalog = open_catalog(catalog_dir)
    check_period(period_from)
    check_period(period_to)
    codes = requests or sorted(catalog.requests)
    unknown = sorted(set(codes) - set(catalog.requests))
    if unknown:
        raise BadParameters(f"unknown request(s) {', '.join(unknown)}")
    if fmt not in {"csv", "json", "parquet", "xlsx"}:
        raise BadParameters(f"format {fmt!r} is not one of csv, json, parquet, xlsx")
    futures = [
        # A view whose file has gone is rendered again whatever the cache holds.
        render_view_task.with_options(refresh_cache=not view_path(home, code, fmt).exists()).submit(
            code, period_from, period_to, fmt, catalog_dir, home
        )
        for code in codes
    ]
    views = [f.result() for f in futures]
    table_artifact(
        "views",
        [{"request": v["request"], "rows": v["rows"], "file": Path(v["path"]).name} for v in views],
        "Request views rendered from the latest publication",
    )
    return views
