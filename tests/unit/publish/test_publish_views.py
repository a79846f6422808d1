"""Request views: own codes, own frequency, own items, own respondents, flagged values."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from publish_helpers import ADM, AE_2019_Q1, ATT, BRE, PERF, SICK, ae_rows, row

from collectonce.publish.errors import UnknownPublication
from collectonce.publish.unified import publish
from collectonce.publish.views import (
    PROVIDER_COLUMNS,
    VIEW_COLUMNS,
    BadParameter,
    UnknownProvider,
    UnknownRequest,
    provider_data,
    render_view,
)

LATE = dt.datetime(2019, 6, 1, tzinfo=dt.UTC)


def cell(view: pd.DataFrame, provider: str, period: str, item: str) -> pd.Series:
    hit = view.loc[
        (view["provider_code"] == provider) & (view["period"] == period) & (view["item"] == item)
    ]
    assert len(hit) == 1, f"expected one {provider} {period} {item} row, found {len(hit)}"
    return hit.iloc[0]


def figures(ods: str) -> list[tuple[int, int, int]]:
    return [(a, b, c) for p, _, a, b, c in AE_2019_Q1 if p == ods]


@pytest.fixture
def published(catalog_min, settings, submit):
    """The real Q1 2019 figures for four trusts, published once."""
    submit(ae_rows())
    publish(catalog_min, settings)
    return settings


def test_view_holds_only_the_requests_own_items(catalog_min, published) -> None:
    """It never shows a metric the request does not map, even though it is published."""
    view = render_view(catalog_min, published, "nhse_ae_monthly", "2019-01", "2019-03")
    assert list(view.columns) == VIEW_COLUMNS
    assert set(view["item"]) == {"A1", "A2", "A3"}
    assert set(view["metric"]) == {ATT, BRE, ADM}
    assert PERF not in set(view["metric"]) and SICK not in set(view["metric"])
    assert set(view["period"]) == {"2019-01", "2019-02", "2019-03"}
    assert cell(view, "RF4", "2019-01", "A1")["item_label"] == "Type 1 attendances"
    assert cell(view, "RF4", "2019-01", "A2")["value"] == 7363
    assert view.attrs["publication"] == 0


def test_unmapped_items_are_left_out(catalog_min, published) -> None:
    """It omits an item the catalogue cannot serve (the CQC narrative)."""
    view = render_view(catalog_min, published, "cqc_uec_quarterly", "2019-01", "2019-03")
    assert "UEC99" not in set(view["item"])
    assert set(view["item"]) == {"UEC01", "UEC02", "UEC03", "UEC04"}


def test_quarterly_sum_and_mean_use_the_items_transform(catalog_min, published) -> None:
    """It sums counts and averages the monthly percentage over an NHS quarter."""
    view = render_view(catalog_min, published, "cqc_uec_quarterly", "2019-01", "2019-03")
    rf4 = figures("RF4")
    assert set(view["period"]) == {"2018/19 Q4"}
    assert cell(view, "RF4", "2018/19 Q4", "UEC01")["value"] == sum(a for a, _, _ in rf4) == 46991
    assert cell(view, "RF4", "2018/19 Q4", "UEC02")["value"] == sum(b for _, b, _ in rf4) == 18121
    monthly = [(a - b) / a * 100 for a, b, _ in rf4]
    assert cell(view, "RF4", "2018/19 Q4", "UEC03")["value"] == pytest.approx(sum(monthly) / 3)
    assert cell(view, "RF4", "2018/19 Q4", "UEC01")["flag"] == ""


def test_last_max_min_and_scale(catalog_more, settings, submit) -> None:
    """It takes the quarter's final month, its largest and smallest, and rescales a sum."""
    submit(ae_rows(providers=("RF4",)))
    publish(catalog_more, settings)
    view = render_view(catalog_more, settings, "test_quarter_transforms", "2019-01", "2019-03")
    assert cell(view, "RF4", "2018/19 Q4", "L1")["value"] == 15994
    assert cell(view, "RF4", "2018/19 Q4", "X1")["value"] == 16428
    assert cell(view, "RF4", "2018/19 Q4", "N1")["value"] == 14569
    assert cell(view, "RF4", "2018/19 Q4", "K1")["value"] == pytest.approx(46.991)


def test_range_widens_to_whole_request_periods(catalog_min, published) -> None:
    """It renders the whole quarter containing a one-month range, from all its months."""
    view = render_view(catalog_min, published, "cqc_uec_quarterly", "2019-02", "2019-02")
    assert cell(view, "RF4", "2018/19 Q4", "UEC01")["value"] == 46991


