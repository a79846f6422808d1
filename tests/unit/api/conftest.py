"""A published dataset (real A&E type 1 figures, January to June 2018) and a token per role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

#: Real NHS England A&E type 1 figures for four trusts; sickness rates are realistic values.
AE_2018H1 = """\
provider_code,period,ae_attendances_type1,ae_breaches_4hr_type1,ae_emergency_admissions,staff_sickness_absence_rate
RF4,2018-01,21317,6104,4988,4.6
RF4,2018-02,18668,5628,4436,4.4
RF4,2018-03,21452,6495,5144,4.2
RF4,2018-04,20369,4970,4943,3.9
RF4,2018-05,21582,3940,5258,3.7
RF4,2018-06,21187,4044,5048,3.6
RRK,2018-01,10083,2181,3947,5.1
RRK,2018-02,9322,2048,3922,4.9
RRK,2018-03,9936,2154,3896,4.8
RRK,2018-04,9831,1759,3842,4.5
RRK,2018-05,10573,1637,4044,4.3
RRK,2018-06,10035,1488,3942,4.1
R1H,2018-01,27281,5839,7738,4.8
R1H,2018-02,25341,6000,7070,4.7
R1H,2018-03,28465,6379,7670,4.5
R1H,2018-04,26727,5508,7480,4.2
R1H,2018-05,28102,5196,8134,4.0
R1H,2018-06,26939,5008,7643,3.9
RQM,2018-01,17990,1406,3893,3.9
RQM,2018-02,16205,1328,3436,3.8
RQM,2018-03,18906,1564,3899,3.6
RQM,2018-04,17309,1204,3689,3.5
RQM,2018-05,18745,1130,4013,3.4
RQM,2018-06,17999,1190,4099,3.3
"""


def rows_for(*providers: str) -> str:
    """The fixture rows of some providers only, as a wide CSV file's text."""
    header, *rows = AE_2018H1.splitlines()
    return "\n".join([header, *(r for r in rows if r.split(",")[0] in providers)]) + "\n"


def seed(settings, catalog, tmp: Path) -> int:
    """Submit the fixture rows through the real ingest service as the data team's bulk file,
    then publish; the version published."""
    from collectonce.ingest.service import submit_file
    from collectonce.publish.unified import publish

    received = dt.datetime(2018, 7, 10, 9, 0, tzinfo=dt.UTC)
    path = tmp / "bulk__ae_type1_2018h1.csv"
    path.write_text(AE_2018H1)
    receipt = submit_file(path, catalog, settings, now=received)
    assert receipt.status in {"accepted", "accepted_with_warnings"}, receipt.to_dict()
    version = publish(catalog, settings, now=received + dt.timedelta(days=1)).version
    assert version is not None
    return version


def revise(settings, catalog, tmp: Path) -> int:
    """RF4 sends January again with 21,400 attendances (not 21,317), and it is published; the
    version published."""
    from collectonce.ingest.service import submit_file
    from collectonce.publish.unified import publish

    revised = tmp / "rf4__january_attendances_revised.csv"
    revised.write_text(rows_for("RF4").replace("RF4,2018-01,21317,", "RF4,2018-01,21400,"))
    now = dt.datetime(2018, 8, 1, tzinfo=dt.UTC)
    receipt = submit_file(revised, catalog, settings, as_provider="RF4", now=now)
    assert receipt.status in {"accepted", "accepted_with_warnings"}, receipt.to_dict()
    version = publish(catalog, settings, now=now).version
    assert version is not None
    return version


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory, catalog_min):
    """Settings of a data folder holding one publication of the fixture rows."""
    from collectonce.settings import get_settings

    home = tmp_path_factory.mktemp("published_home")
    settings = get_settings(home=home)
    seed(settings, catalog_min, tmp_path_factory.mktemp("files"))
    return settings


@pytest.fixture(scope="session")
def tokens(published, catalog_min) -> dict[str, str | None]:
    """One bearer token per case of the refusal matrix (None means no Authorization header)."""
    from collectonce.access.auth import create_token, revoke_token

    def make(role, subject, **kw) -> str:
        return create_token(published, role=role, subject=subject, catalog=catalog_min, **kw)[1]

    revoked_id, revoked = create_token(
        published, role="requester", subject="nhs_england", catalog=catalog_min
    )
    revoke_token(published, revoked_id)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    return {
        "none": None,
        "invalid": "co_0123456789ab_" + "x" * 43,
        "revoked": revoked,
        "expired": make("admin", None, expires_days=7, now=long_ago),
        "provider_RF4": make("provider", "RF4"),
        "provider_RRK": make("provider", "RRK"),
        "requester_nhs_england": make("requester", "nhs_england"),
        "requester_cqc": make("requester", "cqc"),
        "admin": make("admin", None),
    }


@pytest.fixture(scope="session")
def client(published, catalog_min) -> Iterator:
    from fastapi.testclient import TestClient

    from collectonce.api.app import build_app

    with TestClient(build_app(catalog_min, published)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def headers(tokens) -> Callable[[str], dict[str, str]]:
    """``headers("admin")``: the Authorization header of a matrix role ({} for "none")."""

    def make(role: str) -> dict[str, str]:
        token = tokens[role]
        return {"Authorization": f"Bearer {token}"} if token else {}

    return make


@pytest.fixture(scope="session")
def seed_published() -> Callable[..., int]:
    """``seed_published(settings, catalog, tmp)``: submit and publish the fixture rows."""
    return seed


@pytest.fixture(scope="session")
def publish_revision() -> Callable[..., int]:
    """``publish_revision(settings, catalog, tmp)``: RF4 revises January; publish it."""
    return revise


@pytest.fixture(scope="session")
def csv_rows() -> Callable[..., str]:
    """``csv_rows("RF4")``: the fixture rows of some providers as a wide CSV file's text."""
    return rows_for
