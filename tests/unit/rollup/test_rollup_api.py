"""Roll-ups over the HTTP API, on the bundled A&E data: figures, scopes and every refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from rollup_helpers import CATALOG

FOUR_HOUR = "ae_4hr_performance_all"


@pytest.fixture(scope="module")
def api(ae_home: Path) -> Iterator[tuple]:
    """A test client over the published bundled data, and a token per caller."""
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app
    from collectonce.catalog import load_catalog
    from collectonce.settings import get_settings

    catalog = load_catalog(CATALOG)
    settings = get_settings(home=ae_home, catalog=CATALOG)

    def make(role: str, subject: str | None) -> dict[str, str]:
        token = create_token(settings, role=role, subject=subject, catalog=catalog)[1]
        return {"Authorization": f"Bearer {token}"}

    tokens = {
        "london": make("region", "london"),  # any case, stored as the catalogue spells it
        "midlands": make("region", "Midlands"),
        "RF4": make("provider", "RF4"),  # a London trust
        "nhs_england": make("requester", "nhs_england"),
        "hee": make("requester", "hee"),
        "admin": make("admin", None),
    }
    with TestClient(build_app(catalog, settings)) as client:
        yield client, tokens, catalog


def four_hour(frame: pd.DataFrame) -> float:
    return 100 * (1 - frame["breaches"].sum() / frame["attendances"].sum())


def get(api, who: str | None, url: str):
    client, tokens, _ = api
    return client.get(url, headers=tokens[who] if who else {})


def test_region_figure_is_recomputed_from_summed_counts(api, ae_data) -> None:
    """The London team's 4-hour % is 1 − Σ breaches / Σ attendances of London's trusts."""
    response = get(api, "london", f"/v1/rollups/region?metric={FOUR_HOUR}&from=2019-01&to=2019-03")
    assert response.status_code == 200, response.text
    body = response.json()
    assert {r["code"] for r in body["rows"]} == {"London"}
    london = ae_data[ae_data["region"] == "London"]
    for row in body["rows"]:
        month = london[london["month"] == row["period"]]
        assert row["value"] == pytest.approx(four_hour(month), abs=1e-6)
        mean_of_rates = month.groupby("org_code").apply(four_hour, include_groups=False).mean()
        assert abs(row["value"] - mean_of_rates) > 0.1
        assert row["providers"] == month["org_code"].nunique() and row["partial"] is False
    assert response.headers["x-publication-version"] == str(body["publication_version"])


def test_a_regional_team_sees_only_its_region(api) -> None:
    """Another region's roll-ups or pack, England, another region's providers and every other
    route are refused with 403; its own providers' data and its pack are served."""
    base = f"/v1/rollups/region?metric={FOUR_HOUR}"
    assert get(api, "london", f"{base}&region=Midlands").status_code == 403
    assert get(api, "london", f"{base}&region=London").status_code == 200
    assert get(api, "london", f"/v1/rollups/england?metric={FOUR_HOUR}").status_code == 403
    assert get(api, "london", "/v1/providers/RF4/data?from=2019-01").status_code == 200
    assert get(api, "london", "/v1/providers/RRK/data").status_code == 403  # a Midlands trust
    assert get(api, "london", "/v1/providers/RRK/pack").status_code == 403
    assert get(api, "london", "/v1/packs/region/Midlands").status_code == 403
    assert get(api, "london", "/v1/packs/england").status_code == 403
    for url in ("/v1/requests", "/v1/requests/nhse_ae_monthly/view", "/v1/submissions",
                "/v1/burden"):  # fmt: skip
        response = get(api, "london", url)
        assert response.status_code == 403, url
        assert "regional team" in response.json()["detail"]
    client, tokens, _ = api
    upload = client.post("/v1/submissions", headers=tokens["london"], content=b"x")
    assert upload.status_code == 403
    pack = get(api, "london", "/v1/packs/region/london")
    assert pack.status_code == 200
    assert "London region" in pack.text and 'id="league-ae_4hr_performance_all"' in pack.text
    assert "RF4" in pack.text and "RRK" not in pack.text


def test_a_provider_sees_its_region_and_england_but_no_other_provider(api) -> None:
    _, _, catalog = api
    rows = get(api, "RF4", f"/v1/rollups/region?metric={FOUR_HOUR}").json()["rows"]
    assert {r["code"] for r in rows} == {"London"}
    assert get(api, "RF4", f"/v1/rollups/england?metric={FOUR_HOUR}").status_code == 200
    refused = get(api, "RF4", f"/v1/rollups/region?metric={FOUR_HOUR}&region=Midlands")
    assert refused.status_code == 403
    assert get(api, "RF4", "/v1/packs/region/Midlands").status_code == 403
    pack = get(api, "RF4", "/v1/packs/region/London")
    assert pack.status_code == 200
    others = [o for o in catalog.regions["London"] if o != "RF4"]
    assert "league-" not in pack.text and not any(f">{o}<" in pack.text for o in others)
    assert not any(f"({o})" in pack.text or f" {o} " in pack.text for o in others)
    england = get(api, "RF4", "/v1/packs/england")
    assert england.status_code == 200 and "league-" not in england.text
    assert get(api, "RF4", "/v1/providers/R1H/data").status_code == 403


