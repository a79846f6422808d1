"""Open the catalogue at the command line: on a problem, list every one and exit 1."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from collectonce.catalog.errors import CatalogInvalid
from collectonce.catalog.loader import Catalog, load_catalog
from collectonce.cli_common import err_console, print_json, settings_for
from collectonce.settings import Settings


def open_catalog(path: Path, *, as_json: bool = False) -> Catalog:
    """Load the catalogue or exit 1 listing every problem."""
    try:
        return load_catalog(path)
    except CatalogInvalid as exc:
        if as_json:
            print_json({"ok": False, "problems": [p.to_dict() for p in exc.problems]})
        else:
            for problem in exc.problems:
                err_console.print(
                    f"[red]✗[/] {escape(str(problem))}", highlight=False, soft_wrap=True
                )
            err_console.print(f"[bold red]{len(exc.problems)} problem(s) in {path}[/]")
        raise typer.Exit(1) from None


def open_with_settings(path: Path, *, as_json: bool = False) -> tuple[Catalog, Settings]:
    """The catalogue (or exit 1 listing every problem) and the settings for its folder."""
    return open_catalog(path, as_json=as_json), settings_for(path)
