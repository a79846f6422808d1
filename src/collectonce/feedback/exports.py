"""A pack as files: the workbook (Summary, Data, Metrics, Submissions and Charts sheets and a
README), the Data sheet as CSV, and the three files of a pack written into its folder. Every
text cell is neutralised so no spreadsheet runs it as a formula.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from collectonce.atomic import write_bytes_atomic
from collectonce.feedback.model import DATA_COLUMNS, Pack
from collectonce.feedback.render import render_pack_html
from collectonce.publish import workbook
from collectonce.publish.exports import neutralise, safe_frame

if TYPE_CHECKING:
    from collectonce.catalog.models import Metric


def neutralise_text(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (the export
    rule of `collectonce.publish.exports`); anything else is returned as it is."""
    return neutralise(value) if isinstance(value, str) else value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A new frame whose text cells cannot be read as formulas; numbers stay numbers."""
    return safe_frame(df)


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def replace_bytes(path: Path, data: bytes) -> None:
    """Replace `path` atomically; packs are rebuilt from the table, so no fsync is paid."""
    write_bytes_atomic(path, data, durable=False)


#: Decimals kept in the CSV, by number kind: as in the workbook, but rates and other
#: fractions keep four places (a CSV is read by programs as well as people).
CSV_DECIMALS = {"count": 0, "count_stat": 1, "percent": 2, "decimal": 4}


def write_pack_csv(pack: Pack, path: Path | str) -> Path:
    """The Data sheet as CSV (UTF-8): numbers rounded by kind and never in exponent form
    (1234567, not 1.23457e+06), whole numbers as integers, text cells neutralised against
    formula injection."""
    from collectonce.publish.exports import iter_csv_chunks

    path = Path(path)
    data = pack.data_frame()
    metrics = {p.code: p.metric for p in pack.panels}
    for column, kinds in _number_kinds(data, metrics, DATA_NUMBERS).items():
        values = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=np.float64)
        decimals = np.array([CSV_DECIMALS.get(k or "", 4) for k in kinds], dtype=np.int64)
        rounded = values.copy()
        for places in np.unique(decimals).tolist():
            rows = decimals == places
            rounded[rows] = np.round(values[rows], places)
        data[column] = rounded
    replace_bytes(path, b"".join(iter_csv_chunks(data)))
    return path


def write_pack_xlsx(pack: Pack, path: Path | str) -> Path:
    """A workbook with Summary, Data and Metrics sheets; every text cell is neutralised."""
    import xlsxwriter

    path = Path(path)
    tmp = _atomic_target(path)
    try:
        book = xlsxwriter.Workbook(
            str(tmp),
            {
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "nan_inf_to_errors": False,
                "in_memory": True,
            },
        )
        formats = {
            "head": book.add_format(dict(workbook.HEAD_FORMAT)),
            "date": book.add_format({"num_format": "yyyy-mm-dd"}),
            "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
            **{
                key: book.add_format({"num_format": fmt})
                for key, (fmt, _) in NUMBER_FORMATS.items()
            },
        }
        tables: set[str] = set()
        summary = pack.summary_frame()
        title = f"{pack.provider.name or pack.ods} ({pack.ods}) feedback pack"
        version = pack.publication_version
        source = f"Publication {version}" if version is not None else "Unversioned data"
        notes = [
            title,
            f"{source}{' of ' + pack.published_at if pack.published_at else ''}; "
            f"catalogue {pack.catalog_version}; built {pack.built_at}",
        ]
        metrics = {p.code: p.metric for p in pack.panels}
        _write_sheet(
            book,
            "Summary",
            summary,
            formats,
            notes=notes,
            widths={"label": 45, "variation": 22, "assurance": 22},
            number_kinds=_number_kinds(summary, metrics, SUMMARY_NUMBERS),
            tables=tables,
        )
        data = pack.data_frame()
        _write_sheet(
            book,
            "Data",
            data,
            formats,
            widths={"metric": 30, "special_cause_type": 26, "flags": 22},
            number_kinds=_number_kinds(data, metrics, DATA_NUMBERS),
            tables=tables,
        )
        _write_sheet(
            book,
            "Metrics",
            pack.metrics_frame(),
            formats,
            widths={
                "label": 40,
                "definition": 60,
                "why_collected": 60,
                "used_by": 40,
                "requests_and_items": 60,
            },
            wrap=True,
            tables=tables,
        )
        receipts = pd.DataFrame(list(pack.receipts))
        if not receipts.empty:
            _write_sheet(
                book,
                "Submissions",
                receipts,
                formats,
                widths={"original_name": 30},
                tables=tables,
            )
        _pack_charts(book, pack)
        _pack_readme(book, pack, tables)
        book.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


#: Number formats of the workbook (Excel format, decimals kept): counts as whole numbers,
#: percentages with a % sign (values are already 0 to 100), other figures to two decimals.
NUMBER_FORMATS: dict[str, tuple[str, int]] = {
    "count": ("#,##0", 0),
    "count_stat": ("#,##0.0", 1),
    "percent": ('0.0"%"', 2),
    "decimal": ("#,##0.00", 2),
}
#: Columns holding a metric's values (True) or a statistic of them (False), per sheet.
DATA_NUMBERS = {"value": True, "mean": False, "lpl": False, "upl": False}
SUMMARY_NUMBERS = {"latest_value": True, "target": True, "peer_median": False}


def number_kind(metric: Metric, is_value: bool) -> str:
    """How a metric's figures are shown in a workbook: count, count_stat, percent or decimal."""
    if metric.unit == "percent":
        return "percent"
    if metric.value_type == "integer":
        return "count" if is_value else "count_stat"
    return "decimal"