def test_yearly_view_of_an_incomplete_year_is_flagged_missing(
    catalog_more, settings, submit
) -> None:
    """It labels financial years 2018/19 and gives no total for a year with months missing."""
    submit(ae_rows(providers=("RF4",)))
    publish(catalog_more, settings)
    view = render_view(catalog_more, settings, "test_yearly_total", None, None)
    got = cell(view, "RF4", "2018/19", "Y1")
    assert got["flag"] == "missing" and pd.isna(got["value"])


def test_only_respondents_of_the_request_appear(catalog_min, published) -> None:
    """It shows a commissioner's view only for its acute_large providers (not RQM)."""
    view = render_view(catalog_min, published, "icb_quality_monthly", "2019-01", "2019-03")
    assert set(view["provider_code"]) == {"RF4", "RRK", "R1H"}
    everyone = render_view(catalog_min, published, "nhse_ae_monthly", "2019-01", "2019-03")
    assert "RQM" in set(everyone["provider_code"])


def test_item_summing_two_metrics(catalog_min, published) -> None:
    """It adds attendances and admissions for an item mapped to both."""
    view = render_view(catalog_min, published, "icb_quality_monthly", "2019-01", "2019-01")
    assert cell(view, "RF4", "2019-01", "QS2")["value"] == 16428 + 4607
    assert cell(view, "RF4", "2019-01", "QS2")["metric"] == f"{ATT}+{ADM}"


def test_missing_month_blanks_a_quarterly_sum_but_not_a_mean(catalog_min, settings, submit) -> None:
    """It flags a quarter with a month missing; a sum is null, a mean uses months reported."""
    rows = [r for r in ae_rows(providers=("RF4",)) if r["period"] != "2019-02"]
    submit(rows)
    publish(catalog_min, settings)
    view = render_view(catalog_min, settings, "cqc_uec_quarterly", "2019-01", "2019-03")
    total = cell(view, "RF4", "2018/19 Q4", "UEC01")
    assert total["flag"] == "missing" and pd.isna(total["value"])
    mean = cell(view, "RF4", "2018/19 Q4", "UEC03")
    rf4 = figures("RF4")
    expected = ((rf4[0][0] - rf4[0][1]) / rf4[0][0] + (rf4[2][0] - rf4[2][1]) / rf4[2][0]) * 50
    assert mean["flag"] == "missing"
    assert mean["value"] == pytest.approx(expected)


def test_suppressed_month_is_flagged_and_blanks_the_sum(catalog_min, settings, submit) -> None:
    """It never sums around a suppressed month; the quarter is flagged suppressed."""
    rows = ae_rows(providers=("RF4",))
    rows = [
        {**r, "value": None, "status": "suppressed"}
        if (r["period"], r["metric"]) == ("2019-03", BRE)
        else r
        for r in rows
    ]
    submit(rows)
    publish(catalog_min, settings)
    view = render_view(catalog_min, settings, "cqc_uec_quarterly", "2019-01", "2019-03")
    breaches = cell(view, "RF4", "2018/19 Q4", "UEC02")
    assert breaches["flag"] == "suppressed" and pd.isna(breaches["value"])
    assert cell(view, "RF4", "2018/19 Q4", "UEC01")["flag"] == ""
    monthly = render_view(catalog_min, settings, "nhse_ae_monthly", "2019-03", "2019-03")
    assert cell(monthly, "RF4", "2019-03", "A2")["flag"] == "suppressed"


def test_late_and_revised_values_are_flagged(catalog_min, settings, submit) -> None:
    """It flags a value received after the deadline, and one changed after it was received."""
    submit(
        [
            row("RF4", "2019-01", ATT, 16428, received=LATE),
            row("RF4", "2019-01", BRE, 7363),
            row("RF4", "2019-01", ADM, 4607),
        ]
    )
    publish(catalog_min, settings)
    view = render_view(catalog_min, settings, "nhse_ae_monthly", "2019-01", "2019-01")
    assert cell(view, "RF4", "2019-01", "A1")["flag"] == "late"
    assert cell(view, "RF4", "2019-01", "A2")["flag"] == ""
    submit([row("RF4", "2019-01", BRE, 7300, submission="sub-2", received=LATE)])
    publish(catalog_min, settings)
    view = render_view(catalog_min, settings, "nhse_ae_monthly", "2019-01", "2019-01")
    assert cell(view, "RF4", "2019-01", "A2")["flag"] == "revised"
    assert cell(view, "RF4", "2019-01", "A2")["value"] == 7300


