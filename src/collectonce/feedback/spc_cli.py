"""``collectonce spc``: a Making Data Count XmR chart of one series read from a CSV file.

pandas and the SPC and chart modules are imported inside the functions, so that
`collectonce --help` stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol, cast

import typer

from collectonce.cli_common import fail, print_json
from collectonce.errors import FeedbackError

if TYPE_CHECKING:
    import pandas as pd

USAGE_ERROR = 2
DATA_ERROR = 1
#: ``spc.MIN_FIX_AFTER_N_POINTS``, repeated so that the help text needs no pandas.
MIN_FIX_AFTER_N_POINTS = 12


class _Point(Protocol):
    """One row of the XmR frame that `xmr` returns, as the table and JSON read it."""

    date: pd.Timestamp
    value: float
    mean: float
    lpl: float
    upl: float
    point_type: object
    special_cause_type: object


def _points(frame: pd.DataFrame) -> Iterator[_Point]:
    return cast("Iterator[_Point]", frame.itertuples(index=False))


class _Failure(FeedbackError):
    """An error to report on one line, with the exit code to use."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def register(app: typer.Typer) -> None:
    """Add the ``spc`` command to `app`."""
    app.command("spc")(spc)


def spc(
    file: Annotated[
        Path,
        typer.Argument(help="CSV file with a date column and a value column.", show_default=False),
    ],
    date_col: Annotated[
        str | None,
        typer.Option(
            "--date-col",
            metavar="NAME",
            help="The column of dates (default: `date`, else the one column that holds dates).",
        ),
    ] = None,
    value_col: Annotated[
        str | None,
        typer.Option(
            "--value-col",
            metavar="NAME",
            help="The column of values (default: `value`, else the first other column of numbers).",
        ),
    ] = None,
    direction: Annotated[
        str,
        typer.Option(
            help="Which way is better: increase, decrease or neutral (the default is increase, "
            "as in NHSRplotthedots)."
        ),
    ] = "increase",
    target: Annotated[
        str | None,
        typer.Option(metavar="NUMBER", help="Target value, for the assurance icon."),
    ] = None,
    rebase: Annotated[
        list[str] | None,
        typer.Option(
            metavar="DATE",
            help="Date (YYYY-MM-DD) from which to recalculate the limits. Repeatable.",
        ),
    ] = None,
    fix_after: Annotated[
        str | None,
        typer.Option(
            "--fix-after",
            metavar="N",
            help=f"Fix the limits on the first N points of each period (N >= "
            f"{MIN_FIX_AFTER_N_POINTS}).",
        ),
    ] = None,
    screen: Annotated[
        bool,
        typer.Option(
            "--screen/--no-screen",
            help="Screen out large moving ranges before the limits (--no-screen matches the "
            "Making Data Count Excel tool).",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    chart: Annotated[
        Path | None,
        typer.Option(metavar="OUT.svg|OUT.html", help="Also write the chart to this file."),
    ] = None,
) -> None:
    """Statistical process control (Making Data Count XmR chart) of one series."""
    from collectonce.feedback.spc import compute_spc, summarise_spc

    try:
        options = _options(direction, target, rebase, fix_after, chart)
        frame = _read_series(file, date_col, value_col)
        for when in options.get("rebase", []):
            if not (frame["date"] == when).any():
                typer.echo(
                    f"Warning: --rebase {when:%Y-%m-%d} is not a date in {file.name}; "
                    "ignored (a rebase starts at a point of the series)",
                    err=True,
                )
        try:
            points = compute_spc(frame, screen_outliers=screen, **options)
        except ValueError as exc:
            raise _Failure(str(exc), DATA_ERROR) from exc
        summary = summarise_spc(points).iloc[0]
        if chart is not None:
            _write_chart(chart, points, summary, file.stem)
    except _Failure as exc:
        fail(str(exc), exc.code)

    if as_json:
        print_json(_json(points, summary))
    else:
        _print_table(points, summary, file.name)
    if chart is not None:
        typer.echo(f"Chart written to {chart}", err=True)


def _options(
    direction: str,
    target: str | None,
    rebase: list[str] | None,
    fix_after: str | None,
    chart: Path | None,
) -> dict[str, Any]:
    import pandas as pd

    from collectonce.feedback.spc import DIRECTIONS

    options: dict[str, Any] = {}
    key = direction.strip().lower()
    if key not in DIRECTIONS:
        raise _Failure(
            f"--direction must be increase, decrease or neutral (got {direction!r})", USAGE_ERROR
        )
    options["direction"] = key
    if target is not None:
        value = pd.to_numeric(pd.Series([target.strip()]), errors="coerce").iloc[0]
        if not math.isfinite(value):
            raise _Failure(f"--target must be a number (got {target!r})", USAGE_ERROR)
        options["target"] = float(value)
    if rebase:
        dates = _parse_dates(pd.Series([r.strip() for r in rebase]))
        if dates.isna().any():
            bad = rebase[int(dates.isna().to_numpy().argmax())]
            raise _Failure(f"--rebase must be a date like 2024-04-01 (got {bad!r})", USAGE_ERROR)
        options["rebase"] = list(dates)
    if fix_after is not None:
        try:
            n = int(fix_after)
        except ValueError:
            n = -1
        if n < MIN_FIX_AFTER_N_POINTS:
            raise _Failure(
                f"--fix-after must be a whole number of at least {MIN_FIX_AFTER_N_POINTS} "
                f"(got {fix_after!r})",
                USAGE_ERROR,
            )
        options["fix_after_n_points"] = n
    if chart is not None and chart.suffix.lower() not in {".svg", ".html", ".htm"}:
        raise _Failure(f"--chart must end in .svg or .html (got {str(chart)!r})", USAGE_ERROR)
    return options


#: Formats tried, in order, when the dates are not ISO 8601 (2024-04-01, 2024-04). Day first
#: before month first, as NHS files are British; a file must parse whole in one format.
DATE_FORMATS = (
    "%d/%m/%Y",
    "%d/%m/%y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%b-%y",
    "%b-%Y",
    "%b %y",
    "%b %Y",
    "%B %Y",
    "%B-%Y",
    "%m/%Y",
    "%Y%m%d",
    "%Y%m",
)
#: Cell text that means "no value": blank, the NHS small-number suppression marker and the
#: usual markers of missing or withheld figures (ONS: x, c, z, ..).
MISSING_MARKERS = frozenset(
    {"", "*", "-", "\u2013", "\u2014", ".", "..", ":", "x", "[x]", "c", "[c]", "z", "[z]"}
    | {"na", "n/a", "nan", "null", "none", "supp", "suppressed", "missing"}
)


def _parse_dates(text: pd.Series) -> pd.Series:
    """Dates from text in the first format that reads every value; NaT where none does."""
    import pandas as pd

    iso = pd.to_datetime(text, format="ISO8601", errors="coerce")
    if iso.notna().all() or text.empty:
        return _naive(iso)
    best = iso
    for fmt in DATE_FORMATS:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        if parsed.notna().all():
            return _naive(parsed)
        if parsed.notna().sum() > best.notna().sum():
            best = parsed
    return _naive(best)


def _naive(dates: pd.Series) -> pd.Series:
    import pandas as pd

    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    return dates


def _parse_values(text: pd.Series, *, decimal_comma: bool = False) -> tuple[pd.Series, pd.Series]:
    """Numbers from text (thousands separators, or decimal commas, and a trailing % allowed)
    and a mask of the cells that are neither a number nor a missing-value marker."""
    import pandas as pd

    missing = text.str.lower().isin(MISSING_MARKERS)
    cleaned = text.str.replace(",", "." if decimal_comma else "", regex=False)
    cleaned = cleaned.str.replace(r"\s*%$", "", regex=True)
    values = pd.to_numeric(cleaned.where(~missing), errors="coerce")
    return values, values.isna() & ~missing


def _find(raw: pd.DataFrame, wanted: str) -> Any:
    """The column named `wanted` (case and surrounding spaces or quotes ignored), or None."""
    key = wanted.strip().strip('"').strip().lower()
    for col in raw.columns:
        if str(col).strip().strip('"').strip().lower() == key:
            return col
    return None


def _columns_text(raw: pd.DataFrame) -> str:
    return ", ".join(repr(str(c)) for c in raw.columns)


def _choose_columns(
    raw: pd.DataFrame, file: Path, date_col: str | None, value_col: str | None
) -> tuple[Any, Any]:
    """The date and value columns: as named, else `date` and `value`, else a guess that is
    said on stderr. A named column that is not there, or no column to guess, is an error."""
    chosen: dict[str, Any] = {}
    for role, named in (("date", date_col), ("value", value_col)):
        if named is not None:
            found = _find(raw, named)
            if found is None:
                raise _Failure(
                    f"--{role}-col {named!r}: {file.name} has no such column "
                    f"(columns: {_columns_text(raw)})",
                    USAGE_ERROR,
                )
            chosen[role] = found
        elif (found := _find(raw, role)) is not None:
            chosen[role] = found
    if "date" not in chosen:
        guess = next(
            (c for c in raw.columns if c != chosen.get("value") and _all_dates(raw[c])), None
        )
        if guess is None:
            raise _Failure(
                f"{file.name} has no 'date' column and no column of dates "
                f"(columns: {_columns_text(raw)}): name it with --date-col",
                DATA_ERROR,
            )
        chosen["date"] = guess
        typer.echo(f"Dates from column {str(guess)!r} (choose with --date-col).", err=True)
    if "value" not in chosen:
        guess = next(
            (c for c in raw.columns if c != chosen["date"] and _mostly_numbers(raw[c])), None
        )
        if guess is None:
            raise _Failure(
                f"{file.name} has no 'value' column and no column of numbers "
                f"(columns: {_columns_text(raw)}): name it with --value-col",
                DATA_ERROR,
            )
        chosen["value"] = guess
        typer.echo(f"Values from column {str(guess)!r} (choose with --value-col).", err=True)
    if chosen["date"] == chosen["value"]:
        raise _Failure(
            f"the date and value columns are both {str(chosen['date'])!r}: choose two columns",
            USAGE_ERROR,
        )
    return chosen["date"], chosen["value"]


def _all_dates(column: pd.Series) -> bool:
    text = column.fillna("").astype(str).str.strip()
    text = text[text != ""]
    if text.empty or not text.str.contains(r"[-/ .A-Za-z]", regex=True).all():
        return False  # plain numbers are values, not dates
    return bool(_parse_dates(text).notna().all())


def _mostly_numbers(column: pd.Series) -> bool:
    text = column.fillna("").astype(str).str.strip()
    values, bad = _parse_values(text)
    return bool(values.notna().any()) and not bool(bad.any())


def _read_series(
    file: Path, date_col: str | None = None, value_col: str | None = None
) -> pd.DataFrame:
    """The CSV's date and value columns (header case-insensitive), parsed and checked.

    Commas, semicolons or tabs may separate the columns. Rows with neither a date nor a
    value are skipped. Blank and suppressed values (``*`` and the like) become missing.
    """
    import pandas as pd

    if not file.is_file():
        raise _Failure(f"file not found: {file}", USAGE_ERROR)
    sep = _delimiter(file)
    try:
        raw = pd.read_csv(
            file,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            encoding="utf-8-sig",
            sep=sep,
            skip_blank_lines=False,  # kept, then dropped below, so line numbers stay right
        )
    except pd.errors.EmptyDataError:
        raise _Failure(f"{file} is empty", DATA_ERROR) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _Failure(f"cannot read {file} as CSV: {reason}", DATA_ERROR) from None
    date_name, value_name = _choose_columns(raw, file, date_col, value_col)
    date_text = raw[date_name].fillna("").str.strip()
    value_text = raw[value_name].fillna("").str.strip()
    line = pd.Series(range(2, len(raw) + 2), index=raw.index)
    blank = (date_text == "") & (value_text == "")
    date_text, value_text, line = date_text[~blank], value_text[~blank], line[~blank]
    if date_text.empty:
        raise _Failure(f"{file} has no data rows", DATA_ERROR)

    dates = _parse_dates(date_text)
    if dates.isna().any():
        row = int(dates.isna().to_numpy().argmax())
        raise _Failure(
            f"line {line.iloc[row]}: date {date_text.iloc[row]!r} is not a date like 2024-04-01",
            DATA_ERROR,
        )
    repeated = dates.duplicated()
    if repeated.any():
        row = int(repeated.to_numpy().argmax())
        raise _Failure(
            f"line {line.iloc[row]}: duplicate date {dates.iloc[row]:%Y-%m-%d} in the series",
            DATA_ERROR,
        )
    # a semicolon-separated file with commas but no points in its numbers uses decimal commas
    decimal_comma = (
        sep == ";"
        and bool(value_text.str.contains(",", regex=False).any())
        and not bool(value_text.str.contains(".", regex=False).any())
    )
    values, bad = _parse_values(value_text, decimal_comma=decimal_comma)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise _Failure(
            f"line {line.iloc[row]}: value {value_text.iloc[row]!r} is not a number", DATA_ERROR
        )
    if (values.abs() == math.inf).any():
        row = int((values.abs() == math.inf).to_numpy().argmax())
        raise _Failure(f"line {line.iloc[row]}: value must be finite", DATA_ERROR)
    return pd.DataFrame({"date": dates.to_numpy(), "value": values.astype("float64").to_numpy()})


def _delimiter(file: Path) -> str:
    """The column separator of the header line (as a submission's is told)."""
    from collectonce.sniff import sniff_delimiter

    try:
        with file.open(encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
    except OSError:
        return ","
    return sniff_delimiter(header)


def _number(x: Any) -> float | None:
    import pandas as pd

    if x is None or pd.isna(x):
        return None
    return float(x)


def _label(x: Any) -> str | None:
    import pandas as pd

    return None if x is None or pd.isna(x) else str(x)


def _json(points: pd.DataFrame, summary: pd.Series) -> dict[str, Any]:
    return {
        "points": [
            {
                "date": row.date.strftime("%Y-%m-%d"),
                "value": _number(row.value),
                "mean": _number(row.mean),
                "lpl": _number(row.lpl),
                "upl": _number(row.upl),
                "point_type": _label(row.point_type),
                "special_cause_type": _label(row.special_cause_type),
            }
            for row in _points(points)
        ],
        "variation_icon": _label(summary["variation_icon"]),
        "assurance": _label(summary["assurance"]),
    }


_STYLE = {
    "special_cause_improvement": "bold blue",
    "special_cause_concern": "bold dark_orange",
    "special_cause_neutral_high": "bold magenta",
    "special_cause_neutral_low": "bold magenta",
}


def _print_table(points: pd.DataFrame, summary: pd.Series, name: str) -> None:
    from rich.table import Table

    from collectonce.cli_common import make_console
    from collectonce.feedback.chart import chart_notes, format_value
    from collectonce.feedback.wording import (
        ASSURANCE_SHORT,
        ASSURANCE_TEXT,
        VARIATION_SHORT,
        VARIATION_TEXT,
        rule_text,
    )

    table = Table(title=f"XmR chart: {name}")
    table.add_column("Date", no_wrap=True)
    for column in ("Value", "Mean", "Lower", "Upper"):
        table.add_column(column, justify="right")
    table.add_column("Type")
    table.add_column("Rule")
    for row in _points(points):
        point_type = _label(row.point_type)
        rule = _label(row.special_cause_type)
        table.add_row(
            row.date.strftime("%Y-%m-%d"),
            format_value(row.value),
            format_value(row.mean),
            _limit(row.lpl),
            _limit(row.upl),
            _point_text(point_type, rule),
            rule_text(rule),
            style=_STYLE.get(point_type or ""),
        )
    console = make_console()
    console.print(table)
    icon = _label(summary["variation_icon"])
    assured = _label(summary["assurance"])
    variation = f"{VARIATION_SHORT[icon]}: {VARIATION_TEXT[icon]}" if icon else "not assessed"
    assurance = f"{ASSURANCE_SHORT[assured]}: {ASSURANCE_TEXT[assured]}" if assured else "no target"
    console.print(f"Variation: {variation}.", highlight=False)
    console.print(f"Assurance: {assurance}.", highlight=False)
    if bool((points["short_group_warning"] & points["upl"].notna()).any()):
        console.print("Trial limits: a period has fewer than 13 points.")
    for note in chart_notes(points):
        console.print(note)


def _point_text(point_type: str | None, rule: str | None) -> str:
    """The point's name as the chart legend and the pack give it ("Improvement (high)")."""
    from collectonce.feedback.chart import marker_of
    from collectonce.feedback.wording import marker_text

    kind, side = marker_of(point_type, rule)
    return "missing" if kind is None else marker_text(kind, side)


def _limit(value: float) -> str:
    from collectonce.feedback.chart import format_value

    return "none" if value is None or not math.isfinite(value) else format_value(value)


def _write_chart(path: Path, points: pd.DataFrame, summary: pd.Series, title: str) -> None:
    from collectonce.feedback.chart import xmr_chart_svg
    from collectonce.feedback.icons import assurance_icon_svg, variation_icon_svg

    svg = xmr_chart_svg(points, title)
    variation = _label(summary["variation_icon"])
    icons = (variation_icon_svg(variation) if variation else "") + assurance_icon_svg(
        _label(summary["assurance"])
    )
    if path.suffix.lower() == ".svg":
        text = svg
    else:
        text = (
            '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{escape(title)}</title>\n</head>\n<body>\n"
            f"<figure>\n{svg}\n<figcaption>{icons}</figcaption>\n</figure>\n</body>\n</html>\n"
        )
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _Failure(f"cannot write {path}: {exc.strerror or exc}", DATA_ERROR) from None
