"""OpenAPI-driven fuzzing: whatever schemathesis sends, the API never answers 5xx and every
answer matches the document (status codes, content types, JSON shapes).

Each operation gets valid and invalid (negative) generated requests, once with an admin token and
once with none: 20 examples per operation and caller, about 500 requests in all.
"""

from __future__ import annotations

import datetime as dt

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

#: Real NHS England A&E type 1 figures for one trust.
RF4_2018 = """\
provider_code,period,ae_attendances_type1,ae_breaches_4hr_type1,ae_emergency_admissions
RF4,2018-01,21317,6104,4988
RF4,2018-02,18668,5628,4436
RF4,2018-03,21452,6495,5144
"""

#: Every operation of the API (a test checks this list against the document).
OPERATIONS = [
    ("GET", "/health"),
    ("GET", "/v1/requests"),
    ("GET", "/v1/requests/{code}/view"),
    ("GET", "/v1/providers/{ods}/data"),
    ("GET", "/v1/providers/{ods}/pack"),
    ("POST", "/v1/submissions"),
    ("GET", "/v1/submissions"),
    ("GET", "/v1/catalog/metrics"),
    ("GET", "/v1/burden"),
    ("GET", "/v1/publications"),
    ("GET", "/v1/rollups/{level}"),
    ("GET", "/v1/packs/region/{name}"),
    ("GET", "/v1/packs/england"),
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory, catalog_min):
    """The app on a published data folder, with an admin token."""
    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app
    from collectonce.ingest.service import submit_file
    from collectonce.publish.unified import publish
    from collectonce.settings import get_settings

    home = tmp_path_factory.mktemp("fuzz_home")
    conf = get_settings(home=home, max_upload_bytes=64 * 1024)
    source = home / "rf4__ae_type1_2018q1.csv"
    source.write_text(RF4_2018)
    received = dt.datetime(2018, 4, 10, tzinfo=dt.UTC)
    submit_file(source, catalog_min, conf, as_provider="RF4", now=received)
    publish(catalog_min, conf, now=received)
    _, token = create_token(conf, role="admin", subject=None, catalog=catalog_min)
    return build_app(catalog_min, conf), {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def api_schema(fuzz_target):
    app, _ = fuzz_target
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("caller", ["admin", "no token"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_fuzz(api_schema, fuzz_target, method, path, caller) -> None:
    """It answers generated requests, valid and invalid, without a server error and as its
    document says; without a token everything but /health is 401."""
    _, admin = fuzz_target
    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @FUZZ
    @given(case=cases)
    def check(case) -> None:
        case.headers = {
            k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"
        }
        response = case.call_and_validate(
            headers=admin if caller == "admin" else None, checks=CHECKS
        )
        if caller != "admin":
            assert response.status_code == (200 if path == "/health" else 401)

    check()


def test_every_operation_is_fuzzed(api_schema) -> None:
    """It fuzzes every operation the document lists."""
    listed = {(m.upper(), p) for p, ops in api_schema.raw_schema["paths"].items() for m in ops}
    assert listed == set(OPERATIONS)