def test_respondent_with_nothing_submitted_gets_a_missing_row(
    catalog_min, settings, submit
) -> None:
    """It lists a respondent that sent nothing, so the requester sees the gap."""
    submit(ae_rows(providers=("RF4",)))
    publish(catalog_min, settings)
    view = render_view(catalog_min, settings, "nhse_ae_monthly", "2019-01", "2019-01")
    gap = cell(view, "RRK", "2019-01", "A1")
    assert gap["flag"] == "missing" and pd.isna(gap["value"])
    sickness = render_view(catalog_min, settings, "icb_quality_monthly", "2019-01", "2019-01")
    assert cell(sickness, "RF4", "2019-01", "QS3")["flag"] == "missing"


def test_view_as_of_an_earlier_publication(catalog_min, settings, submit) -> None:
    """It renders the figures a regulator saw at an earlier publication."""
    submit(ae_rows(providers=("RF4",)))
    publish(catalog_min, settings)
    submit([row("RF4", "2019-01", ATT, 17000, submission="sub-2", received=LATE)])
    publish(catalog_min, settings)
    now = render_view(catalog_min, settings, "nhse_ae_monthly", "2019-01", "2019-01")
    then = render_view(catalog_min, settings, "nhse_ae_monthly", "2019-01", "2019-01", as_of=0)
    assert cell(now, "RF4", "2019-01", "A1")["value"] == 17000
    assert cell(then, "RF4", "2019-01", "A1")["value"] == 16428
    assert then.attrs["publication"] == 0 and now.attrs["publication"] == 1


def test_period_outside_the_data_gives_an_empty_view(catalog_min, published) -> None:
    """It returns no rows (with the view's columns) for a range with no data."""
    view = render_view(catalog_min, published, "nhse_ae_monthly", "2010-01", "2010-12")
    assert view.empty and list(view.columns) == VIEW_COLUMNS


@pytest.mark.parametrize("request_code", ["nhse_ae_monthly", "cqc_uec_quarterly"])
def test_a_very_wide_range_costs_no_more_than_the_data(
    catalog_min, published, request_code
) -> None:
    """It answers 1900-01 to 9999-12 with the same rows as an open range, in little memory:
    the work follows the periods that hold data, not the span asked for."""
    import tracemalloc

    open_range = render_view(catalog_min, published, request_code, None, None)
    tracemalloc.start()
    try:
        wide = render_view(catalog_min, published, request_code, "1900-01", "9999-12")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    pd.testing.assert_frame_equal(wide, open_range)
    assert peak < 4 * 1024 * 1024, f"{peak / 1e6:.0f} MB for a view of {len(wide)} rows"


@pytest.mark.parametrize(
    ("period_from", "period_to", "message"),
    [
        ("2019-13", "2019-12", "month 13"),
        ("2019-1", None, "YYYY-MM"),
        ("2019-00", None, "month 00"),
        ("2019-03", "2019-01", "after"),
        ("../../etc", None, "YYYY-MM"),
    ],
)
def test_bad_periods_are_refused(catalog_min, published, period_from, period_to, message) -> None:
    """It refuses malformed or reversed periods with a BadParameter saying what to write."""
    with pytest.raises(BadParameter, match=message):
        render_view(catalog_min, published, "nhse_ae_monthly", period_from, period_to)


def test_unknown_and_path_like_request_codes(catalog_min, published) -> None:
    """It answers an unknown request with UnknownRequest and a path-like one with BadParameter."""
    with pytest.raises(UnknownRequest):
        render_view(catalog_min, published, "no_such_request", None, None)
    with pytest.raises(BadParameter):
        render_view(catalog_min, published, "../secrets", None, None)


def test_unknown_publication_version(catalog_min, published) -> None:
    """It refuses a view as of a version that does not exist."""
    with pytest.raises(UnknownPublication):
        render_view(catalog_min, published, "nhse_ae_monthly", None, None, as_of=9)


def test_provider_data_is_only_that_providers(catalog_min, published) -> None:
    """It returns one provider's own rows, every metric with label and unit, nobody else's."""
    data = provider_data(catalog_min, published, "RF4", "2019-01", "2019-02")
    assert list(data.columns) == PROVIDER_COLUMNS
    assert set(data["provider_code"]) == {"RF4"}
    assert set(data["period"]) == {"2019-01", "2019-02"}
    assert set(data["metric"]) == {ATT, BRE, ADM, PERF}
    perf = data.loc[(data["metric"] == PERF) & (data["period"] == "2019-01")].iloc[0]
    assert perf["is_derived"] and perf["unit"] == "percent"
    assert perf["label"].startswith("Type 1 A&E patients seen within 4 hours")
    assert perf["value"] == pytest.approx((16428 - 7363) / 16428 * 100)


