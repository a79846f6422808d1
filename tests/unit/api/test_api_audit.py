"""Every pull and upload is audited with who, what, when and which publication; failures too."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from collectonce.access.audit import read_audit
from collectonce.cli import app

runner = CliRunner()


def last_line(settings) -> dict:
    return read_audit(settings, tail=1)[0]


def test_pull_is_audited_with_the_publication_served(client, headers, tokens, published):
    """It writes who pulled which view, with which parameters, version, status and row count."""
    from collectonce.access.auth import verify
    from collectonce.publish.unified import latest_version

    response = client.get(
        "/v1/requests/nhse_ae_monthly/view?from=2018-02&to=2018-02&format=csv",
        headers=headers("requester_nhs_england"),
    )
    assert response.status_code == 200
    line = last_line(published)
    principal = verify(published, tokens["requester_nhs_england"])
    assert line["token_id"] == principal.token_id
    assert (line["role"], line["subject"]) == ("requester", "nhs_england")
    assert line["action"] == "pull_view"
    assert line["target"] == "nhse_ae_monthly"
    assert line["params"] == {"from": "2018-02", "to": "2018-02", "format": "csv"}
    assert line["publication_version"] == latest_version(published)
    assert (line["status"], line["rows"]) == (200, 4 * 3)
    assert line["client"] and line["time"].endswith("Z")


def test_refusals_and_bad_tokens_are_audited(client, headers, published) -> None:
    """It records a refused pull (403) and a bad token (401) with the token id it claimed."""
    client.get("/v1/providers/RRK/data", headers=headers("provider_RF4"))
    refused = last_line(published)
    assert (refused["action"], refused["status"], refused["subject"]) == (
        "pull_provider_data",
        403,
        "RF4",
    )
    assert refused["target"] == "RRK" and refused["rows"] is None
    client.get("/v1/requests", headers=headers("invalid"))
    unknown = last_line(published)
    assert (unknown["status"], unknown["token_id"], unknown["role"]) == (401, "0123456789ab", None)


def test_upload_is_audited(client, headers, csv_rows, published) -> None:
    """It records an upload with the file name, size, submission id and rows accepted."""
    text = csv_rows("RRK").replace("RRK,2018-03,9936,", "RRK,2018-03,9937,")
    response = client.post(
        "/v1/submissions",
        headers=headers("provider_RRK"),
        files={"file": ("rrk__march_revised.csv", text.encode())},
    )
    assert response.status_code == 201
    line = last_line(published)
    assert line["action"] == "upload" and line["status"] == 201
    assert line["target"] == response.json()["submission_id"]
    assert line["params"] == {"file": "rrk__march_revised.csv", "bytes": len(text.encode())}
    assert line["rows"] == response.json()["rows_accepted"]


def test_health_is_not_audited(client, published) -> None:
    """It keeps liveness probes out of the audit log."""
    before = len(read_audit(published))
    client.get("/health")
    assert len(read_audit(published)) == before


def test_unforeseen_error_is_503_and_audited(client, headers, published, monkeypatch) -> None:
    """It answers an unforeseen failure with 503 and a generic message, never a 500 or trace."""
    import collectonce.publish.views as views

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr(views, "render_view", broken)
    response = client.get(
        "/v1/requests/nhse_ae_monthly/view?from=2017-01&to=2017-01",
        headers=headers("admin"),
    )
    assert response.status_code == 503
    assert response.json() == {"detail": "internal error, logged"}
    assert last_line(published)["status"] == 503


def test_no_data_leaves_when_the_audit_log_cannot_be_written(
    settings, catalog_min, seed_published, tmp_path
) -> None:
    """It answers 503 instead of the data when the pull cannot be audited."""
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app

    seed_published(settings, catalog_min, tmp_path)
    _, token = create_token(settings, role="admin", subject=None, catalog=catalog_min)
    settings.audit_log.mkdir(parents=True)  # a folder where the log should be: writes fail
    client = TestClient(build_app(catalog_min, settings))
    response = client.get(
        "/v1/providers/RF4/data?format=csv", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 503
    assert "RF4" not in response.text


def test_audit_cli_shows_the_tail(client, headers, published, catalog_min_dir, monkeypatch):
    """It prints the last entries as JSON with `collectonce audit --tail N --json`."""
    client.get("/v1/publications", headers=headers("requester_cqc"))
    monkeypatch.setenv("COLLECTONCE_HOME", str(published.root))
    result = runner.invoke(
        app, ["audit", "--tail", "1", "--json", "--catalog", str(catalog_min_dir)]
    )
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["entries"]
    assert (entry["action"], entry["subject"]) == ("list_publications", "cqc")
