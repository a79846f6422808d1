"""Views of level requests, level packs, the overview by region and the provider pack's
region and England figures, each through the command a user runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from rollup_helpers import AE_CSV, invoke, rollup_json, submit_and_publish

REGIONAL_REQUEST = """\
code: nhse_regional_ae_monthly
requester: nhs_england
title: Regional team monthly A&E summary
purpose: >-
  Each NHS England regional team reviews its region's A&E attendances and 4-hour performance
  every month, from the providers' published figures.
frequency: month
due_days_after_period: 15
minutes_per_item: 5
respondents: all
level: region
items:
  - {their_code: "R1", their_label: "Type 1 attendances", metric: ae_attendances_type1}
  - {their_code: "R2", their_label: "Attendances, all types",
     metrics: [ae_attendances_type1, ae_attendances_type2, ae_attendances_other]}
  - {their_code: "R3", their_label: "4-hour performance, all types", metric: ae_4hr_performance_all}
"""
ENGLAND_QUARTERLY = REGIONAL_REQUEST.replace("nhse_regional_ae_monthly", "nhse_england_ae_q")
ENGLAND_QUARTERLY = ENGLAND_QUARTERLY.replace("level: region", "level: england").replace(
    "frequency: month", "frequency: quarter"
)


@pytest.fixture
def level_catalog(catalog_copy) -> Path:
    catalog = catalog_copy()
    (catalog / "requests/nhs_england/nhse_regional_ae_monthly.yaml").write_text(REGIONAL_REQUEST)
    (catalog / "requests/nhs_england/nhse_england_ae_q.yaml").write_text(ENGLAND_QUARTERLY)
    return catalog


def test_the_publish_stage_hands_level_requests_and_roll_ups_one_layer_up(
    tmp_path: Path, level_catalog: Path
) -> None:
    """`collectonce publish` commits the roll-ups with the publication; the publish stage's own
    view renderer refuses a region-level request, which the roll-up layer serves, the same rows
    as `collectonce view` prints."""
    from collectonce.catalog import load_catalog
    from collectonce.publish.errors import ServedFromRollups
    from collectonce.publish.views import render_view
    from collectonce.rollup.publishing import render_request_view
    from collectonce.rollup.table import describe
    from collectonce.settings import get_settings

    home = tmp_path / "home"
    submit_and_publish(home, AE_CSV, catalog=level_catalog)
    settings = get_settings(home=home, catalog=level_catalog)
    assert describe(settings) == [{"levels_version": 0, "unified_version": 0}]
    catalog = load_catalog(level_catalog)
    code = "nhse_regional_ae_monthly"
    with pytest.raises(ServedFromRollups, match="region level"):
        render_view(catalog, settings, code, "2019-01", "2019-01")
    served = render_request_view(catalog, settings, code, "2019-01", "2019-01")
    status, out = invoke(
        home, "view", code, "--from", "2019-01", "--to", "2019-01", "--format", "csv",
        catalog=level_catalog,
    )  # fmt: skip
    assert status == 0, out
    printed = pd.read_csv(io.StringIO(out))
    assert len(served) == len(printed) > 0
    assert sorted(served["provider_code"].astype(str)) == sorted(printed["provider_code"])


def four_hour(frame: pd.DataFrame) -> float:
    return 100 * (1 - frame["breaches"].sum() / frame["attendances"].sum())


def test_a_regional_request_is_served_from_the_roll_ups(
    tmp_path: Path, level_catalog: Path, ae_data
) -> None:
    """`collectonce view` of a `level: region` request gives one row per region × month × item
    in the request's own codes; a quarterly England request recomputes the quarter's 4-hour %
    from the quarter's summed counts; no provider is asked for anything more."""
    home = tmp_path / "home"
    submit_and_publish(home, AE_CSV, catalog=level_catalog)
    code, out = invoke(
        home, "view", "nhse_regional_ae_monthly", "--from", "2019-01", "--to", "2019-02",
        "--format", "csv", catalog=level_catalog,
    )  # fmt: skip
    assert code == 0, out
    view = pd.read_csv(io.StringIO(out))
    assert set(view["item"]) == {"R1", "R2", "R3"}
    assert set(view["period"]) == {"2019-01", "2019-02"}
    assert "London" in set(view["provider_code"]) and len(set(view["provider_code"])) == 8
    london_jan = ae_data[(ae_data["region"] == "London") & (ae_data["month"] == "2019-01")]
    row = view.query("provider_code == 'London' and period == '2019-01'").set_index("item")
    assert row.loc["R1", "value"] == london_jan.loc[london_jan["type"] == "1", "attendances"].sum()
    assert row.loc["R2", "value"] == london_jan["attendances"].sum()
    assert row.loc["R3", "value"] == pytest.approx(four_hour(london_jan), abs=1e-6)

    code, out = invoke(
        home, "view", "nhse_england_ae_q", "--from", "2018-10", "--to", "2018-12",
        "--format", "csv", catalog=level_catalog,
    )  # fmt: skip
    assert code == 0, out
    quarter = pd.read_csv(io.StringIO(out)).set_index("item")
    q4 = ae_data[ae_data["month"].isin(["2018-10", "2018-11", "2018-12"])]
    assert set(quarter["period"]) == {"2018/19 Q3"} and set(quarter["provider_code"]) == {"England"}
    assert quarter.loc["R3", "value"] == pytest.approx(four_hour(q4), abs=1e-6)
    assert quarter.loc["R2", "value"] == q4["attendances"].sum()

    code, out = invoke(home, "plan", "--provider", "RF4", "--period", "2019-01", "--json",
                       catalog=level_catalog)  # fmt: skip
    assert code == 0, out
    assert "nhse_regional_ae_monthly" not in out and "nhse_england_ae_q" not in out


