"""The real server on loopback: `collectonce serve`, pulled with an HTTP client in each format."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

#: Real NHS England A&E type 1 figures, first quarter of 2018.
AE_2018Q1 = """\
provider_code,period,ae_attendances_type1,ae_breaches_4hr_type1,ae_emergency_admissions
RF4,2018-01,21317,6104,4988
RF4,2018-02,18668,5628,4436
RF4,2018-03,21452,6495,5144
RRK,2018-01,10083,2181,3947
RRK,2018-02,9322,2048,3922
RRK,2018-03,9936,2154,3896
"""

#: The second quarter (real figures), and RF4's January attendances revised, received in July.
AE_2018Q2_AND_REVISION = """\
provider_code,period,ae_attendances_type1,ae_breaches_4hr_type1,ae_emergency_admissions
RF4,2018-01,21400,6104,4988
RF4,2018-04,20369,4970,4943
RF4,2018-05,21582,3940,5258
RF4,2018-06,21187,4044,5048
RRK,2018-04,9831,1759,3842
RRK,2018-05,10573,1637,4044
RRK,2018-06,10035,1488,3942
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, catalog_min_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`collectonce serve` in a subprocess on a published data folder; (base URL, tokens)."""

    from collectonce.access.auth import create_token
    from collectonce.catalog import load_catalog
    from collectonce.ingest.service import submit_file
    from collectonce.publish.unified import publish
    from collectonce.settings import get_settings
    from collectonce.testing import served

    home = tmp_path_factory.mktemp("server_home")
    settings = get_settings(home=home)
    catalog = load_catalog(catalog_min_dir)
    source = home / "rf4_rrk__ae_type1_2018q1.csv"
    source.write_text(AE_2018Q1)
    received = dt.datetime(2018, 4, 10, tzinfo=dt.UTC)
    assert submit_file(source, catalog, settings, now=received).status == "accepted"
    publish(catalog, settings, now=received)
    later = home / "rf4_rrk__ae_type1_2018q2_and_revision.csv"
    later.write_text(AE_2018Q2_AND_REVISION)
    received = dt.datetime(2018, 7, 10, tzinfo=dt.UTC)
    assert submit_file(later, catalog, settings, now=received).status == "accepted"
    publish(catalog, settings, now=received + dt.timedelta(days=5))
    tokens = {
        "cqc": create_token(settings, role="requester", subject="cqc", catalog=catalog)[1],
        "RF4": create_token(settings, role="provider", subject="RF4", catalog=catalog)[1],
    }

    with served(home, catalog_min_dir) as base:
        yield base, tokens


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet", "xlsx"])
def test_requester_pulls_its_quarterly_return_in_each_format(server, fmt, pulled_rows) -> None:
    """It serves the CQC's 2018 Q1 return over HTTP in every format, each parseable."""
    import httpx

    base, tokens = server
    response = httpx.get(
        f"{base}/v1/requests/cqc_uec_quarterly/view",
        params={"from": "2018-01", "to": "2018-03", "format": fmt},
        headers={"Authorization": f"Bearer {tokens['cqc']}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    rows = pulled_rows(response, fmt)
    assert set(rows["period"]) == {"2017/18 Q4"}  # January to March 2018, an NHS quarter
    assert {"UEC01", "UEC02", "UEC03"} <= set(rows["item"])
    uec01 = rows[(rows["provider_code"] == "RF4") & (rows["item"] == "UEC01")]
    assert uec01["value"].tolist() == [21400 + 18668 + 21452]  # January as revised in July


def test_provider_pulls_its_own_data_and_not_anothers(server) -> None:
    """It streams RF4's own data as CSV and refuses RRK's to RF4's token."""
    import httpx

    base, tokens = server
    auth = {"Authorization": f"Bearer {tokens['RF4']}"}
    with httpx.stream(
        "GET", f"{base}/v1/providers/RF4/data", params={"format": "csv"}, headers=auth
    ) as response:
        assert response.status_code == 200
        text = b"".join(response.iter_bytes()).decode()
    lines = text.splitlines()
    assert lines[0].startswith("provider_code,period,metric")
    assert all(line.startswith("RF4,") for line in lines[1:])
    assert httpx.get(f"{base}/v1/providers/RRK/data", headers=auth).status_code == 403
    assert httpx.get(f"{base}/v1/providers/RF4/data").status_code == 401


def test_regulator_pulls_its_2018_quarterly_return_as_csv_now_and_as_of_last_month(
    server,
) -> None:
    """It serves the CQC's 2018 quarterly return as CSV from the latest publication, and
    exactly as it stood in the publication before July's, found by date."""
    import httpx
    import pandas as pd

    base, tokens = server
    auth = {"Authorization": f"Bearer {tokens['cqc']}"}
    listed = httpx.get(f"{base}/v1/publications", headers=auth, timeout=30).json()
    cutoff = dt.datetime(2018, 7, 1, tzinfo=dt.UTC)
    earlier = [
        p["version"]
        for p in listed["publications"]
        if dt.datetime.fromisoformat(p["published_at"]) < cutoff
    ]
    assert len(listed["publications"]) == 2 and len(earlier) == 1

    def pull(**extra: object) -> tuple[httpx.Response, pd.DataFrame]:
        params = {"from": "2018-01", "to": "2018-12", "format": "csv", **extra}
        url = f"{base}/v1/requests/cqc_uec_quarterly/view"
        response = httpx.get(url, params=params, headers=auth, timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        return response, pd.read_csv(io.StringIO(response.text), keep_default_na=False)

    def uec01(rows: pd.DataFrame, period: str) -> tuple[float, str]:
        hit = rows[(rows["provider_code"] == "RF4") & (rows["period"] == period)]
        hit = hit[hit["item"] == "UEC01"]
        assert len(hit) == 1
        return float(hit["value"].iloc[0]), str(hit["flag"].iloc[0])

    now, latest = pull()
    assert set(latest["period"]) == {"2017/18 Q4", "2018/19 Q1"}
    assert uec01(latest, "2017/18 Q4") == (21400 + 18668 + 21452, "revised")
    # April to June arrived on 10 July: after NHS England's monthly deadlines, but within the
    # 30 days CQC allows after the quarter, so CQC's return is not late
    assert uec01(latest, "2018/19 Q1") == (20369 + 21582 + 21187, "")

    then, before = pull(as_of=earlier[0])
    assert then.headers["x-publication-version"] == str(earlier[0])
    assert now.headers["x-publication-version"] != then.headers["x-publication-version"]
    assert set(before["period"]) == {"2017/18 Q4"}
    # January came on 10 April: late for NHS England's monthly return, on time for CQC's
    assert uec01(before, "2017/18 Q4") == (21317 + 18668 + 21452, "")


@pytest.mark.parametrize(
    ("page", "rendered"), [("docs", "opblock-summary-path"), ("redoc", "pull_view")]
)
def test_api_docs_render_in_a_browser_with_no_internet(server, tmp_path, page, rendered) -> None:
    """Swagger UI and ReDoc render the operations in headless Chromium: every asset is served
    by collectonce itself, and the content security policy lets the page run."""
    import shutil

    browser = next(
        (
            b
            for b in (
                "/usr/bin/chromium",
                shutil.which("chromium"),
                shutil.which("chromium-browser"),
            )
            if b and Path(b).exists()
        ),
        None,
    )
    if browser is None:
        pytest.skip("no Chromium on this machine")
    base, _ = server
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=8000",
            "--dump-dom",
            f"{base}/{page}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rendered in done.stdout, done.stderr[-2000:]
