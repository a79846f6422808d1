"""The response cache at the door: a repeat pull is served from memory, gzipped or not, a
cached answer never reaches a caller not allowed it, a new publication empties it, and its size
is bounded by COLLECTONCE_RESPONSE_CACHE_BYTES."""

from __future__ import annotations

import pytest

VIEW = "/v1/requests/nhse_ae_monthly/view?from=2018-02&to=2018-04"
RRK_DATA = "/v1/providers/RRK/data?from=2018-02&to=2018-04"
REFUSED = ["requester_cqc", "provider_RF4", "provider_RRK", "revoked", "expired", "none"]


def _cached(client, kind: str, code: str) -> list[tuple]:
    return [k for k in client.app.state.api.cache.held() if k[:2] == (kind, code)]


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
@pytest.mark.parametrize("role", REFUSED)
def test_a_cached_view_never_reaches_a_caller_not_allowed_it(client, headers, fmt, role) -> None:
    url = f"{VIEW}&format={fmt}"
    owner = client.get(url, headers=headers("requester_nhs_england"))
    assert owner.status_code == 200
    version = int(owner.headers["x-publication-version"])
    key = ("view", "nhse_ae_monthly", "2018-02", "2018-04", version, fmt)
    assert key in client.app.state.api.cache.held()  # cached before anyone else asks
    for encoding in ("gzip", "identity"):
        refused = client.get(url, headers={**headers(role), "Accept-Encoding": encoding})
        assert refused.status_code in (401, 403), refused.text
        assert refused.headers["content-type"] == "application/json"
        assert "content-disposition" not in refused.headers
        assert "x-publication-version" not in refused.headers
        assert owner.content not in refused.content
        assert "rows" not in refused.json()


@pytest.mark.parametrize("role", ["provider_RF4", "requester_nhs_england", "requester_cqc"])
def test_a_cached_provider_answer_never_reaches_another_caller(client, headers, role) -> None:
    mine = client.get(RRK_DATA, headers=headers("provider_RRK"))
    assert mine.status_code == 200 and {r["provider_code"] for r in mine.json()["rows"]} == {"RRK"}
    assert _cached(client, "provider", "RRK")
    refused = client.get(RRK_DATA, headers=headers(role))
    assert refused.status_code == 403
    assert "RRK" not in {r.get("provider_code") for r in refused.json().get("rows", [])}
    assert b"10083" not in refused.content and b"9322" not in refused.content


