"""Uploads return the CLI's receipt, keep providers to their own rows and refuse big files early."""

from __future__ import annotations

import pytest


@pytest.fixture
def app_client(settings, catalog_min):
    """A client on a fresh, empty data folder, with an admin and an RF4 token."""
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app

    def bearer(role: str, subject: str | None) -> dict[str, str]:
        _, token = create_token(settings, role=role, subject=subject, catalog=catalog_min)
        return {"Authorization": f"Bearer {token}"}

    client = TestClient(build_app(catalog_min, settings))
    client.admin = bearer("admin", None)  # type: ignore[attr-defined]
    client.rf4 = bearer("provider", "RF4")  # type: ignore[attr-defined]
    return client


def upload(client, hdr, name: str, text: str):
    return client.post("/v1/submissions", headers=hdr, files={"file": (name, text.encode())})


def test_upload_returns_the_cli_receipt(app_client, csv_rows, settings) -> None:
    """It answers 201 with the receipt `collectonce submit` gives, then 200 for the same file."""
    from collectonce.ingest.service import get_receipt

    first = upload(app_client, app_client.rf4, "rf4__ae_type1_2018h1.csv", csv_rows("RF4"))
    assert first.status_code == 201, first.text
    receipt = first.json()
    assert receipt["status"] == "accepted"
    assert receipt["rows_accepted"] == 6  # six monthly rows of four metrics each
    assert receipt["values_stored"] == 6 * 4
    assert receipt["original_name"] == "rf4__ae_type1_2018h1.csv"
    stored = get_receipt(settings, receipt["submission_id"])
    assert stored is not None and stored.to_dict()["file_sha256"] == receipt["file_sha256"]
    again = upload(app_client, app_client.rf4, "copy.csv", csv_rows("RF4"))
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert not any((settings.root / "uploads").iterdir())


def test_provider_cannot_submit_another_providers_rows(app_client, csv_rows) -> None:
    """It rejects (422) RRK's rows uploaded with RF4's token, saying why."""
    response = upload(app_client, app_client.rf4, "rrk__uploaded_by_rf4.csv", csv_rows("RRK"))
    assert response.status_code == 422
    receipt = response.json()
    assert receipt["status"] == "rejected" and receipt["rows_accepted"] == 0
    assert {f["rule"] for f in receipt["findings"]} >= {"provider_scope"}


def test_admin_uploads_a_bulk_file(app_client, csv_rows) -> None:
    """It accepts the data team's file covering several providers."""
    response = upload(app_client, app_client.admin, "bulk.csv", csv_rows("RF4", "RRK", "RQM"))
    assert response.status_code == 201
    assert set(response.json()["providers"]) == {"RF4", "RRK", "RQM"}


def test_provider_lists_only_its_own_submissions(app_client, csv_rows) -> None:
    """It lists RF4's own submissions to RF4, not a bulk file that holds other trusts' rows."""
    upload(app_client, app_client.rf4, "rf4.csv", csv_rows("RF4"))
    upload(app_client, app_client.admin, "bulk.csv", csv_rows("RRK", "RQM"))
    upload(app_client, app_client.admin, "bulk_with_rf4.csv", csv_rows("RF4", "R1H"))
    mine = app_client.get("/v1/submissions", headers=app_client.rf4).json()["submissions"]
    assert [s["original_name"] for s in mine] == ["rf4.csv"]
    everything = app_client.get("/v1/submissions", headers=app_client.admin).json()
    assert len(everything["submissions"]) == 3


