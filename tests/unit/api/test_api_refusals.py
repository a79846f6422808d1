"""The refusal matrix: every role against every endpoint gets exactly the expected answer."""

from __future__ import annotations

import pytest

ROLES = [
    "none",
    "invalid",
    "revoked",
    "expired",
    "provider_RF4",
    "provider_RRK",
    "requester_nhs_england",
    "requester_cqc",
    "admin",
]
UNAUTHENTICATED = ("none", "invalid", "revoked", "expired")


def answers(
    rf4: int, rrk: int, nhse: int, cqc: int, admin: int, anonymous: int = 401
) -> dict[str, int]:
    out = dict.fromkeys(UNAUTHENTICATED, anonymous)
    out.update(
        provider_RF4=rf4,
        provider_RRK=rrk,
        requester_nhs_england=nhse,
        requester_cqc=cqc,
        admin=admin,
    )
    return out


#: (method, path) -> expected status per role.
MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/health"): answers(200, 200, 200, 200, 200, anonymous=200),
    ("GET", "/v1/requests"): answers(200, 200, 200, 200, 200),
    ("GET", "/v1/requests/nhse_ae_monthly/view"): answers(403, 403, 200, 403, 200),
    ("GET", "/v1/requests/cqc_uec_quarterly/view?format=csv"): answers(403, 403, 403, 200, 200),
    ("GET", "/v1/requests/icb_quality_monthly/view"): answers(403, 403, 403, 403, 200),
    ("GET", "/v1/requests/no_such_request/view"): answers(403, 403, 404, 404, 404),
    ("GET", "/v1/providers/RF4/data"): answers(200, 403, 403, 403, 200),
    ("GET", "/v1/providers/RRK/data?format=parquet"): answers(403, 200, 403, 403, 200),
    ("GET", "/v1/providers/ZZZ99/data"): answers(403, 403, 403, 403, 404),
    ("GET", "/v1/providers/RF4/pack"): answers(200, 403, 403, 403, 200),
    ("GET", "/v1/submissions"): answers(200, 200, 403, 403, 200),
    ("POST", "/v1/submissions"): answers(201, 201, 403, 403, 201),
    ("GET", "/v1/catalog/metrics"): answers(200, 200, 200, 200, 200),
    ("GET", "/v1/burden"): answers(200, 200, 200, 200, 200),
    ("GET", "/v1/publications"): answers(200, 200, 200, 200, 200),
}
CASES = [
    pytest.param(method, path, role, expected[role], id=f"{role}-{method}-{path}")
    for (method, path), expected in MATRIX.items()
    for role in ROLES
]


@pytest.mark.parametrize(("method", "path", "role", "status"), CASES)
def test_refusal_matrix(client, headers, csv_rows, method, path, role, status) -> None:
    """It answers each role on each endpoint with the expected status, and 401s say Bearer."""
    kwargs = {}
    if method == "POST":
        # each provider uploads its own rows, revised so that the file is never a duplicate
        ods = role.removeprefix("provider_") if role.startswith("provider_") else "RQM"
        *rows, last = csv_rows(ods).splitlines()
        last = last.rsplit(",", 1)[0] + f",{3 + ROLES.index(role) / 10:.1f}"
        text = "\n".join([*rows, last]) + "\n"
        kwargs["files"] = {"file": (f"{ods}_{role}.csv", text.encode(), "text/csv")}
    response = client.request(method, path, headers=headers(role), **kwargs)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["detail"]
    if status in (403, 404):
        assert isinstance(response.json()["detail"], str)


def test_refusals_carry_no_data(client, headers) -> None:
    """It answers a refused caller with a one-line reason and none of the data."""
    refused = client.get("/v1/requests/nhse_ae_monthly/view", headers=headers("requester_cqc"))
    assert refused.status_code == 403
    assert set(refused.json()) == {"detail"}
    assert "RF4" not in refused.text and "A1" not in refused.text
