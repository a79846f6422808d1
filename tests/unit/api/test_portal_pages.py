"""The web portal through its door: a browser's requests to `collectonce serve` (TestClient),
with sign-in by token, session cookies, CSRF on every form and the API's scopes."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Iterator

import openpyxl
import pytest
from fastapi.testclient import TestClient

from collectonce.access.auth import create_token, revoke_token
from collectonce.api.app import build_app
from collectonce.portal.session import SESSION_COOKIE


@pytest.fixture(scope="module")
def world(tmp_path_factory, catalog_min, seed_published):
    """A data folder with one publication, and a token per role."""
    from collectonce.settings import get_settings

    settings = get_settings(home=tmp_path_factory.mktemp("portal_home"))
    seed_published(settings, catalog_min, tmp_path_factory.mktemp("portal_files"))

    def token(role, subject):
        return create_token(settings, role=role, subject=subject, catalog=catalog_min)

    return {
        "settings": settings,
        "app": build_app(catalog_min, settings),
        "RF4": token("provider", "RF4"),
        "RRK": token("provider", "RRK"),
        "cqc": token("requester", "cqc"),
        "nhs_england": token("requester", "nhs_england"),
        "admin": token("admin", None),
    }


#: What a browser asks for (at `/` the API answers other clients with JSON).
BROWSER = {"Accept": "text/html,application/xhtml+xml"}


def _nonce(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def sign_in(world, who: str) -> TestClient:
    client = TestClient(world["app"])
    page = client.get("/portal/sign-in")
    assert page.status_code == 200
    answer = client.post(
        "/portal/sign-in",
        data={"token": world[who][1], "csrf_token": _nonce(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


@pytest.fixture
def rf4(world) -> Iterator[TestClient]:
    yield sign_in(world, "RF4")


def csrf_of(client: TestClient, path: str) -> str:
    return _nonce(client.get(path).text)


def test_a_browser_without_a_session_is_sent_to_sign_in_and_json_clients_get_json(world):
    client = TestClient(world["app"])
    page = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/portal/sign-in"
    deep = client.get("/portal/providers/RF4/pack", follow_redirects=False)
    assert deep.headers["location"] == "/portal/sign-in?next=/portal/providers/RF4/pack"
    described = client.get("/", headers={"Accept": "application/json"})
    assert described.status_code == 200 and described.json()["links"]["requests"] == "/v1/requests"
    assert client.get("/").json()["links"]["portal"] == "/portal/sign-in"  # curl's */*


def test_sign_in_sets_a_strict_http_only_expiring_cookie_and_sign_out_ends_it(world):
    client = TestClient(world["app"])
    page = client.get("/portal/sign-in")
    answer = client.post(
        "/portal/sign-in",
        data={"token": world["RF4"][1], "csrf_token": _nonce(page.text), "next": "/"},
        follow_redirects=False,
    )
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "expires=" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over TLS the cookie is Secure
    stolen = client.cookies.get(SESSION_COOKIE)
    home = client.get("/", headers=BROWSER)
    assert home.status_code == 200 and "What I owe" in home.text and "RF4" in home.text
    out = client.post(
        "/portal/sign-out",
        data={"csrf_token": csrf_of(client, "/portal/providers/RF4/upload")},
        follow_redirects=False,
    )
    assert out.status_code == 303
    # the old cookie is worthless once signed out: the session is gone on the server
    replay = TestClient(world["app"], cookies={SESSION_COOKIE: stolen})
    assert replay.get("/", headers=BROWSER, follow_redirects=False).status_code == 303


def test_secure_cookie_over_tls(world):
    client = TestClient(world["app"], base_url="https://portal.test")
    page = client.get("/portal/sign-in")
    answer = client.post(
        "/portal/sign-in",
        data={"token": world["RF4"][1], "csrf_token": _nonce(page.text)},
        follow_redirects=False,
    )
    assert "Secure" in answer.headers["set-cookie"]


def test_sign_in_refuses_a_bad_token_and_a_forged_form(world):
    client = TestClient(world["app"])
    page = client.get("/portal/sign-in")
    wrong = client.post(
        "/portal/sign-in",
        data={"token": "co_0123456789ab_" + "x" * 43, "csrf_token": _nonce(page.text)},
    )
    assert wrong.status_code == 401 and "not valid, has expired or was revoked" in wrong.text
    assert "nhsuk-error-summary" in wrong.text
    forged = TestClient(world["app"]).post(
        "/portal/sign-in", data={"token": world["RF4"][1], "csrf_token": "made-up"}
    )
    assert forged.status_code == 403 and SESSION_COOKIE not in forged.headers.get("set-cookie", "")


def test_revoking_the_token_ends_its_sessions(world, catalog_min):
    settings = world["settings"]
    token_id, token = create_token(settings, role="provider", subject="RF4", catalog=catalog_min)
    client = TestClient(world["app"])
    page = client.get("/portal/sign-in")
    client.post("/portal/sign-in", data={"token": token, "csrf_token": _nonce(page.text)})
    assert client.get("/portal/providers/RF4/submissions").status_code == 200
    revoke_token(settings, token_id)
    assert (
        client.get("/portal/providers/RF4/submissions", follow_redirects=False).status_code == 303
    )


def test_what_i_owe_shows_why_and_for_whom_and_gives_templates(rf4):
    page = rf4.get("/portal/providers/RF4/owe?period=2018-06")
    assert page.status_code == 200
    assert "Why we collect it" in page.text and "NHS England" in page.text
    assert "built-in method" not in page.text and "object at 0x" not in page.text
    assert re.search(r'<td class="nhsuk-table__cell co-num">3</td>', page.text)  # items asked
    workbook = rf4.get("/portal/providers/RF4/template.xlsx?period=2018-06")
    assert workbook.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content))["Data"]
    assert [c.value for c in sheet[1]][:4] == ["provider_code", "period", "metric_id", "value"]
    bad = rf4.get("/portal/providers/RF4/owe?period=June")
    assert bad.status_code == 400 and "YYYY-MM" in bad.text


def _filled_template(client: TestClient, period: str, value: object = 1234) -> bytes:
    """The XLSX template as a provider fills it in with openpyxl, one value per row."""
    raw = client.get(f"/portal/providers/RF4/template.xlsx?period={period}").content
    book = openpyxl.load_workbook(io.BytesIO(raw))
    sheet = book["Data"]
    for row in range(2, sheet.max_row + 1):
        metric = sheet.cell(row, 3).value
        if metric == "ae_breaches_4hr_type1":
            sheet.cell(row, 4).value = 99999999  # more breaches than attendances: an error
        elif metric == "staff_sickness_absence_rate":
            sheet.cell(row, 4).value = 4.1
        elif metric:
            sheet.cell(row, 4).value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_upload_needs_the_form_token_then_gives_the_receipt_as_a_page(rf4, world):
    body = _filled_template(rf4, "2018-07")
    files = {"file": ("RF4_2018-07.xlsx", body, "application/octet-stream")}
    refused = rf4.post("/portal/providers/RF4/upload", files=files, data={"csrf_token": "nope"})
    assert refused.status_code == 403
    token = csrf_of(rf4, "/portal/providers/RF4/upload")
    sent = rf4.post(
        "/portal/providers/RF4/upload",
        files=files,
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    receipt_url = sent.headers["location"]
    page = rf4.get(receipt_url)
    assert page.status_code == 200
    text = page.text
    main = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text.split("<main", 1)[1]))
    assert "RF4_2018-07.xlsx" in text and "cross_metric_rule" in text, main
    # each finding says its row, column, rule and how to fix it
    row = re.search(r"<td class=\"nhsuk-table__cell co-num\">(\d+)</td>", text)
    assert row and int(row.group(1)) >= 2
    assert "quarantined rows" in text
    rejected = rf4.get(receipt_url + "/rejected")
    assert rejected.status_code == 200 and "99999999" in rejected.text
    assert rf4.get(receipt_url + "/rejected.csv").status_code == 200
    history = rf4.get("/portal/providers/RF4/submissions")
    assert "RF4_2018-07.xlsx" in history.text
    # the upload is in the audit log, said to come through the portal
    lines = world["settings"].audit_log.read_text().splitlines()
    assert any(
        '"action":"upload"' in line and '"via":"portal"' in line and "RF4" in line for line in lines
    )
    assert 'id="sent-again"' not in text
    # the same bytes again: the first receipt, saying the file was sent before
    again = rf4.post(
        "/portal/providers/RF4/upload",
        files=files,
        data={"csrf_token": csrf_of(rf4, "/portal/providers/RF4/upload")},
        follow_redirects=False,
    )
    assert again.status_code == 303 and again.headers["location"] == receipt_url + "?again=1"
    repeat = rf4.get(again.headers["location"]).text
    assert 'id="sent-again"' in repeat and "nothing was stored again" in repeat


def test_upload_without_a_file_says_choose_a_file(rf4):
    token = csrf_of(rf4, "/portal/providers/RF4/upload")
    empty = rf4.post(
        "/portal/providers/RF4/upload",
        files={"file": ("", b"", "application/octet-stream")},
        data={"csrf_token": token},
    )
    assert empty.status_code == 400 and "Choose a file to upload" in empty.text


def test_a_provider_cannot_open_another_providers_pack_receipt_or_upload(world, rf4):
    rrk = sign_in(world, "RRK")
    token = csrf_of(rrk, "/portal/providers/RRK/upload")
    sent = rrk.post(
        "/portal/providers/RRK/upload",
        files={
            "file": (
                "RRK.csv",
                b"provider_code,period,metric_id,value\nRRK,2018-07,ae_attendances_type1,10001\n",
                "text/csv",
            )
        },
        data={"csrf_token": token},
        follow_redirects=False,
    )
    rrk_receipt = sent.headers["location"]
    for path in (
        "/portal/providers/RRK/pack",
        "/portal/providers/RRK/pack.xlsx",
        "/portal/providers/RRK/submissions",
        "/portal/providers/RRK/upload",
        rrk_receipt,
        rrk_receipt + "/rejected.csv",
    ):
        answer = rf4.get(path)
        assert answer.status_code == 403, path
        assert "RRK" not in answer.text.split("<main", 1)[1].split("</main>")[0] or (
            "another provider" in answer.text
        )
    assert rf4.get("/portal/requests").status_code == 403
    assert rf4.get("/portal/admin/submissions").status_code == 403


def test_my_pack_and_charts_and_workbook(rf4):
    page = rf4.get("/portal/providers/RF4/pack")
    assert page.status_code == 200 and "xmr-chart" in page.text
    charts = rf4.get("/portal/providers/RF4/charts")
    assert charts.status_code == 200 and charts.text.count("<svg") >= 1
    book = rf4.get("/portal/providers/RF4/pack.xlsx")
    assert book.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(book.content)).sheetnames


def test_requester_views_its_request_and_downloads_it_in_three_formats(world):
    cqc = sign_in(world, "cqc")
    listed = cqc.get("/portal/requests")
    assert "cqc_uec_quarterly" in listed.text and "nhse_ae_monthly" not in listed.text
    page = cqc.get("/portal/requests/cqc_uec_quarterly?from=2018-01&to=2018-06&as_of=latest")
    assert page.status_code == 200 and "view-table" in page.text
    csv = cqc.get("/portal/requests/cqc_uec_quarterly/download?from=2018-01&to=2018-06&format=csv")
    assert csv.status_code == 200 and csv.text.startswith("provider_code,period,item")
    assert "2018-Q1" in csv.text or "2018/19" in csv.text or "2017/18" in csv.text
    as_json = cqc.get(
        "/portal/requests/cqc_uec_quarterly/download?from=2018-01&to=2018-06&as_of=0&format=json"
    )
    assert json.loads(as_json.content)["publication_version"] == 0
    xlsx = cqc.get(
        "/portal/requests/cqc_uec_quarterly/download?from=2018-01&to=2018-06&format=xlsx"
    )
    assert openpyxl.load_workbook(io.BytesIO(xlsx.content)).active.max_row > 1
    wrong = cqc.get("/portal/requests/cqc_uec_quarterly?from=2018-06&to=2018-01")
    assert wrong.status_code == 400 and "must be before" in wrong.text
    refused = cqc.get("/portal/requests/nhse_ae_monthly/download?format=csv")
    assert refused.status_code == 403
    pulls = cqc.get("/portal/pulls")
    assert pulls.status_code == 200 and pulls.text.count("cqc_uec_quarterly") >= 3


def test_data_team_pages(world):
    admin = sign_in(world, "admin")
    for path, expect in (
        ("/", "Data team"),
        ("/portal/admin/publications", "Version 0"),
        ("/portal/admin/publications/0", "Values added"),
        ("/portal/admin/submissions?period=2018-06", "Who owes 2018-06"),
        ("/portal/admin/quarantine", "Quarantine"),
        ("/portal/admin/burden", "Against the targets"),
        ("/portal/admin/dedupe", "dedupe_rules.yaml"),  # this small catalogue has no rules
    ):
        page = admin.get(path, headers=BROWSER)
        assert page.status_code == 200, path
        assert expect in page.text, path
    late = admin.get("/portal/admin/submissions?period=2018-01").text
    # the fixture's bulk file arrived on 10 July 2018, after January's deadline
    assert "Late" in late
    assert admin.get("/portal/admin/publications/99").status_code == 404


def test_pages_carry_security_headers(rf4):
    page = rf4.get("/portal/providers/RF4/owe")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    css = rf4.get("/portal/static/nhsuk-frontend.min.css")
    assert css.status_code == 200 and "nhsuk-frontend v10" in css.text[:200]


def test_sessions_expire(world, catalog_min):
    from collectonce.access.auth import verify
    from collectonce.portal.session import load_session, start_session

    principal = verify(world["settings"], world["RF4"][1])
    cookie, session = start_session(world["settings"], principal)
    assert load_session(world["settings"], cookie) is not None
    later = session.expires_at + dt.timedelta(seconds=1)
    assert load_session(world["settings"], cookie, now=later) is None


def test_data_docs_open_from_the_receipt_and_load_nothing_from_elsewhere(world, rf4):
    token = csrf_of(rf4, "/portal/providers/RF4/upload")
    sent = rf4.post(
        "/portal/providers/RF4/upload",
        files={
            "file": (
                "RF4_2018-08.csv",
                b"provider_code,period,metric_id,value\nRF4,2018-08,ae_attendances_type1,21001\n",
                "text/csv",
            )
        },
        data={"csrf_token": token},
        follow_redirects=False,
    )
    receipt = rf4.get(sent.headers["location"]).text
    link = re.search(r'href="([^"]+)" id="data-docs-link"', receipt)
    assert link, "the receipt links no Data Docs"
    page = rf4.get(link.group(1))
    assert page.status_code == 200 and "Expectation Validation Result" in page.text
    assert not re.search(r"""(src|href)=["']https?://[^"']*\.(js|css|png)""", page.text)
    css = re.search(r'href="([^"]*bootstrap\.min\.css)"', page.text).group(1)
    base = link.group(1).rsplit("/", 1)[0] + "/"
    from urllib.parse import urljoin

    assert rf4.get(urljoin("http://testserver" + base, css)).status_code == 200
    # another provider cannot read them, nor walk out of the site
    rrk = sign_in(world, "RRK")
    assert rrk.get(link.group(1)).status_code == 403
    assert rf4.get(
        link.group(1).split("/data-docs/")[0] + "/data-docs/../../tokens.json"
    ).status_code in (403, 404)
    admin = sign_in(world, "admin")
    assert "Validation Results" in admin.get("/portal/admin/data-docs/index.html").text


def test_the_gx_project_holds_suites_and_a_checkpoint_per_shape(world):
    import great_expectations as gx
    import pandas as pd

    from collectonce.validate.data_docs import project_dir

    context = gx.get_context(mode="file", project_root_dir=str(project_dir(world["settings"])))
    names = {c.name for c in context.checkpoints.all()}
    assert {"collectonce_canonical_rows", "collectonce_provider_period"} <= names
    checkpoint = context.checkpoints.get("collectonce_provider_period")

    def pair_rule(breaches: float) -> bool:
        frame = pd.DataFrame({"ae_attendances_type1": [100.0], "ae_breaches_4hr_type1": [breaches]})
        result = checkpoint.run(batch_parameters={"dataframe": frame})
        (validation,) = result.run_results.values()
        (found,) = [
            r
            for r in validation.results
            if {
                r.expectation_config.kwargs.get("column_A"),
                r.expectation_config.kwargs.get("column_B"),
            }
            == {"ae_attendances_type1", "ae_breaches_4hr_type1"}
        ]
        return bool(found.success)

    assert pair_rule(10.0) and not pair_rule(180.0)


def test_the_dedupe_queue_of_the_shipped_catalogue(tmp_path, shipped_catalog):
    """The data team reads each cluster's items with their labels, the reasons and the command
    that accepts it; nobody else may open the queue."""
    from collectonce.settings import get_settings

    settings = get_settings(home=tmp_path / "home")
    app = build_app(shipped_catalog, settings)
    admin = create_token(settings, role="admin", subject=None, catalog=shipped_catalog)[1]
    provider = create_token(settings, role="provider", subject="RF4", catalog=shipped_catalog)[1]
    world = {"app": app, "admin": ("", admin), "RF4": ("", provider)}
    page = sign_in(world, "admin").get("/portal/admin/dedupe")
    assert page.status_code == 200
    assert "Sickness absence (%)" in page.text and "--accept c" in page.text
    assert "same topic=" in page.text
    assert sign_in(world, "RF4").get("/portal/admin/dedupe").status_code == 403


def test_a_mistyped_portal_address_is_a_page_for_browsers_and_json_for_the_api(rf4):
    page = rf4.get("/portal/provider/RF4", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in page.text
    assert "Go to the start page" in page.text
    assert page.headers["X-Frame-Options"] == "DENY"
    api = rf4.get("/v1/no-such-thing", headers={"Accept": "text/html"})
    assert api.status_code == 404
    assert api.json() == {"detail": "Not Found"}
    plain = rf4.get("/portal/provider/RF4", headers={"Accept": "application/json"})
    assert plain.status_code == 404 and plain.json() == {"detail": "Not Found"}


def test_the_provider_start_page_names_the_month_and_peer_group_in_words(rf4):
    from collectonce.portal.provider import default_period
    from collectonce.portal.web import month_name

    page = rf4.get("/portal/providers/RF4")
    assert page.status_code == 200
    month = month_name(default_period())
    assert f"For <strong>{month}</strong> you owe" in page.text
    assert month.split()[0].isalpha() and month.split()[1].isdigit()
    assert "peer group: acute large" in page.text
    assert month_name("2018-04") == "April 2018" and month_name("nonsense") == "nonsense"
