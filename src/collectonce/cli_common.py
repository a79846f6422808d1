"""Options and helpers that every CLI command shares."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from collectonce.settings import Settings, get_settings

#: Width for output that goes to a file or a pipe: wide enough that no ID, code or path is
#: wrapped onto two lines (a terminal keeps its own width).
PIPED_WIDTH = 1000


def make_console(*, stderr: bool = False) -> Console:
    """A console at the terminal's width, or unwrapped when the output is piped or redirected."""
    stream = sys.stderr if stderr else sys.stdout
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):
        interactive = False
    return Console(stderr=stderr, width=None if interactive else PIPED_WIDTH)


console = make_console()
err_console = make_console(stderr=True)

CatalogOpt = Annotated[
    Path,
    typer.Option(
        "--catalog",
        envvar="COLLECTONCE_CATALOG",
        help="The catalogue folder.",
        show_default=True,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for machines.")]
PeriodFromOpt = Annotated[
    str | None, typer.Option("--from", help="First month, YYYY-MM (inclusive).")
]
PeriodToOpt = Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM (inclusive).")]
AsOfOpt = Annotated[
    int | None, typer.Option("--as-of", help="A publication version (default: latest).")
]


def settings_for(catalog: Path | None = None) -> Settings:
    return get_settings(catalog=catalog)


def fail(message: str, code: int = 1, *, as_json: bool = False) -> NoReturn:
    """Print a one-line error (never a traceback) and exit; with `as_json`, first print
    ``{"ok": false, "error": message}`` on stdout for machines."""
    if as_json:
        print_json({"ok": False, "error": message})
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str, allow_nan=False) + "\n")
    sys.stdout.flush()
