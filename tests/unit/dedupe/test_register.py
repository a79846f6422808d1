"""Reading an outside register: tolerant headers, one-line errors naming row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from collectonce.dedupe.register import RegisterError, read_register


def test_headers_in_any_case_and_spacing_and_extra_columns(tmp_path: Path) -> None:
    """It reads ' Item Code ' and 'LABEL', and warns about a column it does not use."""
    path = tmp_path / "reg.csv"
    path.write_text(
        "Requester, Request , Item Code ,LABEL,Owner\nicb,quality,Q1,Sickness %,Jo\n",
        encoding="utf-8",
    )
    reg = read_register(path)
    assert [(i.request, i.item_code, i.label) for i in reg.items] == [
        ("quality", "Q1", "Sickness %")
    ]
    assert any("Owner" in w for w in reg.warnings)


def test_windows_1252_semicolon_csv_as_excel_saves_it(tmp_path: Path) -> None:
    """It reads a semicolon CSV in Windows-1252 with a £ in a label."""
    path = tmp_path / "reg.csv"
    path.write_bytes(
        "requester;request;item_code;label;unit\ntrust;ipr;F1;Agency spend £000;£000\n".encode(
            "cp1252"
        )
    )
    item = read_register(path).items[0]
    assert item.label == "Agency spend £000" and item.unit == "gbp_thousands"


def test_xlsx_with_a_title_row(tmp_path: Path) -> None:
    """It skips a title row above the header in a workbook written by openpyxl."""
    book = Workbook()
    sheet = book.active
    sheet.append(["Request register 2025/26"])
    sheet.append(["requester", "request", "item_code", "label", "frequency"])
    sheet.append(["cqc", "pir", 1, "Never events", "Annual"])
    path = tmp_path / "reg.xlsx"
    book.save(path)
    item = read_register(path).items[0]
    assert (item.item_code, item.frequency, item.row) == ("1", "year", 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("requester,request,label\nicb,q,Sickness %\n", "missing column item_code"),
        ("requester,request,item_code,label\nicb,q,Q1,\n", "row 2, column label: is blank"),
        (
            "requester,request,item_code,label,frequency\nicb,q,Q1,Sickness %,fortnightly\n",
            "row 2, column frequency",
        ),
        (
            "requester,request,item_code,label\nicb,q,Q1,Sickness %\nicb,q,Q1,Turnover %\n",
            "row 3, column item_code",
        ),
        ("", "is empty"),
    ],
)
def test_malformed_registers_say_where_and_how(tmp_path: Path, text: str, expected: str) -> None:
    """It raises one line naming the file, the row and the column, and the fix."""
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegisterError) as err:
        read_register(path)
    message = str(err.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_a_csv_named_xlsx_is_refused_clearly(tmp_path: Path) -> None:
    """It says the file is not a workbook rather than failing inside the reader."""
    path = tmp_path / "reg.xlsx"
    path.write_text("requester,request,item_code,label\n", encoding="utf-8")
    with pytest.raises(RegisterError, match="not an Excel workbook"):
        read_register(path)
