"""Suggested mappings: the duplicates nobody declared, found by label similarity."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from collectonce.burden.overlap import SUGGESTION_COLUMNS, normalise, suggest_mappings
from collectonce.catalog import load_catalog


def _copy_with_items(src: Path, dest: Path, request: str, lines: list[str]) -> Path:
    shutil.copytree(src, dest)
    path = dest / "requests" / f"{request}.yaml"
    path.write_text(path.read_text() + "".join(f"  - {line}\n" for line in lines))
    return dest


@pytest.fixture
def with_unmapped(catalog_min_dir: Path, tmp_path: Path):
    """catalog_min plus an unmapped "Type one A&E attendances" in the NHS England return."""
    root = _copy_with_items(
        catalog_min_dir,
        tmp_path / "catalog",
        "nhse_ae_monthly",
        ['{their_code: "A4", their_label: Type one A&E attendances, unmapped_reason: New item}'],
    )
    return load_catalog(root)


def test_it_proposes_the_attendance_metric_for_an_unmapped_item(with_unmapped) -> None:
    """It suggests ae_attendances_type1 for the unmapped "Type one A&E attendances"."""
    frame = suggest_mappings(with_unmapped, min_score=0.5)
    assert list(frame.columns) == SUGGESTION_COLUMNS
    row = frame[(frame["request"] == "nhse_ae_monthly") & (frame["their_code"] == "A4")]
    assert len(row) == 1
    row = row.iloc[0]
    assert row["kind"] == "unmapped"
    assert row["suggested_metric"] == "ae_attendances_type1"
    assert 0.5 <= row["score"] <= 1.0
    assert row["score"] == round(row["score"], 2)
    assert row["current_metric"] is None
    assert "attendance" in row["reason"]


def test_it_suggests_nothing_for_free_text_unlike_any_metric(catalog_min) -> None:
    """It proposes no metric for "Narrative on winter pressures" at the default score."""
    frame = suggest_mappings(catalog_min)
    assert "UEC99" not in set(frame["their_code"])


def test_it_flags_an_item_mapped_to_the_wrong_metric(catalog_min_dir: Path, tmp_path: Path) -> None:
    """It flags an item labelled as 4-hour breaches but mapped to emergency admissions."""
    root = _copy_with_items(
        catalog_min_dir,
        tmp_path / "catalog",
        "icb_quality_monthly",
        [
            '{their_code: "QS9", their_label: "Type 1 A&E attendances over 4 hours", '
            "metric: ae_emergency_admissions}"
        ],
    )
    frame = suggest_mappings(load_catalog(root))
    flagged = frame[(frame["kind"] == "suspicious") & (frame["their_code"] == "QS9")]
    assert len(flagged) == 1
    assert flagged.iloc[0]["current_metric"] == "ae_emergency_admissions"
    assert flagged.iloc[0]["suggested_metric"] == "ae_breaches_4hr_type1"
    # The alike item elsewhere is cited in the same row, not repeated as a second suggestion.
    assert "nhse_ae_monthly item A2" in flagged.iloc[0]["reason"]
    assert frame[frame["their_code"] == "QS9"].shape[0] == 1


def test_a_duplicate_flags_the_item_that_fits_its_own_metric_worse(
    catalog_min_dir: Path, tmp_path: Path
) -> None:
    """Of two alike items mapped to different metrics, it asks to remap the ill-fitting one."""
    root = _copy_with_items(
        catalog_min_dir,
        tmp_path / "catalog",
        "icb_quality_monthly",
        [
            '{their_code: "QS8", their_label: "Major A&E attendances", '
            "metric: ae_breaches_4hr_type1}"
        ],
    )
    frame = suggest_mappings(load_catalog(root), margin=1.0)
    duplicates = frame[frame["kind"] == "duplicate"]
    # cqc_uec_quarterly (read first) has UEC01 "Major A&E attendances" mapped correctly.
    assert list(duplicates["their_code"]) == ["QS8"]
    row = duplicates.iloc[0]
    assert row["current_metric"] == "ae_breaches_4hr_type1"
    assert row["suggested_metric"] == "ae_attendances_type1"
    assert "cqc_uec_quarterly item UEC01" in row["reason"]


def test_alike_items_give_one_row_per_item(catalog_min_dir: Path, tmp_path: Path) -> None:
    """An item like several items elsewhere gets one row naming how many more there are."""
    root = _copy_with_items(
        catalog_min_dir,
        tmp_path / "catalog",
        "nhse_ae_monthly",
        [
            '{their_code: "A7", their_label: "Hand hygiene audit (%)", unmapped_reason: Local}',
        ],
    )
    for request, code in (("cqc_uec_quarterly", "UEC98"), ("icb_quality_monthly", "QS7")):
        path = root / "requests" / f"{request}.yaml"
        path.write_text(
            path.read_text()
            + f'  - {{their_code: "{code}", their_label: "Hand hygiene audit (%)", '
            "unmapped_reason: Local}\n"
        )
    frame = suggest_mappings(load_catalog(root))
    pairs = frame[frame["kind"] == "unmapped_duplicate"]
    assert pairs["their_code"].is_unique
    assert "and 1 more" in pairs.iloc[0]["reason"]


def test_it_finds_the_same_unmapped_item_in_two_requests(
    catalog_min_dir: Path, tmp_path: Path
) -> None:
    """It pairs two unmapped items with alike labels as candidates for one new metric."""
    root = _copy_with_items(
        catalog_min_dir,
        tmp_path / "catalog",
        "nhse_ae_monthly",
        ['{their_code: "A9", their_label: Winter pressures narrative, unmapped_reason: Free text}'],
    )
    frame = suggest_mappings(load_catalog(root))
    pair = frame[frame["kind"] == "unmapped_duplicate"]
    assert len(pair) == 1
    assert "A9" in pair.iloc[0]["reason"]


def test_correct_mappings_raise_no_flags(catalog_min) -> None:
    """It raises no suspicious or duplicate flags on the correctly mapped test catalogue."""
    frame = suggest_mappings(catalog_min)
    assert not set(frame["kind"]) & {"suspicious", "duplicate"}


def test_it_refuses_a_score_outside_zero_to_one(catalog_min) -> None:
    """It rejects min_score 1.5 with a clear message."""
    with pytest.raises(ValueError, match="between 0 and 1"):
        suggest_mappings(catalog_min, min_score=1.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Type one A&E attendances", ["type", "1", "ae", "attendance"]),
        ("4hr breaches", ["4", "hour", "breach"]),
        ("Four hours", ["4", "hour"]),
        ("Nurses in post (WTE)", ["nurse", "post", "fte"]),
        ("Sickness %", ["sickness", "percent"]),
        ("C. difficile cases", ["cdiff", "case"]),
        ("Patients waiting more than 52 weeks", ["patient", "waiting", "52", "week", "breach"]),
        ("Over four hours in A&E", ["4", "hour", "breach", "ae"]),
        ("Admissions through A&E", ["admission", "via", "ae"]),
        ("Admissions not via A&E", ["admission", "notvia", "ae"]),
    ],
)
def test_nhs_abbreviations_are_normalised(text: str, expected: list[str]) -> None:
    """It reads A&E, 4hr, four hours, WTE, % and C. difficile the way NHS staff write them."""
    assert normalise(text) == expected
