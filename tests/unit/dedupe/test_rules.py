"""The rules are data: an analyst adds a synonym in YAML, and `catalog check` guards the file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from collectonce.cli import app

runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def _register(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["requester", "request", "item_code", "label"])
        writer.writerow(["trust", "board_pack", "P1", "PTL size"])
        writer.writerow(["region", "elective_return", "E1", "Total incomplete RTT pathways"])
    return path


def _linked(data: dict) -> bool:
    return any({p["a"]["item_code"], p["b"]["item_code"]} == {"P1", "E1"} for p in data["pairs"])


def test_an_analyst_adds_a_synonym_without_python(catalog_copy: Path, tmp_path: Path) -> None:
    """It links 'PTL size' to the RTT waiting list once 'ptl' is added to the rules file."""
    register = _register(tmp_path / "reg.csv")
    before = run("requests", "dedupe", "--catalog", catalog_copy, "--register", register, "--json")
    assert before.exit_code == 0 and not _linked(json.loads(before.stdout))
    rules = catalog_copy / "dedupe_rules.yaml"
    text = rules.read_text(encoding="utf-8")
    for value in ("rtt", "incomplete"):  # the topic, and the pathway it is a list of
        text = text.replace(f"      {value}: [", f"      {value}: ['ptl', ", 1)
    rules.write_text(text, encoding="utf-8")
    assert run("catalog", "check", "--catalog", catalog_copy).exit_code == 0
    after = run("requests", "dedupe", "--catalog", catalog_copy, "--register", register, "--json")
    assert after.exit_code == 0 and _linked(json.loads(after.stdout))


def test_catalog_check_refuses_a_broken_rules_file(catalog_copy: Path) -> None:
    """It names dedupe_rules.yaml, the place and the fix for a bad pattern or facet."""
    rules = catalog_copy / "dedupe_rules.yaml"
    text = rules.read_text(encoding="utf-8")
    text = text.replace("      hcai_mrsa: ['mrsa']", "      hcai_mrsa: ['mrsa(']", 1)
    text = text.replace("    then: {clock_start: referral}", "    then: {clock: referral}", 1)
    rules.write_text(text, encoding="utf-8")
    result = run("catalog", "check", "--catalog", catalog_copy, "--json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    where = {(p["file"], p["field"]) for p in problems}
    assert ("dedupe_rules.yaml", "facets.topic.values.hcai_mrsa[0]") in where
    assert any(p["field"].startswith("implies[") and p["value"] == "clock" for p in problems)
    dedupe = run("requests", "dedupe", "--catalog", catalog_copy)
    assert dedupe.exit_code == 1 and "dedupe_rules.yaml" in dedupe.output


def test_the_rules_schema_is_generated(tmp_path: Path) -> None:
    """It writes schemas/catalog/dedupe_rules.schema.json from the rules model."""
    root = Path(__file__).resolve().parents[3]
    out = tmp_path / "schemas"
    assert run("catalog", "generate", "--catalog", root / "catalog", "--out", out).exit_code == 0
    schema = json.loads((out / "catalog" / "dedupe_rules.schema.json").read_text())
    assert "facets" in schema["properties"] and "implies" in schema["properties"]