def _number_kinds(
    df: pd.DataFrame, metrics: Mapping[str, Metric], columns: Mapping[str, bool]
) -> dict[str, list[str | None]]:
    """For each numeric column in `columns`, the number kind of each row (by its metric)."""
    if "metric" not in df.columns:
        return {}
    codes = df["metric"].tolist()
    return {
        column: [number_kind(metrics[c], is_value) if c in metrics else None for c in codes]
        for column, is_value in columns.items()
        if column in df.columns
    }


def _pack_charts(book: Any, pack: Pack) -> None:
    """A Charts sheet: a native Excel line chart per metric (value, mean and process limits)
    over its rows of the Data sheet."""
    sheet = book.add_worksheet("Charts")
    sheet.write_string(0, 0, "One chart per metric, from the Data sheet: values, mean and limits.")
    columns = {name: DATA_COLUMNS.index(name) for name in ("period", "value", "mean", "lpl", "upl")}
    styles = {
        "value": {"color": "#005EB8", "width": 2},
        "mean": {"color": "#231F20", "width": 1.25},
        "lpl": {"color": "#768692", "dash_type": "dash", "width": 1},
        "upl": {"color": "#768692", "dash_type": "dash", "width": 1},
    }
    names = {"value": "value", "mean": "mean", "lpl": "lower limit", "upl": "upper limit"}
    first = 1  # the Data sheet's header is row 0
    for i, panel in enumerate(pack.panels):
        size = len(panel.points)
        if size:
            wanted = ["value"] + (["mean", "lpl", "upl"] if panel.has_limits else [])
            percent = panel.metric.unit == "percent"
            chart = workbook.line_chart(
                book,
                title=str(neutralise_text(panel.metric.label))[:250],
                sheet_name="Data",
                category_column=columns["period"],
                series=[(names[k], columns[k], styles[k]) for k in wanted],
                first_row=first,
                last_row=first + size - 1,
                y_title="%" if percent else str(panel.metric.unit),
                y_format=workbook.NUMBER_FORMATS["percent" if percent else "number"],
            )
            sheet.insert_chart(2 + i * 17, 0, chart)
        first += size


def _pack_readme(book: Any, pack: Pack, tables: set[str]) -> None:
    fmts = workbook.formats(book)
    about = [
        ("Provider", f"{pack.provider.name or pack.ods} ({pack.ods})"),
        ("Publication version", pack.publication_version),
        ("As of", pack.published_at or f"publication {pack.publication_version}"),
        ("Catalogue version", pack.catalog_version),
        ("Built", pack.built_at),
        ("Method", "Making Data Count XmR charts: mean ± 2.66 × mean moving range."),
    ]
    definitions = [
        ("Summary", "Each metric's latest value, variation and assurance icons, target and peers."),
        ("Data", "Every point of every metric: value, mean, process limits (lpl, upl), signals."),
        ("Metrics", "Each metric's definition, why it is collected and who uses it."),
        ("Charts", "A line chart per metric, drawn from the Data sheet."),
        ("lpl / upl", "Lower and upper process limits."),
        ("point_type", "common_cause, or a special cause read as improvement, concern or neutral."),
    ]
    workbook.readme_sheet(book, fmts, f"Feedback pack: {pack.ods}", about, definitions, used=tables)


