"""Workbooks analysts keep, fetched through the doors people use (the API and the portal):
an Excel table per sheet with filters and a frozen header, column widths and number formats, a
README sheet, a native line chart per metric in the pack; and LibreOffice opens them (converts
them headless) without complaint, when it is installed."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile

import openpyxl
import pytest
from fastapi.testclient import TestClient

from collectonce.access.auth import create_token
from collectonce.api.app import build_app


@pytest.fixture(scope="module")
def books(tmp_path_factory, catalog_min, seed_published) -> dict[str, bytes]:
    from collectonce.settings import get_settings

    settings = get_settings(home=tmp_path_factory.mktemp("workbooks_home"))
    seed_published(settings, catalog_min, tmp_path_factory.mktemp("workbooks_files"))
    app = build_app(catalog_min, settings)
    requester = create_token(settings, role="requester", subject="nhs_england", catalog=catalog_min)
    client = TestClient(app)
    view = client.get(
        "/v1/requests/nhse_ae_monthly/view?from=2018-01&to=2018-06&format=xlsx",
        headers={"Authorization": f"Bearer {requester[1]}"},
    )
    assert view.status_code == 200, view.text
    cqc = create_token(settings, role="requester", subject="cqc", catalog=catalog_min)[1]
    quarterly = client.get(
        "/v1/requests/cqc_uec_quarterly/view?from=2018-01&to=2018-06&format=xlsx",
        headers={"Authorization": f"Bearer {cqc}"},
    )
    assert quarterly.status_code == 200, quarterly.text
    provider = create_token(settings, role="provider", subject="RF4", catalog=catalog_min)[1]
    page = client.get("/portal/sign-in")
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/portal/sign-in", data={"token": provider, "csrf_token": nonce})
    pack = client.get("/portal/providers/RF4/pack.xlsx")
    assert pack.status_code == 200
    admin = create_token(settings, role="admin", subject=None, catalog=catalog_min)[1]
    other = TestClient(app)
    page = other.get("/portal/sign-in")
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    other.post("/portal/sign-in", data={"token": admin, "csrf_token": nonce})
    burden = other.get("/portal/admin/burden.xlsx")
    assert burden.status_code == 200
    return {
        "view": view.content,
        "quarterly": quarterly.content,
        "pack": pack.content,
        "burden": burden.content,
    }


def test_every_sheet_is_an_excel_table_with_a_frozen_header(books):
    for name, body in books.items():
        book = openpyxl.load_workbook(io.BytesIO(body))
        for sheet in book.worksheets:
            if sheet.title == "Charts":
                continue
            assert sheet.tables, f"{name}: sheet {sheet.title} has no Excel table"
            for table in sheet.tables.values():
                assert table.autoFilter is not None, f"{name}: {table.name} has no filter"
            if sheet.title != "README":
                assert sheet.freeze_panes, f"{name}: {sheet.title} has no frozen header"
        assert "README" in book.sheetnames


def test_the_view_workbook_says_what_it_is_and_formats_its_numbers(books):
    book = openpyxl.load_workbook(io.BytesIO(books["view"]))
    data = book["data"]
    header = [c.value for c in data[1]]
    value_col = header.index("value") + 1
    cell = data.cell(2, value_col)
    assert isinstance(cell.value, int | float) and "#,##0" in cell.number_format
    assert data.column_dimensions["D"].width and data.column_dimensions["D"].width > 20
    readme = {r[0]: r[1] for r in book["README"].iter_rows(min_row=4, values_only=True) if r[0]}
    assert readme["Request"] == "nhse_ae_monthly"
    assert readme["Publication version"] == "0" and readme["As of"] == "publication 0"
    assert "Open Government Licence" in readme["Licence"]
    assert "value" in readme and "ODS code" in readme["provider_code"]


def test_the_pack_workbook_has_a_native_line_chart_per_metric(books):
    archive = zipfile.ZipFile(io.BytesIO(books["pack"]))
    charts = [n for n in archive.namelist() if n.startswith("xl/charts/chart")]
    book = openpyxl.load_workbook(io.BytesIO(books["pack"]))
    metrics = {r[1] for r in book["Data"].iter_rows(min_row=2, values_only=True) if r[1]}
    assert len(charts) == len(metrics) >= 3
    xml = archive.read(charts[0]).decode()
    assert "<c:lineChart>" in xml and "Data!$D$2" in xml.replace("'", "")
    assert book["Data"].cell(2, 3).is_date  # periods are dates, not text


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_them(books, tmp_path):
    profile = tmp_path / "profile"
    for name, body in books.items():
        source = tmp_path / f"{name}.xlsx"
        source.write_bytes(body)
        done = subprocess.run(
            [
                "soffice",
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                "ods",
                "--outdir",
                str(tmp_path / "out"),
                str(source),
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
        converted = tmp_path / "out" / f"{name}.ods"
        assert done.returncode == 0 and converted.is_file(), done.stdout + done.stderr
        assert converted.stat().st_size > 1000
        assert "error" not in done.stderr.lower(), done.stderr


def test_percentages_are_formatted_as_percentages(books):
    book = openpyxl.load_workbook(io.BytesIO(books["quarterly"]))
    data = book["data"]
    header = [c.value for c in data[1]]
    metric, value = header.index("metric") + 1, header.index("value") + 1
    formats = {
        data.cell(r, metric).value: data.cell(r, value).number_format
        for r in range(2, data.max_row + 1)
        if data.cell(r, value).value is not None
    }
    assert formats["ae_4hr_performance_type1"] == '0.0"%"'
    assert formats["ae_attendances_type1"] == "#,##0"


def test_the_burden_workbook_holds_each_breakdown(books):
    book = openpyxl.load_workbook(io.BytesIO(books["burden"]))
    assert book.sheetnames == ["Targets", "Requesters", "Peer groups", "Providers", "README"]
    providers = book["Providers"]
    header = [c.value for c in providers[1]]
    assert "hours_saved" in header and providers.max_row > 2
    cost = providers.cell(2, header.index("cost_saved_gbp") + 1)
    assert isinstance(cost.value, int | float) and "£" in cost.number_format
