"""The one entry point: `collectonce …`. Each stage registers its own commands here."""

from __future__ import annotations

import importlib

import typer

from collectonce.catalog.cli import app as catalog_app

app = typer.Typer(
    name="collectonce",
    help="Submit once, check against one catalogue, publish one dataset, give data back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(catalog_app, name="catalog")

#: Modules that add commands through `register(app)`. Heavy imports stay inside commands.
COMMAND_MODULES = (
    "collectonce.burden.cli",
    "collectonce.ingest.cli",
    "collectonce.publish.cli",
    "collectonce.api.cli",
    "collectonce.feedback.spc_cli",
    "collectonce.feedback.cli",
    "collectonce.rollup.cli",
    "collectonce.demo",
)

for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as _exc:  # a stage not installed in this build
        if _exc.name and _name.startswith(_exc.name):
            continue
        raise
    _module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
