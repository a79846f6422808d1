"""The API's answers are typed models: the OpenAPI document names them, every receipt a provider
gets validates against `Receipt` (with no server file locations), and refusals still refuse."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from collectonce.access.auth import Role, create_token
from collectonce.api.app import build_app
from collectonce.api.models import (
    SERVER_ONLY_RECEIPT_FIELDS,
    Health,
    PublicationList,
    Receipt,
    RequestList,
    SubmissionList,
)
from collectonce.findings import Finding
from collectonce.store.receipts import Receipt as StoredReceipt


@pytest.fixture(scope="module")
def world(tmp_path_factory, catalog_min, seed_published):
    """A data folder of its own (this module uploads), one publication, a token per role."""
    from collectonce.settings import get_settings

    settings = get_settings(home=tmp_path_factory.mktemp("typed_home"))
    seed_published(settings, catalog_min, tmp_path_factory.mktemp("typed_files"))

    def token(role: Role, subject: str | None) -> dict[str, str]:
        secret = create_token(settings, role=role, subject=subject, catalog=catalog_min)[1]
        return {"Authorization": f"Bearer {secret}"}

    with TestClient(build_app(catalog_min, settings)) as client:
        yield {
            "client": client,
            "RF4": token("provider", "RF4"),
            "RRK": token("provider", "RRK"),
            "cqc": token("requester", "cqc"),
            "admin": token("admin", None),
        }


def _ref(schema: dict) -> str:
    return schema["$ref"].rsplit("/", 1)[-1]


def test_the_openapi_document_names_the_answer_models(world):
    doc = world["client"].get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for name in (
        "Receipt",
        "Finding",
        "EarlierAttempt",
        "SubmissionList",
        "Publication",
        "PublicationList",
        "RequestInfo",
        "ItemInfo",
        "RequestList",
        "Health",
        "Rollups",
        "RollupRow",
    ):
        assert name in schemas, name

    def answer(path: str, method: str = "get", status: str = "200") -> str:
        content = doc["paths"][path][method]["responses"][status]["content"]
        return _ref(content["application/json"]["schema"])

    assert answer("/v1/submissions") == "SubmissionList"
    assert answer("/v1/submissions", "post", "201") == "Receipt"
    assert answer("/v1/publications") == "PublicationList"
    assert answer("/v1/requests") == "RequestList"
    assert answer("/health") == "Health"
    assert answer("/v1/rollups/{level}") == "Rollups"
    assert _ref(schemas["PublicationList"]["properties"]["publications"]["items"]) == "Publication"
    assert _ref(schemas["Receipt"]["properties"]["findings"]["items"]) == "Finding"
    # the server's file locations are not part of the documented receipt
    assert not SERVER_ONLY_RECEIPT_FIELDS & set(schemas["Receipt"]["properties"])


def test_a_providers_receipt_answer_validates_against_the_model(world, csv_rows):
    client = world["client"]
    sent = client.post(
        "/v1/submissions",
        headers=world["RF4"],
        files={"file": ("rf4_typed.csv", csv_rows("RF4").encode(), "text/csv")},
    )
    assert sent.status_code in (200, 201), sent.text
    receipt = Receipt.model_validate(sent.json())  # extra fields are refused by the model
    assert receipt.providers == ["RF4"] and receipt.as_provider == "RF4"
    # the answer's keys are the model's fields, in the model's order
    assert list(sent.json()) == list(Receipt.model_fields)

    listed = client.get("/v1/submissions", headers=world["RF4"])
    assert listed.status_code == 200
    mine = SubmissionList.model_validate(listed.json()).submissions
    assert receipt.submission_id in {r.submission_id for r in mine}
    # the data team's bulk file carries four providers: not RF4's to see
    assert all(r.as_provider == "RF4" or r.providers == ["RF4"] for r in mine)

    everyone = SubmissionList.model_validate(
        client.get("/v1/submissions", headers=world["admin"]).json()
    ).submissions
    assert any(len(r.providers) > 1 for r in everyone)


def test_a_refusal_still_refuses(world, csv_rows):
    client = world["client"]
    for path in ("/v1/submissions", "/v1/requests", "/v1/publications"):
        assert client.get(path).status_code == 401
    refused = client.get("/v1/submissions", headers=world["cqc"])
    assert refused.status_code == 403
    assert set(refused.json()) == {"detail"}
    upload = client.post(
        "/v1/submissions",
        headers=world["cqc"],
        files={"file": ("cqc.csv", csv_rows("RF4").encode(), "text/csv")},
    )
    assert upload.status_code == 403
    theirs = client.get("/v1/submissions", headers=world["RRK"]).json()
    assert all("RF4" not in r["providers"] for r in theirs["submissions"])


def test_listings_validate_against_their_models(world):
    client = world["client"]
    pubs = PublicationList.model_validate(
        client.get("/v1/publications", headers=world["cqc"]).json()
    )
    assert pubs.publications and pubs.publications[0].version >= 0
    requests = RequestList.model_validate(client.get("/v1/requests", headers=world["cqc"]).json())
    assert {r.requester for r in requests.requests} == {"cqc"}
    assert all(r.may_pull for r in requests.requests)
    provider = RequestList.model_validate(client.get("/v1/requests", headers=world["RF4"]).json())
    assert provider.requests and not any(r.may_pull for r in provider.requests)
    health = Health.model_validate(client.get("/health").json())
    assert health.publication_version == pubs.publications[-1].version


def _stored(providers: list[str], as_provider: str | None = None) -> StoredReceipt:
    return StoredReceipt(
        submission_id="sub_0123456789abcdef_x",
        status="accepted",
        rows_read=1,
        rows_accepted=1,
        rows_rejected=0,
        findings=[Finding("f.csv", 2, "value", "m", "rule_x", "warning", "check it", "7")],
        file_sha256="0" * 64,
        original_name="f.csv",
        submitted_by="data_team",
        received_at=dt.datetime(2019, 1, 5, tzinfo=dt.UTC),
        template="canonical",
        providers=providers,
        periods=["2018-12"],
        report="/server/report.html",
        archive="/server/archive/f.csv",
        as_provider=as_provider,
    )


def test_a_stored_receipt_says_whose_it_is_and_the_api_model_drops_server_paths():
    bulk = _stored(["RF4", "RRK"])
    assert not bulk.belongs_to("RF4") and not bulk.belongs_to("RRK")
    assert _stored(["RF4"]).belongs_to("RF4")
    assert _stored(["RF4", "RRK"], as_provider="RRK").belongs_to("RRK")
    assert not _stored(["RRK"]).belongs_to("RF4")

    answer = Receipt.of(_stored(["RF4"])).model_dump(mode="json")
    assert not SERVER_ONLY_RECEIPT_FIELDS & set(answer)
    assert answer["findings"][0]["rule"] == "rule_x"
    assert answer["received_at"] == "2019-01-05T00:00:00+00:00"
    assert answer["warnings"] == 1 and answer["errors"] == 0
