"""`collectonce publish` and `collectonce view`: publishing and reading at every level, the
provider table with its regional and England roll-ups (`collectonce.rollup.publishing`).

Registered before the publish stage's other commands, so the help lists them first."""

from __future__ import annotations

import typer

from collectonce.rollup.cli import publish_cmd, view_cmd


def register(app: typer.Typer) -> None:
    """Add `publish` and `view` to the `collectonce` app."""
    app.command("publish")(publish_cmd)
    app.command("view")(view_cmd)
