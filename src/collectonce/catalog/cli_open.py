"""Open the catalogue at the command line: on a problem, list every one and exit 1."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from collectonce.catalog.errors import CatalogInvalid
from collectonce.cli_common import err_console, print_json, settings_for

if TYPE_CHECKING:
    from collectonce.catalog.catalogue import Catalog
    from collectonce.settings import Settings


def open_catalog(path: Path, *, as_json: bool = False, check_extras: bool = True) -> Catalog:
    """Load the catalogue or exit 1 listing every problem (``check_extras``: see
    `load_catalog`). The loader is imported here, so `--help` never reads it."""
    from collectonce.catalog.loader import load_catalog

    try:
        return load_catalog(path, check_extras=check_extras)
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


def open_with_settings(
    path: Path, *, as_json: bool = False, check_extras: bool = True
) -> tuple[Catalog, Settings]:
    """The catalogue (or exit 1 listing every problem) and the settings for its folder."""
    return open_catalog(path, as_json=as_json, check_extras=check_extras), settings_for(path)