def _write_sheet(
    book: Any,
    name: str,
    df: pd.DataFrame,
    formats: dict[str, Any],
    *,
    notes: Sequence[str] = (),
    widths: Mapping[str, int] | None = None,
    wrap: bool = False,
    number_kinds: Mapping[str, Sequence[str | None]] | None = None,
    tables: set[str] | None = None,
) -> None:
    sheet = book.add_worksheet(name)
    row0 = 0
    for note in notes:
        sheet.write_string(row0, 0, str(neutralise_text(note)))
        row0 += 1
    if notes:
        row0 += 1
    for j, col in enumerate(df.columns):
        sheet.write_string(row0, j, str(neutralise_text(str(col))), formats["head"])
        sheet.set_column(j, j, (widths or {}).get(str(col), 14), formats["wrap"] if wrap else None)
    for j, col in enumerate(df.columns):
        kinds = (number_kinds or {}).get(str(col))
        _write_column(sheet, row0 + 1, j, df[col], formats, kinds)
    workbook.table_over(
        sheet,
        [str(neutralise_text(str(c))) for c in df.columns],
        row0,
        len(df),
        name=workbook.table_name(name, tables),
        head=formats["head"],
    )


def _write_column(
    sheet: Any,
    row0: int,
    col: int,
    values: pd.Series,
    formats: dict[str, Any],
    kinds: Sequence[str | None] | None = None,
) -> None:
    """One column from `row0` down: numbers as numbers (blank when missing), rounded and
    formatted by their `kinds` (see `NUMBER_FORMATS`) when given; anything else cell by cell
    (`_write_cell`)."""
    dtype = values.dtype
    if kinds is not None and not (isinstance(dtype, np.dtype) and dtype.kind in "iuf"):
        values = pd.to_numeric(values, errors="coerce")
        dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        numbers = values.to_numpy(dtype=np.float64)
        finite = np.isfinite(numbers)
        for i, (number, ok) in enumerate(zip(numbers.tolist(), finite.tolist(), strict=True)):
            kind = kinds[i] if kinds is not None else None
            if not ok:
                sheet.write_blank(row0 + i, col, None)
            elif kind is None:
                sheet.write_number(row0 + i, col, number)
            else:
                digits = NUMBER_FORMATS[kind][1]
                sheet.write_number(row0 + i, col, round(number, digits), formats[kind])
        return
    for i, value in enumerate(values.tolist()):
        _write_cell(sheet, row0 + i, col, value, formats)


def _write_cell(sheet: Any, row: int, col: int, value: Any, formats: dict[str, Any]) -> None:
    if value is None or value is pd.NaT or value is pd.NA:
        sheet.write_blank(row, col, None)
    elif isinstance(value, bool | np.bool_):
        sheet.write_boolean(row, col, bool(value))
    elif isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            sheet.write_blank(row, col, None)
        else:
            sheet.write_number(row, col, number)
    elif isinstance(value, dt.datetime | pd.Timestamp):
        sheet.write_datetime(row, col, pd.Timestamp(value).to_pydatetime(), formats["date"])
    elif isinstance(value, dt.date):
        sheet.write_datetime(
            row, col, dt.datetime(value.year, value.month, value.day), formats["date"]
        )
    else:
        sheet.write_string(row, col, str(neutralise_text(str(value))))


def pack_paths(directory: Path, ods: str) -> dict[str, Path]:
    return {
        "html": directory / f"{ods}_pack.html",
        "xlsx": directory / f"{ods}_pack.xlsx",
        "csv": directory / f"{ods}_pack.csv",
    }


def write_pack(pack: Pack, directory: Path) -> dict[str, Path]:
    """Write the HTML, XLSX and CSV of a pack into `directory` (each file atomically)."""
    paths = pack_paths(directory, pack.ods)
    replace_bytes(paths["html"], render_pack_html(pack).encode("utf-8"))
    write_pack_xlsx(pack, paths["xlsx"])
    write_pack_csv(pack, paths["csv"])
    return paths