def test_a_requester_sees_roll_ups_of_its_own_items_only(api) -> None:
    """NHS England asks for attendances and breaches, so it sees them and the 4-hour % built
    from them; Health Education England asks for workforce figures only."""
    ok = get(api, "nhs_england", f"/v1/rollups/england?metric={FOUR_HOUR}&from=2019-03")
    assert ok.status_code == 200 and ok.json()["rows"][0]["code"] == "England"
    regions = get(api, "nhs_england", "/v1/rollups/region?metric=ae_attendances_type1")
    assert len({r["code"] for r in regions.json()["rows"]}) == 8
    refused = get(api, "hee", f"/v1/rollups/england?metric={FOUR_HOUR}")
    assert refused.status_code == 403 and "hee" in refused.json()["detail"]
    assert get(api, "nhs_england", "/v1/packs/england").status_code == 403


def test_refusals_are_401_404_and_422_never_500(api) -> None:
    """No token or a bad one is 401; an unknown metric, region or publication 404; a metric
    that cannot be rolled up, or a malformed parameter, 422."""
    url = f"/v1/rollups/region?metric={FOUR_HOUR}"
    assert get(api, None, url).status_code == 401
    client, _, _ = api
    bad = client.get(url, headers={"Authorization": "Bearer co_0123456789ab_" + "x" * 43})
    assert bad.status_code == 401
    assert get(api, None, "/v1/packs/england").status_code == 401
    assert get(api, "admin", "/v1/rollups/region?metric=no_such_metric").status_code == 404
    assert get(api, "admin", f"{url}&region=Wessex").status_code == 404
    assert get(api, "admin", "/v1/packs/region/Wessex").status_code == 404
    assert get(api, "admin", f"{url}&as_of=99").status_code == 404
    refused = get(api, "admin", "/v1/rollups/england?metric=staff_sickness_absence_rate")
    assert refused.status_code == 422
    (problem,) = refused.json()["detail"]
    assert problem["loc"] == ["query", "metric"] and "cannot be rolled up" in problem["msg"]
    assert get(api, "admin", f"/v1/rollups/trust?metric={FOUR_HOUR}").status_code == 422
    no_boards = get(api, "admin", f"/v1/rollups/icb?metric={FOUR_HOUR}")
    assert no_boards.status_code == 404 and "integrated care board" in no_boards.json()["detail"]
    assert get(api, "admin", f"{url}&from=2019-13").status_code == 422
    assert get(api, "admin", f"{url}&from=2019-03&to=2019-01").status_code == 422
    assert (
        get(api, "admin", f"/v1/rollups/england?metric={FOUR_HOUR}&region=London").status_code
        == 422
    )


def test_the_data_team_sees_every_region_and_pack(api) -> None:
    rows = get(api, "admin", f"/v1/rollups/region?metric={FOUR_HOUR}&from=2019-03").json()["rows"]
    assert "Unassigned" in {r["code"] for r in rows} and len(rows) == 8
    england = get(api, "admin", "/v1/packs/england")
    assert england.status_code == 200 and "league-" in england.text
    assert get(api, "admin", "/v1/packs/region/unassigned").status_code == 200


def test_a_region_token_is_made_for_a_known_region_only(tmp_path: Path) -> None:
    from rollup_helpers import invoke

    code, out = invoke(tmp_path, "token", "create", "--region", "Wessex")
    assert code == 1 and "not a region" in out and "London" in out
    code, out = invoke(tmp_path, "token", "create", "--region", "Unassigned")
    assert code == 1 and "not a region" in out
    code, out = invoke(tmp_path, "token", "create", "--region", "north west", "--json")
    assert code == 0, out


def test_a_regional_team_token_cannot_sign_in_to_the_portal(api, ae_home: Path) -> None:
    """The portal is for providers, requesters and the data team: a regional team's token is
    refused at sign-in, and a session made for one anyway opens no page."""
    import re

    from collectonce.access.auth import verify
    from collectonce.portal.session import SESSION_COOKIE, start_session
    from collectonce.settings import get_settings

    client, tokens, _ = api
    page = client.get("/portal/sign-in")
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert nonce, page.text[:300]
    token = tokens["london"]["Authorization"].removeprefix("Bearer ")
    answer = client.post(
        "/portal/sign-in",
        data={"token": token, "csrf_token": nonce.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 403 and "regional team" in answer.text
    assert SESSION_COOKIE not in answer.cookies

    settings = get_settings(home=ae_home, catalog=CATALOG)
    principal = verify(settings, token)
    assert principal is not None and principal.role == "region"
    cookie, _ = start_session(settings, principal)
    client.cookies.set(SESSION_COOKIE, cookie)
    try:
        upload = client.get("/portal/providers/RRK/upload", follow_redirects=False)
        assert upload.status_code == 303 and "/portal/sign-in" in upload.headers["location"]
    finally:
        client.cookies.clear()
