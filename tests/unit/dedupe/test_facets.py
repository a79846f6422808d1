"""Reading labels into facets: terse headers, thresholds, directions and scopes."""

from __future__ import annotations

import pytest

from collectonce.dedupe.facets import Status, compare, extract


def facets(label: str, rules, definition: str = "", unit: str = "") -> dict[str, object]:
    return extract(label, definition, unit, rules=rules).known()


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("% >52wks", {"topic": "rtt", "measure": "share", "direction": "over"}),
        ("Sickness %", {"topic": "sickness", "measure": "share", "subject": "staff"}),
        ("4hr %", {"measure": "share", "threshold": "4 hours", "direction": "within"}),
        ("T1 Att", {"topic": "ae", "measure": "count", "scope.ae_type": "type_1"}),
        ("52+ wk waiters", {"topic": "rtt", "measure": "count", "direction": "over"}),
        ("DM01 % >6wks", {"topic": "diagnostics", "direction": "over"}),
    ],
)
def test_terse_file_headers_parse(label: str, expected: dict[str, object], rules) -> None:
    """It reads the facets a person would read from a terse spreadsheet header."""
    got = facets(label, rules)
    for name, value in expected.items():
        assert got.get(name) == value, (label, name, got)


def test_28_days_is_4_weeks_and_60_minutes_is_an_hour(rules) -> None:
    """It normalises waits to one unit, so the same wait in other units agrees."""
    a = extract("Cancer: told within 28 days of urgent referral (%)", rules=rules)
    b = extract("Faster diagnosis within four weeks (%)", rules=rules)
    assert compare(a, b, rules)["threshold"] is Status.AGREE
    c = extract("Ambulance handovers over 60 minutes", rules=rules)
    d = extract("Ambulance handover delays of more than 1 hour", rules=rules)
    assert compare(c, d, rules)["threshold"] is Status.AGREE
    e = extract("Ambulance handovers over 30 minutes", rules=rules)
    assert compare(c, e, rules)["threshold"] is Status.CONFLICT


@pytest.mark.parametrize(
    ("label", "direction"),
    [
        ("Percentage in 4 hours or less", "within"),
        ("Waits no longer than 18 weeks (%)", "within"),
        ("Patients waiting 52 weeks plus", "over"),
        ("Waits > 12 hours", "over"),
        ("Waits <= 4 hours (%)", "within"),
        ("104+ week waiters", "over"),
        ("Patients not treated within 28 days of cancellation", "over"),
        ("Trolley waits not longer than 12 hours", "within"),
    ],
)
def test_directions(label: str, direction: str, rules) -> None:
    """It reads within and over however they are written, the longest phrase winning."""
    assert facets(label, rules)["direction"] == direction


def test_a_reporting_period_is_not_a_wait(rules) -> None:
    """It ignores 'last 12 months' and 'rolling 12m' when reading the threshold."""
    assert "threshold" not in facets("Type 1 attendances in the last 12 months", rules)
    assert "threshold" not in facets("Staff turnover % (rolling 12m)", rules)
    assert "threshold" not in facets("Leavers as a percentage of staff over 12 months", rules)


def test_a_definition_that_contradicts_the_label_makes_the_facet_ambiguous(rules) -> None:
    """It keeps both directions when label and definition disagree, so pairs go to review."""
    got = facets(
        "Trolley waits in A&E not longer than 12 hours",
        rules,
        definition="Number of patients waiting more than 12 hours from decision to admit",
    )
    assert got["direction"] == ["over", "within"]


def test_the_unit_column_outranks_the_words(rules) -> None:
    """It takes the measure from the stated unit: a percentage of cases is a share."""
    assert facets("Urgent cases seen within 1 week", rules, unit="percent")["measure"] == "share"
    assert facets("Urgent cases seen within 1 week", rules)["measure"] == "count"


@pytest.mark.parametrize(
    ("a", "b", "facet"),
    [
        (
            "Type 1 A&E 4 hour performance (%)",
            "All types A&E 4 hour performance (%)",
            "scope.ae_type",
        ),
        (
            "Incomplete pathways within 18 weeks (%)",
            "Admitted pathways within 18 weeks (%)",
            "scope.rtt_pathway",
        ),
        (
            "62-day screening referral to treatment (%)",
            "62-day consultant upgrade to treatment (%)",
            "scope.cancer_route",
        ),
        ("12 hours from arrival in A&E", "12 hours from decision to admit", "clock_start"),
        ("Staff FFT % recommend", "Inpatient FFT % recommend", "topic"),
        ("Number waiting over 52 weeks", "% waiting over 52 weeks", "measure"),
        ("Registered nurse vacancy rate", "Medical vacancy rate", "staff_group"),
    ],
)
def test_near_misses_conflict(a: str, b: str, facet: str, rules) -> None:
    """It finds the facet on which two alike labels ask for different figures."""
    status = compare(extract(a, rules=rules), extract(b, rules=rules), rules)
    assert status.get(facet) is Status.CONFLICT, status
