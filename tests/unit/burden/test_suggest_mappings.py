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
    duplicates = frame[(frame["kind"] == "duplicate") & (frame["their_code"] == "QS9")]
    assert "ae_breaches_4hr_type1" in set(duplicates["suggested_metric"])


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
    ],
)
def test_nhs_abbreviations_are_normalised(text: str, expected: list[str]) -> None:
    """It reads A&E, 4hr, four hours, WTE, % and C. difficile the way NHS staff write them."""
    assert normalise(text) == expected
