"""The portal's templates render from typed rows and stored records (strict undefined: a field
the template asks for that the model lacks fails the render), not from dictionaries."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from markupsafe import escape

from collectonce.findings import Finding
from collectonce.portal.admin import period_status
from collectonce.portal.views import (
    ChartPanel,
    ItemRow,
    MetricRef,
    PeriodStatus,
    RequestRow,
    ViewPreview,
)
from collectonce.portal.web import environment
from collectonce.publish.history import PublishedVersion
from collectonce.store.receipts import Receipt

WHEN = dt.datetime(2019, 2, 20, 9, 30, tzinfo=dt.UTC)


def page(name: str, **context: Any) -> str:
    """A template rendered as the portal renders it, for the data team."""
    base = {
        "title": "T",
        "session": SimpleNamespace(csrf="nonce"),
        "principal": SimpleNamespace(role="admin", subject=None),
        "who": "Data team",
        "role_name": "Data team",
        "nav": [],
        "path": "/portal/x",
        "csrf_field": "csrf_token",
        "breadcrumbs": [],
    }
    return environment().get_template(name).render(**{**base, **context})


def receipt(sid: str, providers: list[str], *, rejected: int = 0, when: dt.datetime = WHEN):
    findings = [
        Finding("f.csv", 3, "value", "ae_attendances_type1", "not_a_number", "error", "Fix it", "x")
    ] * rejected
    return Receipt(
        submission_id=sid,
        status="partially_accepted" if rejected else "accepted",
        rows_read=10,
        rows_accepted=10 - rejected,
        rows_rejected=rejected,
        findings=findings,
        file_sha256="0" * 64,
        original_name=f"{sid}.csv",
        submitted_by="RF4 (portal)",
        received_at=when,
        template="canonical",
        providers=providers,
        periods=["2019-01"],
        values_revised=2,
    )


def test_the_requests_list_renders_from_request_rows(catalog_min):
    names = {c: r.name for c, r in catalog_min.requesters.items()}
    rows = [RequestRow.of(r, names.get(r.requester)) for r in catalog_min.requests.values()]
    first = rows[0]
    req = catalog_min.requests[first.code]
    assert first.items == len(req.items) and first.mapped <= first.items
    html = page("requests.html.j2", rows=rows)
    for row in rows:
        assert f'href="/portal/requests/{row.code}"' in html
        assert f'<td class="nhsuk-table__cell co-num">{row.items}</td>' in html


def test_items_name_their_metrics_with_catalogue_labels(catalog_min):
    req = catalog_min.requests["nhse_ae_monthly"]
    items = ItemRow.of_request(catalog_min, req)
    assert [i.their_code for i in items] == [i.their_code for i in req.items]
    mapped = next(i for i in items if i.metrics)
    ref = mapped.metrics[0]
    assert isinstance(ref, MetricRef)
    assert ref.label == catalog_min.metrics[ref.code].label


def test_who_owes_a_month_is_typed_and_the_page_renders_from_it(catalog_min):
    received = [
        receipt("sub_early", ["RF4"], when=dt.datetime(2019, 2, 5, tzinfo=dt.UTC)),
        receipt("sub_late", ["RRK"], when=dt.datetime(2019, 6, 1, tzinfo=dt.UTC)),
    ]
    rows = period_status(catalog_min, received, "2019-01")
    assert rows and all(isinstance(r, PeriodStatus) for r in rows)
    by_ods = {r.ods: r for r in rows}
    assert by_ods["RF4"].submission_id == "sub_early"
    assert by_ods["RRK"].status == "late"
    assert by_ods["R1H"].status == "missing" and by_ods["R1H"].received_at is None
    ordered = sorted(rows, key=lambda r: r.order)
    assert ordered[0].status == "missing"
    html = page(
        "admin_submissions.html.j2",
        status=200,
        period="2019-01",
        periods=["2019-01"],
        rows=ordered,
        tally={"late": 1},
        errors=[],
        receipts=received,
        total=len(received),
    )
    assert 'href="/portal/submissions/sub_late"' in html
    assert "1 June 2019, 00:00 UTC" in html


def test_receipt_and_submission_pages_render_from_stored_receipts():
    r = receipt("sub_mixed", ["RF4"], rejected=2)
    html = page(
        "receipt.html.j2",
        r=r,
        errors=[f for f in r.findings if f.is_error],
        warnings=[],
        n_errors=r.errors,
        n_warnings=r.warnings,
        rules=[("error", "not_a_number", "Not a number")],
        page_rows=500,
        has_rejected=True,
        has_report=False,
        data_docs=None,
        ods="RF4",
        sent_again=False,
    )
    assert "<code>not_a_number</code>" in html and "20 February 2019, 09:30 UTC" in html
    assert 'id="rows-rejected">2<' in html
    listed = page("submissions.html.j2", ods="RF4", receipts=[r])
    assert 'href="/portal/submissions/sub_mixed"' in listed
    held = page("quarantine.html.j2", held=[r], rows=r.rows_rejected)
    assert "/portal/submissions/sub_mixed/rejected" in held


def test_publication_pages_render_from_published_versions():
    pub = PublishedVersion(
        version=3,
        published_at=WHEN,
        catalog_version="2019.1",
        counts={"rows": 1200, "providers": 4, "revised": 5, "late": 1},
        content_hash="abc",
        committed_at=WHEN,
    )
    html = page("publications.html.j2", publications=[pub])
    assert 'href="/portal/admin/publications/3"' in html and "1,200" in html
    home = page(
        "admin_home.html.j2", receipts=2, counts={}, quarantined=0, latest=pub, dedupe=False
    )
    assert '<a href="/portal/admin/publications/3">version 3</a>' in home


@pytest.mark.parametrize("name", ["requests.html.j2", "submissions.html.j2"])
def test_a_missing_field_fails_the_render(name):
    """Strict rendering: a row without the fields the template needs is an error, not blank."""
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        page(name, rows=[object()], receipts=[object()], ods="RF4")


def test_a_requests_page_renders_its_items_preview_and_publications(catalog_min):
    req = catalog_min.requests["nhse_ae_monthly"]
    items = ItemRow.of_request(catalog_min, req)
    preview = ViewPreview(
        rows=[
            {
                "provider_code": "RF4",
                "period": "2018-01",
                "item": items[0].their_code,
                "item_label": items[0].their_label,
                "value": 21317.0,
                "flag": "",
            }
        ],
        total=1,
        version=3,
    )
    pub = PublishedVersion(3, WHEN, "2019.1", {"rows": 1}, "abc", WHEN)
    html = page(
        "request.html.j2",
        req=req,
        requester_name="NHS England",
        items=items,
        publications=[pub],
        form={"from": "2018-01", "to": "2018-01", "as_of": 3},
        errors=[],
        preview=preview,
        preview_rows=25,
        query="from=2018-01&to=2018-01",
    )
    assert "The view: 1 row, publication 3" in html
    assert '<option value="3" selected>' in html
    assert "21,317" in html
    ref = next(i for i in items if i.metrics).metrics[0]
    assert f'{escape(ref.label)} <span class="co-codes">{ref.code}</span>' in html


def test_the_charts_page_renders_from_chart_panels():
    panels = [
        ChartPanel("ae_attendances_type1", "A&E attendances", None, "Too few points", 1),
    ]
    html = page(
        "charts.html.j2",
        ods="RF4",
        panels=panels,
        publication_version=3,
        published_at=WHEN,
    )
    assert 'id="chart-ae_attendances_type1"' in html
    assert "Too few points: 1 period held." in html
