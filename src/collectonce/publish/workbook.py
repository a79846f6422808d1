"""Workbooks analysts keep: the one place that styles every XLSX collectonce writes.

Views, provider packs and reports are written with xlsxwriter; this module gives them the same
shape: one Excel table per sheet (filters on, header frozen), column widths, number formats
(thousands, percentages, dates as dates), a README sheet (source, publication, as-of,
definitions, licence) and native line charts. Text that a spreadsheet would run as a formula is
written as text, never as a formula (the workbooks are opened with ``strings_to_formulas``
off).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

#: Table style of every data table: NHS-blue header band, banded rows.
TABLE_STYLE = "Table Style Medium 2"
LICENCE = (
    "Contains public sector information licensed under the Open Government Licence v3.0 "
    "(https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/)."
)
SOURCE = "collectonce: data submitted once by NHS-funded providers, checked against one catalogue"
#: Excel's number formats used here.
NUMBER_FORMATS = {
    "count": "#,##0",
    "number": "#,##0.###",
    "percent": '0.0"%"',  # values are percentage points (95.2 means 95.2%)
    "date": "yyyy-mm-dd",
    "month": "mmm yyyy",
}
#: The header band of every table the exports write: white bold text on NHS blue.
HEAD_FORMAT = {
    "bold": True,
    "bg_color": "#005EB8",
    "font_color": "#FFFFFF",
    "text_wrap": True,
    "valign": "top",
}
_NAME_RE = re.compile(r"[^A-Za-z0-9_]")


def formats(book: Any) -> dict[str, Any]:
    """The workbook's formats: a header band, number formats and wrapped text."""
    out = {
        "head": book.add_format(dict(HEAD_FORMAT)),
        "title": book.add_format({"bold": True, "font_size": 14}),
        "key": book.add_format({"bold": True, "valign": "top"}),
        "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
    }
    for name, pattern in NUMBER_FORMATS.items():
        out[name] = book.add_format({"num_format": pattern})
    return out


def table_name(sheet_name: str, used: set[str] | None = None) -> str:
    """An Excel table name from a sheet name: letters, digits and underscores, starting with a
    letter, unique in the workbook (`used` collects the names given)."""
    base = _NAME_RE.sub("_", sheet_name).strip("_") or "table"
    if not base[0].isalpha():
        base = "t_" + base
    name, n = base[:200], 2
    while used is not None and name.lower() in used:
        name = f"{base[:190]}_{n}"
        n += 1
    if used is not None:
        used.add(name.lower())
    return name


def add_table(
    sheet: Any,
    columns: Sequence[str],
    first_row: int,
    rows: int,
    *,
    name: str,
    head: Any = None,
    column_formats: Mapping[str, Any] | None = None,
    widths: Mapping[str, float] | None = None,
    default_width: float = 14,
) -> None:
    """An Excel table over `rows` data rows below a header at `first_row` (filters on, header
    frozen), with a width and a number format per column. Write the cells before or after."""
    if not columns:
        return
    spec = []
    for column in columns:
        entry: dict[str, Any] = {"header": str(column)}
        if head is not None:
            entry["header_format"] = head
        if column_formats and column in column_formats:
            entry["format"] = column_formats[column]
        spec.append(entry)
    last_row = first_row + max(rows, 1)
    sheet.add_table(
        first_row,
        0,
        last_row,
        len(columns) - 1,
        {"name": name, "style": TABLE_STYLE, "columns": spec, "autofilter": True},
    )
    for j, column in enumerate(columns):
        fmt = (column_formats or {}).get(column)
        sheet.set_column(j, j, (widths or {}).get(column, default_width), fmt)
    sheet.freeze_panes(first_row + 1, 0)


def table_over(
    sheet: Any, columns: Sequence[str], first_row: int, rows: int, *, name: str, head: Any = None
) -> None:
    """An Excel table over cells already written (header at `first_row`), keeping the sheet's
    column widths and formats; filters on, header frozen."""
    if not columns:
        return
    spec = [
        {"header": str(c), **({"header_format": head} if head is not None else {})} for c in columns
    ]
    sheet.add_table(
        first_row,
        0,
        first_row + max(rows, 1),
        len(columns) - 1,
        {"name": name, "style": TABLE_STYLE, "columns": spec, "autofilter": True},
    )
    sheet.freeze_panes(first_row + 1, 0)


def readme_sheet(
    book: Any,
    fmts: Mapping[str, Any],
    title: str,
    about: Sequence[tuple[str, Any]],
    definitions: Sequence[tuple[str, str]] = (),
    *,
    used: set[str] | None = None,
) -> Any:
    """A README sheet: a title, a table of what the workbook is (source, publication, as-of,
    licence, ...) and a table defining each column."""
    sheet = book.add_worksheet("README")
    sheet.write_string(0, 0, title, fmts["title"])
    rows = [
        ("Source", SOURCE),
        *((k, "" if v is None else str(v)) for k, v in about),
        ("Licence", LICENCE),
    ]
    add_table(
        sheet,
        ["about", "value"],
        2,
        len(rows),
        name=table_name("README_about", used),
        head=fmts["head"],
        widths={"about": 28, "value": 100},
    )
    for i, (key, value) in enumerate(rows, start=3):
        sheet.write_string(i, 0, key, fmts["key"])
        sheet.write_string(i, 1, value, fmts["wrap"])
    if definitions:
        start = 3 + len(rows) + 2
        add_table(
            sheet,
            ["column", "definition"],
            start,
            len(definitions),
            name=table_name("README_columns", used),
            head=fmts["head"],
            widths={"column": 28, "definition": 100},
        )
        for i, (column, text) in enumerate(definitions, start=start + 1):
            sheet.write_string(i, 0, column, fmts["key"])
            sheet.write_string(i, 1, text, fmts["wrap"])
    sheet.freeze_panes(0, 0)
    return sheet


def line_chart(
    book: Any,
    *,
    title: str,
    sheet_name: str,
    category_column: int,
    series: Sequence[tuple[str, int, Mapping[str, Any]]],
    first_row: int,
    last_row: int,
    y_title: str = "",
    y_format: str | None = None,
) -> Any:
    """A native Excel line chart of rows `first_row`..`last_row` of `sheet_name`: categories from
    one column, a line per (name, column, line style) in `series`."""
    chart = book.add_chart({"type": "line"})
    for name, column, line in series:
        chart.add_series(
            {
                "name": name,
                "categories": [sheet_name, first_row, category_column, last_row, category_column],
                "values": [sheet_name, first_row, column, last_row, column],
                "line": dict(line),
                "marker": {"type": "none"} if line.get("dash_type") else {"type": "circle"},
            }
        )
    chart.set_title({"name": title, "name_font": {"size": 12}})
    chart.set_legend({"position": "bottom"})
    axis: dict[str, Any] = {"name": y_title, "major_gridlines": {"visible": True}}
    if y_format:
        axis["num_format"] = y_format
    chart.set_y_axis(axis)
    chart.set_x_axis({"num_format": NUMBER_FORMATS["month"], "date_axis": True})
    chart.set_size({"width": 720, "height": 320})
    return chart
