"""Flows that publish the unified dataset and render each request's view of it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from flows.common import (
    FLOW_OPTIONS,
    IO_RETRIES,
    UNIFIED_WRITERS,
    BadParameters,
    check_period,
    concurrency_limit,
    markdown_artifact,
    open_catalog,
    open_settings,
    table_artifact,
)

#: Rows shown in the publication artifact's table of changed values.
CHANGES_SHOWN = 25
_CHANGE_KINDS = ("added", "revised", "withdrawn")


@task(name="publish-unified", **IO_RETRIES)
def publish_task(catalog_dir: str | None, home: str | None) -> dict[str, Any]:
    """One commit of the unified table; writers hold the table's Prefect concurrency slot."""
    from collectonce.publish.errors import NothingToPublish
    from collectonce.publish.unified import latest_version
    from collectonce.rollup.publishing import publish_all as publish

    settings = open_settings(home)
    try:
        with concurrency_limit(UNIFIED_WRITERS):
            return publish(open_catalog(catalog_dir), settings).to_dict()
    except NothingToPublish as exc:
        return {"version": latest_version(settings), "created": False, "reason": str(exc)}


@task(name="publication-changes", **IO_RETRIES)
def publication_changes_task(home: str | None, version: int) -> dict[str, Any]:
    """What publication `version` changed against the one before: values added, revised and
    withdrawn, and which providers and periods they belong to."""
    from collectonce.publish.changes import publication_changes

    return publication_changes(open_settings(home), version, CHANGES_SHOWN)


def _listed(items: list[str], limit: int = 12) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more if items else "none"


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def publication_markdown(publication: dict[str, Any], changes: dict[str, Any]) -> str:
    """The publication artifact: what changed, then the counts of the whole table."""
    version = publication["version"]
    against = changes.get("against")
    lines = [f"## Publication v{version}", ""]
    if changes.get("error"):
        lines.append(f"What changed could not be listed: {changes['error']}")
    elif against is None:
        first = "The first publication" if version == 0 else "The previous one cannot be read"
        lines.append(
            f"{first}: {changes['added']:,} values from {len(changes['providers'])} providers."
        )
    else:
        lines.append(
            f"Against v{against}: {changes['added']:,} values added, {changes['revised']:,} "
            f"revised, {changes['withdrawn']:,} withdrawn."
        )
        lines.append(f"- providers changed: {_listed(changes['providers'])}")
        lines.append(f"- periods changed: {_listed(changes['periods'])}")
        if changes["examples"]:
            lines += ["", "| provider | period | metric | before | after | status |"]
            lines.append("|---|---|---|---|---|---|")
            for row in changes["examples"]:
                lines.append(
                    f"| {row['provider']} | {row['period']} | {row['metric']} "
                    f"| {_number(row['before'])} | {_number(row['after'])} | {row['status']} |"
                )
            shown = len(changes["examples"])
            total = changes["revised"] or changes["added"]
            if total > shown:
                lines.append(f"\n…and {total - shown:,} more.")
    counts = publication.get("counts", {})
    lines += ["", "### The published table", ""]
    lines += [f"- {k.replace('_', ' ')}: {v:,}" for k, v in counts.items()]
    lines.append(f"- catalogue version: {publication.get('catalog_version')}")
    return "\n".join(lines)