def test_level_packs_and_the_overview_by_region(ae_home: Path, tmp_path: Path) -> None:
    """`collectonce pack --region` and `--england` write the NHS.UK pages; `overview --by
    region` groups the matrix by region beside each region's figure."""
    code, out = invoke(ae_home, "pack", "--england", "--out", str(tmp_path), "--json")
    assert code == 0, out
    page = Path(json.loads(out)["paths"]["html"]).read_text()
    assert '<h1 class="nhsuk-heading-xl">England</h1>' in page
    assert 'id="metric-ae_4hr_performance_all"' in page and "svg" in page
    assert "Staff sickness absence rate" in page  # listed as not rolled up, never averaged
    code, out = invoke(ae_home, "pack", "--region", "north west", "--out", str(tmp_path))
    assert code == 0, out
    assert (tmp_path / "north_west_pack.html").exists()
    code, out = invoke(ae_home, "pack", "--region", "Wessex")
    assert code == 1 and "there is no region" in out

    code, out = invoke(
        ae_home, "overview", "--metric", "ae_4hr_performance_all", "--by", "region", "--json",
        "--out", str(tmp_path / "overview.html"),
    )  # fmt: skip
    assert code == 0, out
    body = json.loads(out)
    regions = {g["region"]: g for g in body["regions"]}
    assert "Unassigned" in regions and "London" in regions
    london = regions["London"]
    assert sum(london["variation"].values()) == london["providers"]
    england_rows = rollup_json(ae_home, "--metric", "ae_4hr_performance_all", "--level",
                               "region", "--region", "London")  # fmt: skip
    assert london["rollup"]["latest_value"] == pytest.approx(england_rows[-1]["value"])
    assert 'id="region-overview"' in (tmp_path / "overview.html").read_text()


def test_a_provider_pack_shows_its_region_and_england_beside_its_own(
    ae_home: Path, tmp_path: Path
) -> None:
    code, out = invoke(ae_home, "pack", "--provider", "RF4", "--out", str(tmp_path))
    assert code == 0, out
    page = (tmp_path / "RF4_pack.html").read_text()
    assert 'data-beside="ae_4hr_performance_all"' in page
    region = rollup_json(ae_home, "--metric", "ae_4hr_performance_all", "--region", "London",
                         "--from", "2019-03", "--to", "2019-03")[0]  # fmt: skip
    england = rollup_json(ae_home, "--metric", "ae_4hr_performance_all", "--level", "england",
                          "--from", "2019-03", "--to", "2019-03")[0]  # fmt: skip
    beside = page.split('data-beside="ae_4hr_performance_all"', 1)[1].split("</div>", 1)[0]
    assert f"London {region['value']:.1f}%" in beside
    assert f"England {england['value']:.1f}%" in beside


def test_a_requester_pulls_its_regional_view_over_the_api(
    tmp_path: Path, level_catalog: Path, ae_data
) -> None:
    """NHS England pulls its regional request from the API like any view; the CQC cannot."""
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app
    from collectonce.catalog import load_catalog
    from collectonce.settings import get_settings

    home = tmp_path / "home"
    submit_and_publish(home, AE_CSV, catalog=level_catalog)
    catalog = load_catalog(level_catalog)
    settings = get_settings(home=home, catalog=level_catalog)

    def bearer(requester: str) -> dict[str, str]:
        token = create_token(settings, role="requester", subject=requester, catalog=catalog)[1]
        return {"Authorization": f"Bearer {token}"}

    url = "/v1/requests/nhse_regional_ae_monthly/view?from=2019-03&to=2019-03"
    with TestClient(build_app(catalog, settings)) as client:
        response = client.get(url, headers=bearer("nhs_england"))
        assert response.status_code == 200, response.text
        rows = pd.DataFrame(response.json()["rows"])
        assert client.get(url, headers=bearer("cqc")).status_code == 403
    assert set(rows["provider_code"]) == {
        "East of England", "London", "Midlands", "North East and Yorkshire", "North West",
        "South East", "South West", "Unassigned",
    }  # fmt: skip
    midlands = ae_data[(ae_data["region"] == "Midlands") & (ae_data["month"] == "2019-03")]
    r3 = rows.query("provider_code == 'Midlands' and item == 'R3'")["value"].item()
    assert r3 == pytest.approx(four_hour(midlands), abs=1e-6)