def test_api_receipts_name_no_server_paths(app_client, csv_rows, settings) -> None:
    """Upload answers and submission lists carry no archive, quarantine or report location, and
    no path into the data folder; the stored receipt (what the CLI prints) keeps them."""
    from collectonce.ingest.service import get_receipt

    server_only = {"archive", "quarantine", "report"}
    answers = [
        upload(app_client, app_client.rf4, "rf4.csv", csv_rows("RF4")),
        upload(app_client, app_client.rf4, "again.csv", csv_rows("RF4")),
        upload(app_client, app_client.rf4, "rrk_by_rf4.csv", csv_rows("RRK")),
        upload(app_client, app_client.admin, "bulk.csv", csv_rows("RRK", "RQM")),
        app_client.get("/v1/submissions", headers=app_client.rf4),
        app_client.get("/v1/submissions", headers=app_client.admin),
    ]
    assert [a.status_code for a in answers] == [201, 200, 422, 201, 200, 200]
    folders = {str(settings.root), str(settings.root.resolve())}
    for answer in answers:
        assert not any(folder in answer.text for folder in folders), answer.text
        body = answer.json()
        for receipt in body.get("submissions", [body]):
            assert not server_only & receipt.keys()
            assert receipt["file_sha256"] and receipt["submission_id"]
    assert len(answers[-1].json()["submissions"]) == 3

    rejected = get_receipt(settings, answers[2].json()["submission_id"])
    assert rejected is not None
    kept = rejected.to_dict()
    assert all(kept[name] for name in server_only)
    assert kept["report"].startswith(str(settings.root))


def test_too_large_upload_is_refused_while_reading(settings, catalog_min, csv_rows) -> None:
    """It answers 413 with a clear message once the file passes the limit, and keeps nothing."""
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app

    small = settings.model_copy(update={"max_upload_bytes": 300})
    _, token = create_token(small, role="admin", subject=None, catalog=catalog_min)
    client = TestClient(build_app(catalog_min, small))
    response = upload(client, {"Authorization": f"Bearer {token}"}, "big.csv", csv_rows("RF4"))
    assert response.status_code == 413
    assert "larger than the limit" in response.json()["detail"]
    uploads = small.root / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_declared_oversize_body_is_refused_before_reading(settings, catalog_min) -> None:
    """It answers 413 from the Content-Length alone when it is far beyond the limit."""
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app

    _, token = create_token(settings, role="admin", subject=None, catalog=catalog_min)
    client = TestClient(build_app(catalog_min, settings))
    body = b"x" * (settings.max_upload_bytes + 100 * 1024)
    response = client.post(
        "/v1/submissions",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "multipart/form-data; boundary=abc",
        },
        content=body,
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"content": b"provider_code,period\n", "headers": {"Content-Type": "text/csv"}},
            "multipart",
        ),
        ({"files": {"other": ("x.csv", b"a,b\n")}}, "no file found"),
        ({"files": {"file": ("", b"a,b\n")}}, "no file found"),
        (
            {
                "content": b'--abc\r\nContent-Disposition: form-data; name="file"; '
                b'filename="x.csv"\r\n\r\nprovider_code,per',
                "headers": {"Content-Type": "multipart/form-data; boundary=abc"},
            },
            "ended in the middle",
        ),
    ],
)
def test_malformed_uploads_are_422(app_client, kwargs, message) -> None:
    """It explains how to send a file when the body is not one file in multipart/form-data."""
    headers = {**app_client.admin, **kwargs.pop("headers", {})}
    response = app_client.post("/v1/submissions", headers=headers, **kwargs)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"][0]["msg"]


def test_requester_cannot_upload(app_client, settings, catalog_min, csv_rows) -> None:
    """It refuses a requester's upload (403) before reading the file."""
    from collectonce.access.auth import create_token

    _, token = create_token(settings, role="requester", subject="cqc", catalog=catalog_min)
    response = upload(app_client, {"Authorization": f"Bearer {token}"}, "x.csv", csv_rows("RF4"))
    assert response.status_code == 403
    assert not (settings.root / "uploads").exists()


def test_an_uploaded_published_ae_file_counts_its_total_row_as_skipped(app_client) -> None:
    """NHS England's published A&E file uploaded by RF4: one row accepted, the TOTAL row
    skipped with a warning naming it, none rejected."""
    from pathlib import Path

    shared = Path(__file__).resolve().parents[2] / "fixtures" / "submissions"
    name = "rf4__nhse_published_monthly_ae.csv"
    sent = upload(app_client, app_client.rf4, name, (shared / name).read_text())
    assert sent.status_code == 201, sent.text
    receipt = sent.json()
    counts = ("rows_read", "rows_accepted", "rows_rejected", "rows_skipped")
    assert tuple(receipt[k] for k in counts) == (2, 1, 0, 1)
    skipped = [f for f in receipt["findings"] if "total row" in f["message"]]
    assert [(f["row"], f["value"], f["severity"]) for f in skipped] == [(3, "TOTAL", "warning")]