def test_provider_data_refusals(catalog_min, published) -> None:
    """It refuses a malformed ODS code and an unknown provider distinctly."""
    with pytest.raises(BadParameter):
        provider_data(catalog_min, published, "rf4/../x", None, None)
    with pytest.raises(UnknownProvider):
        provider_data(catalog_min, published, "ZZZ99", None, None)
    with pytest.raises(BadParameter):
        provider_data(catalog_min, published, "RF4", "2019-13", None)


def test_view_of_a_table_written_unsorted_by_another_tool(catalog_min, published) -> None:
    """It renders the same view when another writer stored the rows in a different order."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from collectonce.contracts import UNIFIED
    from collectonce.publish.unified import read_unified, unified_path

    shuffled = read_unified(published).sample(frac=1.0, random_state=3).reset_index(drop=True)
    write_deltalake(
        unified_path(published),
        pa.Table.from_pandas(shuffled, schema=UNIFIED, preserve_index=False),
        mode="overwrite",
    )
    args = (catalog_min, published, "cqc_uec_quarterly", "2019-01", "2019-03")
    now, then = render_view(*args), render_view(*args, as_of=0)
    assert now.attrs["publication"] == 1
    pd.testing.assert_frame_equal(now, then)
    mine = provider_data(catalog_min, published, "RQM", None, None)
    assert mine.equals(provider_data(catalog_min, published, "RQM", None, None, as_of=0))


def test_summed_item_skips_a_metric_the_provider_never_submits(
    catalog_min, settings, submit
) -> None:
    """It totals the metrics a provider has; a month lacking one it does submit is missing."""
    rows = [r for r in ae_rows(providers=("RF4", "RRK")) if r["metric"] == ATT]
    rows += [
        r for r in ae_rows(providers=("RF4",)) if r["metric"] == ADM and r["period"] != "2019-02"
    ]
    submit(rows)
    publish(catalog_min, settings)
    view = render_view(catalog_min, settings, "icb_quality_monthly", "2019-01", "2019-03")
    no_admissions = cell(view, "RRK", "2019-01", "QS2")
    assert no_admissions["value"] == 31935 and no_admissions["flag"] == ""
    assert cell(view, "RF4", "2019-01", "QS2")["value"] == 16428 + 4607
    gap = cell(view, "RF4", "2019-02", "QS2")
    assert gap["flag"] == "missing" and pd.isna(gap["value"])
    assert cell(view, "R1H", "2019-01", "QS2")["flag"] == "missing"  # sent nothing at all


def _late(settings, provider: str, period: str, metric: str) -> bool:
    from collectonce.publish.unified import read_unified

    table = read_unified(settings)
    hit = table[
        (table["provider_code"] == provider)
        & (table["metric_id"] == metric)
        & (pd.to_datetime(table["period"]) == pd.Timestamp(period + "-01"))
    ]
    assert len(hit) == 1
    return bool(hit["is_late"].iloc[0])


def test_each_view_flags_late_against_its_own_deadline(catalog_min, settings, submit) -> None:
    """January attendances received on 20 February miss NHS England's monthly deadline (15 days
    after the month) but not CQC's quarterly one (30 days after the quarter): each view says so
    for itself, and the published fact is late against the first deadline."""
    feb_20 = dt.datetime(2019, 2, 20, 9, tzinfo=dt.UTC)
    submit([row("RF4", "2019-01", ATT, 16428, received=feb_20)])
    publish(catalog_min, settings)
    monthly = render_view(catalog_min, settings, "nhse_ae_monthly", "2019-01", "2019-01")
    assert cell(monthly, "RF4", "2019-01", "A1")["flag"] == "late"
    quarterly = render_view(catalog_min, settings, "cqc_uec_quarterly", "2019-01", "2019-03")
    assert cell(quarterly, "RF4", "2018/19 Q4", "UEC01")["flag"] != "late"
    assert _late(settings, "RF4", "2019-01", ATT)


def test_late_uses_only_the_requests_a_provider_answers(catalog_min, settings, submit) -> None:
    """The commissioners' monthly schedule (due after 10 days) asks only large acute trusts:
    a medium trust's figure received on day 14 meets NHS England's 15 days and is on time."""
    feb_14 = dt.datetime(2019, 2, 14, 9, tzinfo=dt.UTC)
    submit(
        [
            row("RQM", "2019-01", ATT, 19897, received=feb_14),
            row("RF4", "2019-01", ATT, 16428, received=feb_14),
        ]
    )
    publish(catalog_min, settings)
    assert not _late(settings, "RQM", "2019-01", ATT)
    assert _late(settings, "RF4", "2019-01", ATT)


def test_metrics_without_a_yearly_request_keep_their_deadline(
    catalog_more, settings, submit
) -> None:
    """Breaches have no yearly request (attendances have one): a breach figure received in
    June for January is late all the same."""
    submit([row("RF4", "2019-01", BRE, 7363, received=LATE), row("RF4", "2019-01", ATT, 1)])
    publish(catalog_more, settings)
    assert _late(settings, "RF4", "2019-01", BRE)
    assert not _late(settings, "RF4", "2019-01", ATT)


def test_financial_year_runs_april_to_march(catalog_more, settings, submit) -> None:
    """A yearly view adds April to March: twelve months of 2018/19 make one complete year."""
    months = [f"2018-{m:02d}" for m in range(4, 13)] + ["2019-01", "2019-02", "2019-03"]
    submit([row("RF4", month, ATT, 100 + i) for i, month in enumerate(months)])
    publish(catalog_more, settings)
    view = render_view(catalog_more, settings, "test_yearly_total", "2018-04", "2019-03")
    got = cell(view, "RF4", "2018/19", "Y1")
    assert got["value"] == sum(100 + i for i in range(12)) and got["flag"] == ""
    assert set(view["period"]) == {"2018/19"}
    quarters = render_view(catalog_more, settings, "test_quarter_transforms", "2018-04", "2018-06")
    assert cell(quarters, "RF4", "2018/19 Q1", "L1")["value"] == 102  # June, the last month


def test_calendar_years_only_where_the_request_says_so(catalog_more_dir, settings, submit) -> None:
    """`year_start: january` in a request's file keeps calendar years and quarters for it."""
    from collectonce.catalog import load_catalog

    path = catalog_more_dir / "requests" / "test_yearly_total.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "year_start: january\n", encoding="utf-8")
    cat = load_catalog(catalog_more_dir)
    months = [f"2018-{m:02d}" for m in range(1, 13)]
    submit([row("RF4", month, ATT, 10) for month in months])
    publish(cat, settings)
    view = render_view(cat, settings, "test_yearly_total", "2018-01", "2018-12")
    assert cell(view, "RF4", "2018", "Y1")["value"] == 120
    quarters = render_view(cat, settings, "test_quarter_transforms", "2018-01", "2018-03")
    assert set(quarters["period"]) == {"2017/18 Q4"}  # the other requests stay NHS ones


