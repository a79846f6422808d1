"""Normalisation of what providers type: periods, values and codes."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from collectonce.ingest.normalise import (
    excel_serial_to_date,
    header_key,
    normalise_metric_ids,
    normalise_periods,
    normalise_provider_codes,
    parse_period_text,
    parse_values,
)

JAN_2019 = dt.date(2019, 1, 1)


@pytest.mark.parametrize(
    ("text", "start", "grain"),
    [
        ("2019-01", JAN_2019, "month"),
        ("2019/01", JAN_2019, "month"),
        ("201901", JAN_2019, "month"),
        ("01/2019", JAN_2019, "month"),
        ("2019-01-01", JAN_2019, "month"),
        ("2019-01-31", JAN_2019, "month"),
        ("2019-01-01 00:00:00", JAN_2019, "month"),
        ("2019-01-01T00:00:00Z", JAN_2019, "month"),
        ("2019-01-01 00:00:00+00:00", JAN_2019, "month"),
        ("2019M01", JAN_2019, "month"),
        ("01/01/2019", JAN_2019, "month"),
        ("31/01/2019", JAN_2019, "month"),
        ("1/1/19", JAN_2019, "month"),
        ("Jan-19", JAN_2019, "month"),
        ("Jan 2019", JAN_2019, "month"),
        ("JANUARY 2019", JAN_2019, "month"),
        ("2019-Jan", JAN_2019, "month"),
        ("1-Jan-2019", JAN_2019, "month"),
        ("43466", JAN_2019, "month"),
        ("43466.0", JAN_2019, "month"),
        ("2019-Q1", JAN_2019, "quarter"),
        ("Q1 2019", JAN_2019, "quarter"),
        ("2018/19 Q4", JAN_2019, "quarter"),
        ("Q1 2018-19", dt.date(2018, 4, 1), "quarter"),
        ("2019", JAN_2019, "year"),
        ("2018-19", dt.date(2018, 4, 1), "year"),
        ("2011-12", dt.date(2011, 12, 1), "month"),
        ("MSitAE-JANUARY-2019", JAN_2019, "month"),
        ("msitae-jan-2019", JAN_2019, "month"),
        (" MSitAE-DECEMBER-2018 ", dt.date(2018, 12, 1), "month"),
    ],
)
def test_it_reads_every_documented_period_format(text: str, start: dt.date, grain: str) -> None:
    """It reads months, days (UK order), Excel serials, quarters (calendar and NHS financial
    year) and years, and says which grain the text was written in."""
    parsed = parse_period_text(text)
    assert (parsed.start, parsed.grain, parsed.problem) == (start, grain, None)


@pytest.mark.parametrize(
    "text",
    ["03/31/2019", "2019-13", "next month", "Q5 2019", "12345678", "MSitAE-JANUARI-2019", "TOTAL"],
)
def test_it_refuses_periods_it_cannot_read(text: str) -> None:
    """It refuses US-order dates, impossible months and free text instead of guessing."""
    parsed = parse_period_text(text)
    assert parsed.start is None
    assert parsed.problem == "unreadable"


def test_day_first_dates_are_read_in_uk_order() -> None:
    """It reads 01/03/2019 as 1 March 2019, not 3 January."""
    assert parse_period_text("01/03/2019").start == dt.date(2019, 3, 1)


def test_excel_serials_outside_plausible_dates_are_not_dates() -> None:
    """It does not read a small count typed into the period column as a date."""
    assert excel_serial_to_date(43466) == JAN_2019
    assert excel_serial_to_date(16428) is not None  # 1944: plausible as a serial
    assert excel_serial_to_date(500) is None


def test_periods_are_normalised_to_the_metric_grain() -> None:
    """It moves a month to the first day of its quarter for a quarterly metric, and flags a
    quarter given for a monthly metric as a grain mismatch."""
    periods = pd.Series(["2019-02", "2019-Q1", "2019-Q1", "bad", None])
    grains = pd.Series(["quarter", "quarter", "month", "month", "month"])
    out = normalise_periods(periods, grains)
    assert out["period"].tolist() == [JAN_2019, JAN_2019, None, None, None]
    assert out["problem"].tolist() == [None, None, "grain_mismatch", "unreadable", "blank"]
    assert out["given_grain"].tolist()[:3] == ["month", "quarter", "quarter"]


def test_normalise_periods_returns_a_new_frame_on_the_same_index() -> None:
    """It leaves the input Series untouched and keeps its index."""
    periods = pd.Series(["Jan-19", "2019-02-01"], index=[10, 11])
    before = periods.copy()
    out = normalise_periods(periods, "month")
    assert list(out.index) == [10, 11]
    assert out["period"].tolist() == [JAN_2019, dt.date(2019, 2, 1)]
    pd.testing.assert_series_equal(periods, before)


def test_values_keep_zero_apart_from_blank_and_suppressed() -> None:
    """It keeps a true 0 as reported, * as suppressed (no value) and blank or - as missing."""
    out = parse_values(pd.Series(["0", "*", " * ", "", "-", None, "16428"]))
    assert out["value_status"].tolist() == [
        "reported",
        "suppressed",
        "suppressed",
        "missing",
        "missing",
        "missing",
        "reported",
    ]
    assert out["value"].iloc[0] == 0
    assert out["value"].iloc[1:6].isna().all()
    assert out["problem"].isna().all()


def test_values_understand_thousands_separators_percent_and_pounds() -> None:
    """It reads 16,428 and 1,234,567.5, a trailing % (flagged) and a leading £."""
    out = parse_values(pd.Series(["16,428", "1,234,567.5", "92.5%", "£5,200", " 7363 "]))
    assert out["value"].tolist() == [16428, 1234567.5, 92.5, 5200, 7363]
    assert out["percent"].tolist() == [False, False, True, False, False]


@pytest.mark.parametrize("text", ["NaN", "nan", "inf", "-inf", "Infinity", "1e999"])
def test_non_finite_numbers_are_problems(text: str) -> None:
    """It refuses NaN, infinities and numbers too large for a float, as not finite."""
    out = parse_values(pd.Series([text]))
    assert out["problem"].iloc[0] == "not_finite"
    assert math.isnan(out["value"].iloc[0])


def test_numbers_beyond_any_real_figure_are_refused() -> None:
    """It reads 1e15 but refuses 1e308 and a 20-digit number as too large to be a real figure,
    so an absurd value never reaches a sum or a chart."""
    parsed = parse_values(pd.Series(["1e15", "1e308", "-1e308", "12345678901234567890"]))
    assert parsed["value"].iloc[0] == 1e15
    assert parsed["problem"].tolist() == [None, "too_large", "too_large", "too_large"]
    assert parsed["value"].iloc[1:].isna().all()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 234", 1234.0),
        ("1\u00a0234", 1234.0),
        ("12 345 678", 12345678.0),
        ("(1,234)", -1234.0),
        ("(£1,200.50)", -1200.5),
        ("\u22125", -5.0),
    ],
)
def test_spaced_thousands_and_accounting_negatives_are_read(text: str, value: float) -> None:
    """It reads thousands separated by (no-break) spaces, an accountant's (negative) and a
    typographic minus sign."""
    parsed = parse_values(pd.Series([text]))
    assert parsed["problem"].iloc[0] is None
    assert parsed["value"].iloc[0] == value


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(A1:A9)", "14,56,9", "4,2"]
)
def test_formula_text_and_odd_separators_are_not_numbers(text: str) -> None:
    """It refuses formula text and commas that are not thousands groups as not a number."""
    assert parse_values(pd.Series([text]))["problem"].iloc[0] == "not_a_number"


def test_values_from_workbook_cells_keep_their_numbers() -> None:
    """It accepts numbers that arrive as numbers (workbooks, JSON) as well as text."""
    out = parse_values(pd.Series([16428, 55.2, None, "*"], dtype=object))
    assert out["value"].iloc[:2].tolist() == [16428, 55.2]
    assert out["value_status"].tolist() == ["reported", "reported", "missing", "suppressed"]


def test_codes_are_trimmed_and_cased() -> None:
    """It upper-cases ODS codes and lower-cases metric codes, trimming spaces."""
    assert normalise_provider_codes(pd.Series([" rf4 ", "RRK"])).tolist() == ["RF4", "RRK"]
    assert normalise_metric_ids(pd.Series([" AE_Attendances_Type1 "])).tolist() == [
        "ae_attendances_type1"
    ]


def test_header_keys_ignore_case_spacing_and_separators() -> None:
    """It matches 'Org Code', 'org_code' and ' ORG-CODE ' as the same header."""
    assert {header_key(h) for h in ["Org Code", "org_code", " ORG-CODE ", "\ufefforg code"]} == {
        "org_code"
    }
