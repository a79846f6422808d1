"""The one entry point: `collectonce …`. Each stage registers its own commands here."""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer
import typer.core

from collectonce import __version__
from collectonce._quiet import quiet_environment
from collectonce.catalog.cli import app as catalog_app
from collectonce.definitions import COMMAND_MODULES


def _flags_as_flags() -> None:
    """Show an on/off option as the flag it is (``--dry-run``), not as ``--dry-run <bool>``,
    which reads as if it took a value: typer's help prints a type after every option."""
    shown = typer.core.TyperOption.display_type_rich

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if getattr(self, "is_flag", False) else shown(self, ctx)

    typer.core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_as_flags()

app = typer.Typer(
    name="collectonce",
    help="Submit once, check against one catalogue, publish one dataset, give data back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(catalog_app, name="catalog")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"collectonce {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Submit once, check against one catalogue, publish one dataset, give data back."""


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as _exc:  # a stage not installed in this build
        if _exc.name and _name.startswith(_exc.name):
            continue
        raise
    _module.register(app)


def main() -> None:
    quiet_environment()
    app()


if __name__ == "__main__":
    main()
