"""The OpenAPI document: the routes' own, with the catalogue's requests and metrics added to
the operations that serve them and the ``Problem`` schema every refusal uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from collectonce.api.models import Problem

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog

TAGS = [
    {"name": "service", "description": "Liveness; needs no token."},
    {"name": "requests", "description": "Requests and their views (requesters)."},
    {"name": "providers", "description": "A provider's own data and pack."},
    {"name": "submissions", "description": "Uploads and their receipts."},
    {"name": "catalogue", "description": "What is collected, why, and the burden."},
    {"name": "publications", "description": "Versions of the unified dataset."},
    {"name": "rollups", "description": "Regions and England, rolled up from providers."},
]


def description(catalog: Catalog) -> str:
    return (
        f"Pull the published dataset of catalogue **{catalog.info.name}** "
        f"(version {catalog.version}): requesters their own views, providers their own data. "
        "Every call needs `Authorization: Bearer <token>` except /health, and every call is "
        "written to the audit log with the publication it was served from."
    )


def describe_from_catalog(schema: dict[str, Any], catalog: Catalog) -> None:
    """Add the catalogue's requests and metrics to the operations that serve them."""
    paths = schema.get("paths", {})
    names = {code: requester.name for code, requester in catalog.requesters.items()}
    lines = [
        f"- `{r.code}` ({names.get(r.requester, r.requester)}, {r.frequency}ly): {r.title}"
        for r in sorted(catalog.requests.values(), key=lambda r: r.code)
    ]
    view = paths.get("/v1/requests/{code}/view", {}).get("get")
    if view is not None:
        view["description"] = view.get("description", "") + "\n\nRequests:\n" + "\n".join(lines)
    metrics = paths.get("/v1/catalog/metrics", {}).get("get")
    if metrics is not None:
        counted = (
            f"{len(catalog.metrics)} metrics, {len(catalog.collected_metrics)} collected and "
            f"{sum(m.is_derived for m in catalog.metrics.values())} derived."
        )
        metrics["description"] = metrics.get("description", "") + "\n\n" + counted


def install_openapi(app: FastAPI, catalog: Catalog) -> None:
    """Make ``app.openapi()`` build (once) the document described above."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            describe_from_catalog(schema, catalog)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["Problem"] = Problem.model_json_schema()
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
