"""A publication read back from the table's history is a typed `PublishedVersion`; the
`collectonce publications` JSON and table are made from it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from publish_helpers import ae_rows
from typer.testing import CliRunner

from collectonce.cli import app
from collectonce.publish.history import PublishedVersion, list_publications, publications

KEYS = ["version", "published_at", "catalog_version", "counts", "content_hash", "committed_at"]


def test_publications_are_typed_and_their_json_unchanged(
    catalog_min_dir: Path, settings, submit
) -> None:
    cat = ["--catalog", str(catalog_min_dir)]
    runner = CliRunner()
    submit(ae_rows(providers=("RF4",)))
    assert runner.invoke(app, ["publish", *cat]).exit_code == 0
    submit(ae_rows(providers=("RF4", "RRK")))
    assert runner.invoke(app, ["publish", *cat]).exit_code == 0

    typed = publications(settings)
    assert [type(p) for p in typed] == [PublishedVersion, PublishedVersion]
    assert [p.version for p in typed] == [0, 1]
    assert all(isinstance(p.published_at, dt.datetime) for p in typed)
    assert all(isinstance(p.committed_at, dt.datetime) for p in typed)
    assert typed[1].counts["rows"] > typed[0].counts["rows"] > 0

    shown = runner.invoke(app, ["publications", "--json", *cat])
    doc = json.loads(shown.stdout)["publications"]
    assert doc == list_publications(settings) == [p.to_dict() for p in typed]
    assert [list(p) for p in doc] == [KEYS, KEYS]
    assert doc[1]["published_at"] == typed[1].published_at.isoformat()  # type: ignore[union-attr]

    table = runner.invoke(app, ["publications", *cat], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    minute = typed[1].published_at.isoformat()[:16].replace("T", " ")  # type: ignore[union-attr]
    assert minute in table.stdout
    assert f"{typed[1].counts['rows']:,}" in table.stdout