def test_a_repeat_pull_is_a_memory_copy_gzipped_or_not(client, headers, monkeypatch) -> None:
    """Once made, the answer is served without rendering it again, to clients that take gzip
    and to clients that do not, byte for byte the same."""
    import collectonce.publish.views as views

    url = "/v1/requests/nhse_ae_monthly/view?from=2018-01&to=2018-05&format=csv"
    who = headers("requester_nhs_england")
    first = client.get(url, headers={**who, "Accept-Encoding": "identity"})
    assert first.status_code == 200

    def no_more_rendering(*args, **kwargs):
        raise AssertionError("the view was rendered again")

    monkeypatch.setattr(views, "render_view", no_more_rendering)
    plain = client.get(url, headers={**who, "Accept-Encoding": "identity"})
    packed = client.get(url, headers={**who, "Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert plain.content == packed.content == first.content
    assert int(plain.headers["content-length"]) == len(first.content)


def test_a_large_body_is_sent_in_pieces_with_the_same_bytes(client, headers, monkeypatch):
    import collectonce.api.render as render

    url = "/v1/providers/R1H/data?format=json"
    who = {**headers("admin"), "Accept-Encoding": "identity"}
    whole = client.get(url, headers=who)
    monkeypatch.setattr(render, "SEND_PIECE", 100)
    pieces = client.get(url, headers=who)
    assert len(whole.content) > 1000
    assert pieces.status_code == 200
    assert pieces.content == whole.content
    assert int(pieces.headers["content-length"]) == len(whole.content)
    assert pieces.json()["rows"] == whole.json()["rows"]


def test_a_new_publication_empties_the_cache(
    tmp_path, settings, catalog_min, seed_published, publish_revision
) -> None:
    """Answers of the old publication go when a new one lands; the catalogue's answers stay."""
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app

    first = seed_published(settings, catalog_min, tmp_path)
    _, token = create_token(settings, role="requester", subject="nhs_england", catalog=catalog_min)
    who = {"Authorization": f"Bearer {token}"}
    url = "/v1/requests/nhse_ae_monthly/view?from=2018-01&to=2018-01"
    client = TestClient(build_app(catalog_min, settings))
    cache = client.app.state.api.cache

    def rf4_a1() -> tuple[int, float]:
        body = client.get(url, headers=who).json()
        (row,) = [r for r in body["rows"] if r["provider_code"] == "RF4" and r["item"] == "A1"]
        return body["publication_version"], row["value"]

    assert rf4_a1() == (first, 21317.0)
    assert client.get("/v1/catalog/metrics", headers=who).status_code == 200
    assert ("metrics",) in cache.held() and any(k[0] == "view" for k in cache.held())

    second = publish_revision(settings, catalog_min, tmp_path)
    assert second > first

    assert rf4_a1() == (second, 21400.0)
    held = cache.held()
    assert ("metrics",) in held
    assert [k for k in held if k[0] == "view"] == [
        ("view", "nhse_ae_monthly", "2018-01", "2018-01", second, "json")
    ]


@pytest.mark.parametrize("bound", [0, 4000])
def test_the_cache_is_bounded_by_its_setting(
    published, catalog_min, headers, monkeypatch, bound
) -> None:
    from fastapi.testclient import TestClient

    from collectonce.api.app import build_app
    from collectonce.settings import get_settings

    monkeypatch.setenv("COLLECTONCE_RESPONSE_CACHE_BYTES", str(bound))
    settings = get_settings(home=published.home)
    assert settings.response_cache_bytes == bound
    client = TestClient(build_app(catalog_min, settings))
    cache = client.app.state.api.cache
    answers = {}
    for month in ("01", "02", "03", "04", "05", "06"):
        for fmt in ("json", "csv"):
            url = f"/v1/providers/RF4/data?from=2018-{month}&to=2018-06&format={fmt}"
            response = client.get(url, headers={**headers("admin"), "Accept-Encoding": "gzip"})
            assert response.status_code == 200
            answers[url] = response.content
            assert cache.size <= bound
    if bound == 0:
        assert len(cache) == 0
    else:
        assert 0 < len(cache) < len(answers)  # the oldest answers made room for the newest
    for url, content in answers.items():  # evicted or not, every answer is still right
        assert client.get(url, headers=headers("admin")).content == content


def test_a_negative_bound_is_refused(monkeypatch) -> None:
    from pydantic import ValidationError

    from collectonce.settings import get_settings

    monkeypatch.setenv("COLLECTONCE_RESPONSE_CACHE_BYTES", "-1")
    with pytest.raises(ValidationError, match="response_cache_bytes"):
        get_settings()


def test_the_cache_keeps_its_bound_and_forgets_only_published_answers() -> None:
    from collectonce.api.cache import Rendered, ResponseCache

    cache = ResponseCache(max_bytes=100, max_entry=60)
    cache.get_or_make(("metrics",), lambda: Rendered("application/json", 1, body=b"m" * 10))
    for n in range(5):
        body = bytes([65 + n]) * 30
        made = cache.get_or_make(
            ("view", n), lambda b=body: Rendered("text/csv", 1, body=b, version=3)
        )
        assert made.body == body
        assert cache.size <= 100
    cache.get_or_make(("huge",), lambda: Rendered("text/csv", 1, body=b"h" * 61, version=3))
    assert ("huge",) not in cache.held()  # larger than one entry may be: never kept
    assert cache.held() == [("view", 2), ("view", 3), ("view", 4)]
    assert cache.drop_published() == 3
    assert cache.held() == [] and cache.size == 0
    cache.get_or_make(("metrics",), lambda: Rendered("application/json", 1, body=b"m"))
    cache.get_or_make(("v",), lambda: Rendered("text/csv", 1, body=b"v", version=1))
    assert cache.drop_published() == 1 and cache.held() == [("metrics",)]
