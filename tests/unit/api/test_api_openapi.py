"""The OpenAPI document is served, generated from the catalogue, stable, and committed."""

from __future__ import annotations

import json

from collectonce.api.app import build_app, openapi_files

ENDPOINTS = {
    ("get", "/health"),
    ("get", "/v1/requests"),
    ("get", "/v1/requests/{code}/view"),
    ("get", "/v1/providers/{ods}/data"),
    ("get", "/v1/providers/{ods}/pack"),
    ("post", "/v1/submissions"),
    ("get", "/v1/submissions"),
    ("get", "/v1/catalog/metrics"),
    ("get", "/v1/burden"),
    ("get", "/v1/publications"),
    ("get", "/v1/rollups/{level}"),
    ("get", "/v1/packs/region/{name}"),
    ("get", "/v1/packs/england"),
}


def test_openapi_document_lists_every_endpoint_with_bearer_auth(catalog_min, settings) -> None:
    """It serves /openapi.json with each endpoint; all but /health need a bearer token."""
    from fastapi.testclient import TestClient

    doc = TestClient(build_app(catalog_min, settings)).get("/openapi.json").json()
    found = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert found == ENDPOINTS
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for method, path in ENDPOINTS - {("get", "/health")}:
        assert doc["paths"][path][method]["security"] == [{"bearer": []}], path
    assert "security" not in doc["paths"]["/health"]["get"]


def test_openapi_descriptions_come_from_the_catalogue(catalog_min) -> None:
    """It describes each request of the catalogue on the view endpoint."""
    doc = json.loads(openapi_files(catalog_min)["openapi.json"])
    view = doc["paths"]["/v1/requests/{code}/view"]["get"]["description"]
    assert "`cqc_uec_quarterly` (Care Quality Commission, quarterly)" in view
    assert "0.0.1" in doc["info"]["description"]


def test_openapi_file_is_deterministic(catalog_min) -> None:
    """It generates byte-identical text every time, so a stale committed copy is detectable."""
    assert openapi_files(catalog_min) == openapi_files(catalog_min)


def test_committed_openapi_matches_the_shipped_catalogue(shipped_catalog) -> None:
    """schemas/openapi.json is what `collectonce catalog generate` writes today."""
    from pathlib import Path

    committed = Path(__file__).resolve().parents[3] / "schemas" / "openapi.json"
    assert committed.read_text() == openapi_files(shipped_catalog)["openapi.json"]
