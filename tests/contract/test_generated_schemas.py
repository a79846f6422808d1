"""The generated JSON Schemas describe the catalogue files as people write them."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from collectonce.cli import app

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas" / "catalog"


def _validator(kind: str):
    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _yaml(path: Path) -> object:
    # Dates as text, the way an editor's YAML plugin hands them to a JSON Schema.
    return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))


@pytest.mark.parametrize(
    ("kind", "pattern"),
    [
        ("metric", "metrics/*/*.yaml"),
        ("request", "requests/*/*.yaml"),
        ("requesters", "requesters.yaml"),
        ("targets", "targets.yaml"),
        ("catalog", "catalog.yaml"),
    ],
)
def test_every_shipped_file_validates(shipped_catalog_dir: Path, kind: str, pattern: str) -> None:
    """Each shipped file passes its schema, short-form rules and formulas included."""
    validator = _validator(kind)
    paths = sorted(shipped_catalog_dir.glob(pattern))
    assert paths
    for path in paths:
        errors = [e.message for e in validator.iter_errors(_yaml(path))]
        assert not errors, (path.name, errors[:3])


def test_every_provider_row_validates(shipped_catalog_dir: Path) -> None:
    """Each providers.csv row passes the provider row schema."""
    validator = _validator("provider")
    with (shipped_catalog_dir / "providers.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert all(validator.is_valid(row) for row in rows)
    assert not validator.is_valid({**rows[0], "ods_code": "rf4!"})


def test_the_schemas_refuse_what_the_check_refuses(shipped_catalog_dir: Path) -> None:
    """A rule with a made-up operator, a formula with `*`, and an item left unmapped fail."""
    metric = _yaml(next(shipped_catalog_dir.glob("metrics/*/ae_breaches_4hr_type1.yaml")))
    ratio = _yaml(next(shipped_catalog_dir.glob("metrics/*/ae_4hr_performance_type1.yaml")))
    request = _yaml(next(shipped_catalog_dir.glob("requests/*/nhse_ae_monthly.yaml")))
    metrics, requests = _validator("metric"), _validator("request")
    assert not metrics.is_valid({**metric, "rules": [{"le": "ae_attendances_type1"}]})
    bad_ratio = {**ratio, "derived": {**ratio["derived"], "numerator": "a * 2"}}
    assert not metrics.is_valid(bad_ratio)
    item = {"their_code": "X", "their_label": "Unmapped"}
    assert not requests.is_valid({**request, "items": [item]})
    assert requests.is_valid({**request, "items": [{**item, "unmapped_reason": "Free text"}]})


def test_generate_removes_and_check_reports_orphans(
    tmp_path: Path, shipped_catalog_dir: Path
) -> None:
    """A file nothing generates any more is stale for --check, and generate deletes it."""
    out = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", out)
    (out / "gx" / "retired_suite.json").write_text("{}\n")
    args = ["catalog", "generate", "--catalog", str(shipped_catalog_dir), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--check", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["stale"] == ["gx/retired_suite.json"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert not (out / "gx" / "retired_suite.json").exists()
    assert CliRunner().invoke(app, [*args, "--check"]).exit_code == 0