@flow(name="publish_dataset", flow_run_name="publish dataset", **FLOW_OPTIONS)
def publish_dataset(catalog_dir: str | None = None, home: str | None = None) -> dict[str, Any]:
    """Commit the current accepted values, with derived metrics, as one versioned publication."""
    open_catalog(catalog_dir)  # fail fast on a missing catalogue
    publication = publish_task(catalog_dir, home)
    log = get_run_logger()
    version = publication.get("version")
    if publication.get("created"):
        # The publication is committed: a failure to describe it must not fail the run.
        described = publication_changes_task(home, int(version), return_state=True)
        if described.is_completed():
            changes = described.result()
        else:
            log.warning("could not list what v%s changed: %s", version, described.message)
            changes = {"error": str(described.message), "providers": [], "examples": []}
        publication["changes"] = {k: v for k, v in changes.items() if k != "examples"}
        markdown_artifact(
            "publication", publication_markdown(publication, changes), f"Publication v{version}"
        )
        log.info(
            "publication v%s: %s values added, %s revised, %s withdrawn (%s provider(s))",
            version,
            *(f"{changes[k]:,}" if k in changes else "?" for k in _CHANGE_KINDS),
            len(changes["providers"]),
        )
    elif version is None:
        markdown_artifact(
            "publication",
            f"Nothing published: {publication.get('reason', 'no accepted values yet')}.",
            "Nothing to publish",
        )
        log.info("nothing to publish yet: no accepted submissions")
    else:
        markdown_artifact(
            "publication",
            f"No change since publication v{version}: nothing new published.",
            "No change",
        )
        log.info("no change since publication v%s", version)
    return publication


def _published(home: str | None) -> str:
    from collectonce.publish.unified import latest_version

    version = latest_version(open_settings(home))
    return "none" if version is None else f"v{version}"


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
    from collectonce.publish.unified import latest_version
    from collectonce.rollup.publishing import render_request_view as render_view

    catalog = open_catalog(catalog_dir)
    settings = open_settings(home)
    view = render_view(catalog, settings, request_code, period_from, period_to)
    out = view_path(home, request_code, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    meta = {
        "request": request_code,
        "publication_version": latest_version(settings),
        "period_from": period_from,
        "period_to": period_to,
    }
    units = {code: metric.unit for code, metric in catalog.metrics.items()}
    # the workbook says where it comes from; other formats are written as before
    write_export(view, fmt, tmp, meta=meta if fmt == "xlsx" else None, units=units)
    tmp.replace(out)
    return {"request": request_code, "rows": len(view), "path": str(out)}


@flow(name="build_views", flow_run_name="build views", **FLOW_OPTIONS)
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
    check_period(period_from, name="period_from")
    check_period(period_to, name="period_to")
    if period_from and period_to and period_from > period_to:
        raise BadParameters(f"period_from {period_from} is after period_to {period_to}: swap them")
    codes = requests or sorted(catalog.requests)
    unknown = sorted(set(codes) - set(catalog.requests))
    if unknown:
        raise BadParameters(
            f"unknown request(s) {', '.join(unknown)}: pass codes from the catalogue's "
            f"requests/ ({', '.join(sorted(catalog.requests))}), or leave requests empty"
        )
    if fmt not in {"csv", "json", "parquet", "xlsx"}:
        raise BadParameters(f"format {fmt!r} is unknown: pass fmt as csv, json, parquet or xlsx")
    if _published(home) == "none":
        # a trigger may follow a publish run that had nothing to publish yet
        markdown_artifact("views", "Nothing is published yet: no view to render.", "No views")
        get_run_logger().info("nothing is published yet: no view to render")
        return []
    futures = [
        # A view whose file has gone is rendered again whatever the cache holds.
        render_view_task.with_options(refresh_cache=not view_path(home, code, fmt).exists()).submit(
            code, period_from, period_to, fmt, catalog_dir, home
        )
        for code in codes
    ]
    views = [f.result() for f in futures]
    cached = sum(1 for f in futures if f.state.is_completed() and f.state.name == "Cached")
    get_run_logger().info(
        "%d view(s) of publication %s in %s%s",
        len(views),
        _published(home),
        Path(views[0]["path"]).parent if views else "no folder",
        f" ({cached} unchanged, from Prefect's cache)" if cached else "",
    )
    table_artifact(
        "views",
        [{"request": v["request"], "rows": v["rows"], "file": Path(v["path"]).name} for v in views],
        "Request views rendered from the latest publication",
    )
    return views