def with_icbs(catalog: Path) -> dict[str, str]:
    """Name the integrated care board of a few London trusts in providers.csv (icb column)."""
    boards = {
        "R1H": "NHS North East London",
        "RF4": "NHS North East London",
        "RQM": "NHS North West London",
    }
    path = catalog / "providers.csv"
    lines = path.read_text().splitlines()
    out = [lines[0] + ",icb"]
    for line in lines[1:]:
        out.append(f"{line},{boards.get(line.split(',')[0], '')}")
    path.write_text("\n".join(out) + "\n")
    return boards


def test_roll_ups_by_integrated_care_board(tmp_path: Path, catalog_copy, ae_data) -> None:
    """With an icb column, `rollup --level icb` sums each board's providers; the others show
    as Unassigned; a provider's token sees its own board only."""
    from fastapi.testclient import TestClient

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app
    from collectonce.catalog import load_catalog
    from collectonce.settings import get_settings

    catalog_dir = catalog_copy()
    with_icbs(catalog_dir)
    home = tmp_path / "home"
    submit_and_publish(home, AE_CSV, catalog=catalog_dir)
    rows = rollup_json(home, "--metric", "ae_attendances_type1", "--icb",
                       "nhs north east london", "--from", "2019-01", "--to", "2019-01",
                       catalog=catalog_dir)  # fmt: skip
    jan = ae_data[(ae_data["month"] == "2019-01") & (ae_data["type"] == "1")]
    (row,) = rows
    assert row["level"] == "icb" and row["code"] == "NHS North East London"
    assert row["value"] == jan.loc[jan["org_code"].isin(["R1H", "RF4"]), "attendances"].sum()
    assert row["providers"] == 2
    every = rollup_json(home, "--metric", "ae_attendances_type1", "--level", "icb",
                        "--from", "2019-01", "--to", "2019-01", catalog=catalog_dir)  # fmt: skip
    assert {r["code"] for r in every} == {
        "NHS North East London", "NHS North West London", "Unassigned",
    }  # fmt: skip
    code, out = invoke(home, "rollup", "--metric", "ae_attendances_type1", "--level", "icb")
    assert code == 1 and "names no integrated care board" in out  # the shipped catalogue

    catalog = load_catalog(catalog_dir)
    settings = get_settings(home=home, catalog=catalog_dir)
    token = create_token(settings, role="provider", subject="RF4", catalog=catalog)[1]
    with TestClient(build_app(catalog, settings)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        own = client.get("/v1/rollups/icb?metric=ae_attendances_type1&from=2019-01", headers=auth)
        assert own.status_code == 200
        assert {r["code"] for r in own.json()["rows"]} == {"NHS North East London"}
        other = client.get(
            "/v1/rollups/icb?metric=ae_attendances_type1&icb=NHS North West London", headers=auth
        )
        assert other.status_code == 403


def test_a_level_request_sets_no_provider_deadline(catalog_copy) -> None:
    """A `level: region` request due the day its month ends asks nothing of providers, so a
    provider's value sent the next day is late only by the provider requests' deadlines."""
    from collectonce.catalog import load_catalog
    from collectonce.publish.unified import late_flags

    path = catalog_copy()
    plain = load_catalog(path)
    (path / "requests/nhs_england/nhse_regional_ae_monthly.yaml").write_text(
        REGIONAL_REQUEST.replace("due_days_after_period: 15", "due_days_after_period: 0")
    )
    tight = load_catalog(path)
    assert tight.requests["nhse_regional_ae_monthly"].level == "region"
    provider = next(iter(plain.providers))
    rows = pd.DataFrame(
        {
            "provider_code": [provider],
            "metric_id": ["ae_attendances_type1"],
            "period": [pd.Timestamp("2026-11-01")],
            "received_at": [pd.Timestamp("2026-12-02T09:00", tz="UTC")],
        }
    )
    expected = late_flags(plain, rows)
    assert not expected.iloc[0]
    assert late_flags(tight, rows).tolist() == expected.tolist()


def test_a_level_request_adds_nothing_to_the_burden(tmp_path: Path, level_catalog: Path) -> None:
    """`collectonce burden --json` counts only what providers are asked: the regional and
    England requests are served from the roll-ups, so totals equal the shipped catalogue's."""
    from rollup_helpers import CATALOG

    keys = ("hours_before", "hours_after", "items_requested", "items_mapped", "unique_items")
    totals = []
    for catalog in (CATALOG, level_catalog):
        code, out = invoke(tmp_path, "burden", "--json", "--out", str(tmp_path / "r"),
                           catalog=catalog)  # fmt: skip
        assert code == 0, out
        report = json.loads(out)
        totals.append({k: report[k] for k in keys})
    assert totals[1] == totals[0]


def test_a_provider_plan_leaves_out_level_requests(tmp_path: Path, level_catalog: Path) -> None:
    """`collectonce plan` lists what a provider owes: the regional and England requests are
    served from the roll-ups and never appear among its requesters' reasons."""
    code, out = invoke(tmp_path, "plan", "--provider", "R0A", "--period", "2026-11", "--json",
                       catalog=level_catalog)  # fmt: skip
    assert code == 0, out
    assert "nhse_ae_monthly" in out
    assert "nhse_regional_ae_monthly" not in out and "nhse_england_ae_q" not in out
