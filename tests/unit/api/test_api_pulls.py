"""Pulls return the caller's own data only, in each format, from the right publication."""

from __future__ import annotations

import io

import pandas as pd
import pytest

NHSE_ITEMS = {"A1", "A2", "A3"}
CQC_ITEMS = {"UEC01", "UEC02", "UEC03", "UEC04"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_requester_view_holds_only_its_own_items(client, headers, published) -> None:
    """It gives NHS England its monthly A&E return in its own codes, and nothing else."""
    response = client.get(
        "/v1/requests/nhse_ae_monthly/view?from=2018-01&to=2018-03",
        headers=headers("requester_nhs_england"),
    )
    assert response.status_code == 200
    body = response.json()
    rows = pd.DataFrame(body["rows"])
    assert list(rows.columns) == [
        "provider_code",
        "period",
        "item",
        "item_label",
        "metric",
        "value",
        "flag",
    ]
    assert set(rows["item"]) == NHSE_ITEMS
    assert set(rows["period"]) == {"2018-01", "2018-02", "2018-03"}
    assert set(rows["provider_code"]) == {"RF4", "RRK", "R1H", "RQM"}
    assert "staff_sickness_absence_rate" not in set(rows["metric"])
    rf4_jan = rows.query("provider_code == 'RF4' and period == '2018-01' and item == 'A1'")
    assert rf4_jan["value"].tolist() == [21317.0]
    version = body["publication_version"]
    assert response.headers["x-publication-version"] == str(version)
    assert body["row_count"] == len(rows) == 4 * 3 * 3


def test_quarterly_view_as_csv_in_the_requesters_frequency(client, headers) -> None:
    """It gives the CQC its quarterly return as CSV: quarters, its codes, no unmapped item."""
    response = client.get(
        "/v1/requests/cqc_uec_quarterly/view?format=csv&from=2018-01&to=2018-06",
        headers=headers("requester_cqc"),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = pd.read_csv(io.StringIO(response.text))
    assert set(rows["item"]) == CQC_ITEMS  # UEC99 is unmapped and left out
    assert set(rows["period"]) == {"2017/18 Q4", "2018/19 Q1"}  # NHS quarters
    q4 = rows.query("provider_code == 'RF4' and period == '2017/18 Q4' and item == 'UEC01'")
    assert q4["value"].tolist() == [21317 + 18668 + 21452]
    assert f",{21317 + 18668 + 21452}," in response.text  # a count, not 61437.0


def test_admin_pulls_parquet_and_xlsx_attachments(client, headers) -> None:
    """It serves Parquet and XLSX as attachments with their media types, readable as tables."""
    import openpyxl
    import pyarrow.parquet as pq

    url = "/v1/requests/icb_quality_monthly/view?from=2018-04&to=2018-04&format="
    parquet = client.get(url + "parquet", headers=headers("admin"))
    assert parquet.status_code == 200
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(parquet.content)).to_pandas()
    # respondents are the acute_large peer group only: RQM is acute_medium
    assert set(table["provider_code"]) == {"RF4", "RRK", "R1H"}
    qs2 = table.query("provider_code == 'RF4' and item == 'QS2'")["value"].tolist()
    assert qs2 == [20369 + 4943]

    xlsx = client.get(url + "xlsx", headers=headers("admin"))
    assert xlsx.headers["content-type"] == XLSX
    assert xlsx.headers["content-disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert [c.value for c in sheet[1]][:3] == ["provider_code", "period", "item"]
    assert sheet.max_row == 1 + len(table)


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet", "xlsx"])
def test_provider_sees_only_its_own_data(client, headers, fmt, pulled_rows) -> None:
    """It gives RF4 its own rows (derived metrics included) and no other provider's, in every
    format."""
    response = client.get(f"/v1/providers/RF4/data?format={fmt}", headers=headers("provider_RF4"))
    assert response.status_code == 200
    rows = pulled_rows(response, fmt)
    assert set(rows["provider_code"]) == {"RF4"}
    assert "ae_4hr_performance_type1" in set(rows["metric"])
    assert len(rows) == 6 * 5  # six months of four collected and one derived metric


def test_request_lists_are_scoped(client, headers) -> None:
    """It lists a requester's own requests, all for an admin, and a provider's duties read-only."""

    def listed(role: str) -> dict[str, bool]:
        body = client.get("/v1/requests", headers=headers(role)).json()
        return {r["code"]: r["may_pull"] for r in body["requests"]}

    assert listed("requester_nhs_england") == {"nhse_ae_monthly": True}
    assert listed("requester_cqc") == {"cqc_uec_quarterly": True}
    assert set(listed("admin")) == {"nhse_ae_monthly", "cqc_uec_quarterly", "icb_quality_monthly"}
    assert listed("provider_RF4") == dict.fromkeys(
        ["cqc_uec_quarterly", "icb_quality_monthly", "nhse_ae_monthly"], False
    )


@pytest.mark.parametrize(
    "path",
    [
        "/v1/requests/nhse_ae_monthly/view?from=2019-13",
        "/v1/requests/nhse_ae_monthly/view?to=2019-00",
        "/v1/requests/nhse_ae_monthly/view?from=18-01",
        "/v1/requests/nhse_ae_monthly/view?from=2018-06&to=2018-01",
        "/v1/requests/nhse_ae_monthly/view?format=pdf",
        "/v1/requests/nhse_ae_monthly/view?as_of=-1",
        "/v1/requests/nhse_ae_monthly/view?as_of=latest",
        "/v1/requests/..%2F..%2Fetc%2Fpasswd/view",
        "/v1/requests/NHSE_AE_MONTHLY/view",
        "/v1/requests/nhse%20ae/view",
        "/v1/requests/" + "a" * 65 + "/view",
        "/v1/providers/rf4/data",
        "/v1/providers/..%2FRF4/data",
        "/v1/providers/RF4RF4X/data",
        "/v1/providers/RF4/data?from=2018-1",
        "/v1/submissions?limit=0",
    ],
)
def test_bad_parameters_are_422(client, headers, path) -> None:
    """It refuses malformed periods, formats, versions and path-like codes with 422."""
    response = client.get(path, headers=headers("admin"))
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_bad_parameters_from_strangers_are_401_first(client) -> None:
    """It tells a caller without a token nothing about its parameters: 401 before 422."""
    response = client.get("/v1/requests/..%2F..%2Fetc/view?from=2019-13")
    assert response.status_code == 401


def test_unknown_publication_is_404(client, headers) -> None:
    """It answers 404 for a publication that does not exist."""
    response = client.get("/v1/requests/nhse_ae_monthly/view?as_of=999", headers=headers("admin"))
    assert response.status_code == 404
    assert "no publication 999" in response.json()["detail"]


def test_as_of_serves_the_publication_asked_for(
    tmp_path, settings, catalog_min, seed_published, publish_revision
) -> None:
    """It serves a past publication with ?as_of=, and the latest (flagged revised) otherwise."""
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app

    first = seed_published(settings, catalog_min, tmp_path)
    second = publish_revision(settings, catalog_min, tmp_path)
    assert second > first
    _, token = create_token(settings, role="requester", subject="nhs_england", catalog=catalog_min)
    hdr = {"Authorization": f"Bearer {token}"}
    url = "/v1/requests/nhse_ae_monthly/view?from=2018-01&to=2018-01"

    def a1(query: str = "") -> tuple[int, float, str]:
        body = TestClient(build_app(catalog_min, settings)).get(url + query, headers=hdr).json()
        (row,) = [r for r in body["rows"] if r["provider_code"] == "RF4" and r["item"] == "A1"]
        return body["publication_version"], row["value"], row["flag"]

    assert a1() == (second, 21400.0, "revised")
    # January arrived in July: late against the 15-day deadline, and not yet revised
    assert a1(f"&as_of={first}") == (first, 21317.0, "late")


def test_catalogue_metrics_say_why_and_who(client, headers) -> None:
    """It lists every metric with its definition, why it is collected and who uses it how."""
    body = client.get("/v1/catalog/metrics", headers=headers("provider_RF4")).json()
    metrics = {m["code"]: m for m in body["metrics"]}
    breaches = metrics["ae_breaches_4hr_type1"]
    assert breaches["why_collected"].startswith("Tracks the A&E 4-hour standard")
    assert breaches["requesters"] == ["cqc", "nhs_england"]
    used = {(u["request"], u["their_code"]) for u in breaches["requested_as"]}
    assert used == {("nhse_ae_monthly", "A2"), ("cqc_uec_quarterly", "UEC02")}
    assert metrics["ae_4hr_performance_type1"]["derived"]["multiplier"] == 100


def test_burden_summary(client, headers) -> None:
    """It serves the burden before and after collecting once."""
    body = client.get("/v1/burden", headers=headers("requester_cqc")).json()
    assert body["hours_before"] > body["hours_after"] > 0


def test_publications_are_listed(client, headers, published) -> None:
    """It lists the publications with their versions, as `collectonce publications` does."""
    from collectonce.publish.unified import list_publications

    body = client.get("/v1/publications", headers=headers("requester_cqc")).json()
    assert [p["version"] for p in body["publications"]] == [
        p["version"] for p in list_publications(published)
    ]


def test_health_needs_no_token(client, published) -> None:
    """It reports liveness and the latest publication without a token."""
    from collectonce.publish.unified import latest_version

    body = client.get("/health").json()
    assert body == {
        "status": "ok",
        "catalog_version": "0.0.1",
        "publication_version": latest_version(published),
        "upload_processes": 0,
        "upload_processes_warm": 0,
        "uploads_ready": True,
    }


def test_revoked_token_stops_working_on_a_running_server(client, published, catalog_min):
    """It refuses a token from the moment it is revoked, without a restart."""
    from collectonce.access.auth import create_token, revoke_token

    token_id, token = create_token(published, role="admin", subject=None, catalog=catalog_min)
    hdr = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/requests", headers=hdr).status_code == 200
    revoke_token(published, token_id)
    assert client.get("/v1/requests", headers=hdr).status_code == 401


def test_xlsx_too_large_for_a_sheet_is_422(client, headers, monkeypatch) -> None:
    """It refuses an XLSX that would not fit one worksheet, and says to narrow or use CSV."""
    import collectonce.publish.exports as exports

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 5)
    response = client.get(
        "/v1/providers/RQM/data?format=xlsx&from=2018-02", headers=headers("admin")
    )
    assert response.status_code == 422
    assert "use csv or parquet" in response.json()["detail"][0]["msg"]


def test_views_are_gzipped_for_clients_that_accept_it(client, headers) -> None:
    """It sends a view gzipped to a client that accepts gzip, and plain to one that does not."""
    url = "/v1/requests/nhse_ae_monthly/view?from=2018-01&to=2018-06&format=csv"
    packed = client.get(url, headers={**headers("admin"), "Accept-Encoding": "gzip"})
    plain = client.get(url, headers={**headers("admin"), "Accept-Encoding": "identity"})
    assert packed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert int(packed.headers["content-length"]) < len(plain.content) / 3
    assert packed.content == plain.content  # the client unpacks it to the same bytes


def test_large_xlsx_is_streamed_from_a_file_and_reads_back(client, headers, monkeypatch) -> None:
    """It streams a large workbook (no Content-Length, nothing held whole) with the same rows
    as JSON, and still refuses one too large for a sheet before anything is sent."""
    import openpyxl

    import collectonce.api.render as api_render
    import collectonce.publish.exports as exports

    monkeypatch.setattr(api_render, "STREAM_ABOVE_ROWS", 5)
    url = "/v1/providers/R1H/data?from=2018-02&to=2018-05&format="
    response = client.get(url + "xlsx", headers=headers("admin"))
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    assert "content-length" not in response.headers
    assert response.headers["content-disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, *cells = [[c.value for c in r] for r in sheet.iter_rows()]
    got = pd.DataFrame(cells, columns=header)
    want = pd.DataFrame(client.get(url + "json", headers=headers("admin")).json()["rows"])
    assert len(got) == len(want) == 4 * 5
    assert got["value"].tolist() == want["value"].tolist()
    assert set(got["provider_code"]) == {"R1H"}

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 10)
    refused = client.get(url.replace("2018-02", "2018-01") + "xlsx", headers=headers("admin"))
    assert refused.status_code == 422
    assert "use csv or parquet" in refused.json()["detail"][0]["msg"]