def test_a_year_start_other_than_april_or_january_is_refused(catalog_more_dir) -> None:
    from collectonce.catalog import CatalogInvalid, load_catalog

    path = catalog_more_dir / "requests" / "test_yearly_total.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "year_start: july\n", encoding="utf-8")
    with pytest.raises(CatalogInvalid) as caught:
        load_catalog(catalog_more_dir)
    assert any("year_start" in str(p) for p in caught.value.problems)


def test_history_from_before_collecting_began_is_not_late(catalog_more_dir, settings, submit):
    """With a catalogue in force from March 2019, January's figure loaded in June was due
    under the old returns (deadline 15 February) and is not late; February's, due on 15 March
    under this collection, is."""
    from collectonce.catalog import load_catalog

    path = catalog_more_dir / "catalog.yaml"
    text = path.read_text(encoding="utf-8").replace("2016-04-01", "2019-03-01")
    path.write_text(text, encoding="utf-8")
    cat = load_catalog(catalog_more_dir)
    submit(
        [
            row("RF4", "2019-01", ATT, 16428, received=LATE),
            row("RF4", "2019-02", ATT, 14569, received=LATE),
        ]
    )
    publish(cat, settings)
    assert not _late(settings, "RF4", "2019-01", ATT)
    assert _late(settings, "RF4", "2019-02", ATT)
    view = render_view(cat, settings, "nhse_ae_monthly", "2019-01", "2019-02")
    assert cell(view, "RF4", "2019-01", "A1")["flag"] == ""
    assert cell(view, "RF4", "2019-02", "A1")["flag"] == "late"
