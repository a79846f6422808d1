"""A received file is opened by its content, not its name: the archive keeps files under their
hash, with no extension, and that copy is what is read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from collectonce.ingest.readers import read_submission

ROWS = pd.DataFrame(
    {
        "provider_code": ["RF4", "RF4"],
        "period": ["2019-01", "2019-01"],
        "metric_id": ["ae_attendances_type1", "ae_breaches_4hr_type1"],
        "value": [16428, 7363],
    }
)


def _without_extension(path: Path) -> Path:
    bare = path.with_name("0f3a9c" + "e" * 58)
    shutil.copyfile(path, bare)
    return bare


@pytest.mark.parametrize(
    ("fmt", "write"),
    [
        ("xlsx", lambda p: ROWS.to_excel(p, index=False)),
        ("parquet", lambda p: ROWS.to_parquet(p, index=False)),
        ("json", lambda p: ROWS.to_json(p, orient="records")),
        ("json", lambda p: ROWS.to_json(p, orient="records", lines=True)),
        ("csv", lambda p: ROWS.to_csv(p, index=False, sep=";")),
    ],
)
def test_a_copy_without_extension_is_read_by_its_content(
    fmt: str, write, catalog_min, settings, tmp_path: Path
) -> None:
    """It reads the archived copy (no extension) as the format its bytes are, whatever the name
    the sender gave."""
    original = tmp_path / f"rf4.{fmt}"
    write(original)
    for name in (original.name, "rf4_return", "rf4.csv"):
        parsed = read_submission(
            _without_extension(original), catalog_min, settings, original_name=name
        )
        assert parsed.file_error is None, parsed.file_error
        assert parsed.format == fmt
        assert parsed.rows.value.tolist() == [16428, 7363]


def test_a_csv_header_in_brackets_is_still_csv(catalog_min, settings, tmp_path: Path) -> None:
    """It reads a CSV whose first heading is in square brackets as CSV, not JSON."""
    path = tmp_path / "rf4_export"
    path.write_text(
        "[provider_code],period,metric_id,value\nRF4,2019-01,ae_attendances_type1,16428\n"
    )
    parsed = read_submission(path, catalog_min, settings)
    assert parsed.format == "csv"
