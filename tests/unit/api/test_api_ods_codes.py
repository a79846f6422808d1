"""ODS codes of every length the catalogue allows (3 to 6 characters) reach the provider routes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

#: GP practices in the shipped catalogue: their ODS codes have six characters.
SIX, OTHER_SIX = "C82009", "C82010"
#: Staff sickness absence rates for six months of 2018.
RATES = [4.6, 4.4, 4.2, 3.9, 3.7, 3.6]


def _sickness_csv(*providers: str) -> str:
    lines = ["provider_code,period,staff_sickness_absence_rate"]
    for n, ods in enumerate(providers):
        lines += [f"{ods},2018-{m:02d},{rate + n}" for m, rate in enumerate(RATES, 1)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def six_client(tmp_path_factory: pytest.TempPathFactory, shipped_catalog) -> Iterator:
    """A client on a data folder publishing two GP practices' rows, under the shipped catalogue,
    with a token for each practice and one for the data team."""
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app
    from collectonce.ingest.service import submit_file
    from collectonce.publish.unified import publish
    from collectonce.settings import get_settings

    assert len(SIX) == len(OTHER_SIX) == 6
    assert {SIX, OTHER_SIX} <= set(shipped_catalog.providers)
    settings = get_settings(home=tmp_path_factory.mktemp("six_home"))
    received = dt.datetime(2018, 7, 10, 9, 0, tzinfo=dt.UTC)
    path = tmp_path_factory.mktemp("six_files") / "bulk__sickness_2018h1.csv"
    path.write_text(_sickness_csv(SIX, OTHER_SIX))
    receipt = submit_file(path, shipped_catalog, settings, now=received)
    assert receipt.rows_accepted == 2 * len(RATES), receipt.to_dict()
    published = publish(shipped_catalog, settings, now=received + dt.timedelta(days=1))
    assert published.version is not None

    def bearer(role: str, subject: str | None) -> dict[str, str]:
        _, token = create_token(settings, role=role, subject=subject, catalog=shipped_catalog)
        return {"Authorization": f"Bearer {token}"}

    with TestClient(build_app(shipped_catalog, settings)) as client:
        client.tokens = {  # type: ignore[attr-defined]
            SIX: bearer("provider", SIX),
            OTHER_SIX: bearer("provider", OTHER_SIX),
            "admin": bearer("admin", None),
        }
        yield client


def test_six_character_provider_pulls_its_own_data(six_client) -> None:
    """It gives a GP practice (six-character ODS code) its own rows and no other's."""
    response = six_client.get(f"/v1/providers/{SIX}/data", headers=six_client.tokens[SIX])
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert {r["provider_code"] for r in rows} == {SIX}
    sickness = [r["value"] for r in rows if r["metric"] == "staff_sickness_absence_rate"]
    assert sickness == RATES


@pytest.mark.parametrize("path", ["data", "data?format=csv", "pack"])
def test_six_character_provider_cannot_pull_another(six_client, path: str) -> None:
    """It refuses (403) one practice's token on another practice's data and pack."""
    response = six_client.get(f"/v1/providers/{OTHER_SIX}/{path}", headers=six_client.tokens[SIX])
    assert response.status_code == 403, response.text
    assert response.json() == {"detail": "a provider may see only its own data"}


@pytest.mark.parametrize("code", ["C820099", "c82009", "C82-09", "C8"])
def test_ods_codes_outside_the_catalogue_pattern_are_422(six_client, code: str) -> None:
    """It still refuses codes that are too long or not capitals and digits, before any lookup."""
    response = six_client.get(f"/v1/providers/{code}/data", headers=six_client.tokens["admin"])
    assert response.status_code == 422, response.text
