"""What every caller meets at the door: the service description, offline docs, security
headers, integer counts and OPTIONS."""

from __future__ import annotations

import re

import pytest


def test_root_says_what_the_service_is(client) -> None:
    """GET / answers JSON naming the service, its catalogue and where to start, without a token."""
    response = client.get("/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    body = response.json()
    assert body["service"] == "collectonce pull API"
    assert "submit their data once" in body["description"]
    assert body["links"]["docs"] == "/docs" and body["links"]["openapi"] == "/openapi.json"
    assert body["catalog"]["version"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_their_assets_from_this_service(client, page: str) -> None:
    """Swagger UI and ReDoc work with no internet: every script and stylesheet is served here."""
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert assets, html[:500]
    for url in assets:
        assert url.startswith("/"), f"{page} loads {url} from elsewhere"
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 10_000, url
    assert "cdn" not in html.lower() and "fonts.googleapis" not in html


def test_every_answer_carries_security_headers(client, headers) -> None:
    """No MIME sniffing, no framing, a content security policy; data is never cached."""
    for url, who in [
        ("/health", None),
        ("/", None),
        ("/docs", None),
        ("/v1/requests/nhse_ae_monthly/view?format=csv", "requester_nhs_england"),
        ("/v1/requests/nhse_ae_monthly/view", "requester_cqc"),  # a refusal too
        ("/v1/providers/RF4/data", "provider_RF4"),
        ("/v1/providers/RF4/pack", "provider_RF4"),
    ]:
        response = client.get(url, headers=headers(who) if who else {})
        assert response.headers["x-content-type-options"] == "nosniff", url
        assert response.headers["x-frame-options"] == "DENY", url
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], url
        if url.startswith("/v1/"):
            assert response.headers["cache-control"] == "private, no-store", url
    pack = client.get("/v1/providers/RF4/pack", headers=headers("provider_RF4"))
    assert pack.status_code == 200 and "script-src" not in pack.headers["content-security-policy"]


def test_counts_are_integers_in_json_and_csv(client, headers) -> None:
    """Attendances are served as 21317, not 21317.0; a percentage keeps its decimals."""
    url = "/v1/requests/nhse_ae_monthly/view?from=2018-01&to=2018-01"
    rows = client.get(url, headers=headers("requester_nhs_england")).json()["rows"]
    counts = [r["value"] for r in rows if r["value"] is not None]
    assert counts and all(isinstance(v, int) for v in counts)
    text = client.get(url + "&format=csv", headers=headers("requester_nhs_england")).text
    assert not re.search(r",\d+\.0,", text)
    data = client.get("/v1/providers/RF4/data", headers=headers("provider_RF4")).json()["rows"]
    share = [r["value"] for r in data if r["metric"] == "ae_4hr_performance_type1"]
    assert share and any(isinstance(v, float) for v in share)


def test_options_lists_the_methods_that_exist(client) -> None:
    """OPTIONS answers 204 with an Allow header instead of 405; an unknown path is 404."""
    response = client.options("/v1/submissions")
    assert response.status_code == 204
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "POST", "OPTIONS"} <= allowed
    view = client.options("/v1/requests/nhse_ae_monthly/view")
    assert view.status_code == 204 and "POST" not in view.headers["allow"]
    assert "GET" in view.headers["allow"]
    assert client.options("/v1/nothing-here").status_code == 404
