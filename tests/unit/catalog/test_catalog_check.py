"""The catalogue check catches each kind of mistake and says where and how to fix it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectonce.catalog import CatalogInvalid, load_catalog
from collectonce.cli import app

runner = CliRunner()


@pytest.fixture
def cat_dir(tmp_path: Path, catalog_min_dir: Path) -> Path:
    """A private, editable copy of the tiny catalogue."""
    dest = tmp_path / "catalog"
    shutil.copytree(catalog_min_dir, dest)
    return dest


def problems_of(path: Path) -> list[str]:
    with pytest.raises(CatalogInvalid) as info:
        load_catalog(path)
    return [str(p) for p in info.value.problems]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_tiny_catalogue_loads(catalog_min) -> None:
    """It loads a valid catalogue and knows which metrics are collected and which derived."""
    assert "ae_4hr_performance_type1" in catalog_min.metrics
    collected = {m.code for m in catalog_min.collected_metrics}
    assert "ae_4hr_performance_type1" not in collected
    assert "staff_ffp_recommend" not in collected  # draft, not yet collected
    assert catalog_min.requesters_of("ae_breaches_4hr_type1") == ["cqc", "nhs_england"]


def test_unknown_metric_in_request_item(cat_dir: Path) -> None:
    """It names the file, the item, the bad code and suggests the nearest real code."""
    edit(
        cat_dir / "requests/nhse_ae_monthly.yaml",
        "metric: ae_breaches_4hr_type1",
        "metric: ae_breaches_4h_type1",
    )
    (msg,) = problems_of(cat_dir)
    assert "requests/nhse_ae_monthly.yaml" in msg
    assert "items[1] (A2).metric" in msg
    assert "ae_breaches_4h_type1" in msg
    assert "did you mean `ae_breaches_4hr_type1`" in msg


def test_unit_conflict_between_item_and_metric(cat_dir: Path) -> None:
    """An item in another unit than its metric needs a scale transform."""
    edit(
        cat_dir / "requests/nhse_ae_monthly.yaml",
        "their_label: Type 1 attendances, metric: ae_attendances_type1}",
        "their_label: Type 1 attendances, metric: ae_attendances_type1, unit: gbp}",
    )
    (msg,) = problems_of(cat_dir)
    assert "unit conflicts with metric ae_attendances_type1 (count)" in msg
    assert "scale" in msg


def test_percentage_item_mapped_to_count(cat_dir: Path) -> None:
    """An item labelled as a percentage but mapped to a count is caught."""
    edit(
        cat_dir / "requests/cqc_uec_quarterly.yaml",
        "metric: ae_4hr_performance_type1",
        "metric: ae_breaches_4hr_type1",
    )
    (msg,) = problems_of(cat_dir)
    assert "asks for a percentage or rate" in msg


def test_duplicate_metric_code(cat_dir: Path) -> None:
    """Two files defining the same code are reported, naming both files."""
    src = cat_dir / "metrics/urgent_care/ae_attendances_type1.yaml"
    (cat_dir / "metrics/workforce").mkdir(exist_ok=True)
    shutil.copy(src, cat_dir / "metrics/workforce/ae_attendances_type1.yaml")
    msgs = problems_of(cat_dir)
    assert any("duplicate metric code" in m and "urgent_care" in m for m in msgs)


def test_rule_names_unknown_metric(cat_dir: Path) -> None:
    """A cross-metric rule must compare with a real metric."""
    edit(
        cat_dir / "metrics/urgent_care/ae_breaches_4hr_type1.yaml",
        "rules: [{lte: ae_attendances_type1}]",
        "rules: [{lte: ae_attendance_type1}]",
    )
    (msg,) = problems_of(cat_dir)
    assert "rules[0].lte" in msg and "unknown metric" in msg
    assert "ae_breaches_4hr_type1.yaml" in msg


def test_cycle_among_derived_metrics(cat_dir: Path) -> None:
    """Derived metrics that feed each other form a cycle, reported with the chain."""
    for name, other in (("ratio_a", "ratio_b"), ("ratio_b", "ratio_a")):
        (cat_dir / f"metrics/urgent_care/{name}.yaml").write_text(
            f"""code: {name}
label: Ratio {name}
definition: A test ratio that depends on another ratio.
why_collected: To prove cycles are caught.
unit: percent
value_type: decimal
grain: {{entity: provider, period: month}}
zero_is_significant: true
improvement_direction: neutral
derived: {{numerator: {other}, denominator: ae_attendances_type1, multiplier: 100}}
status: {{state: active, version: 1, effective_from: 2016-04-01}}
"""
        )
    (msg,) = problems_of(cat_dir)
    assert "cycle" in msg and "ratio_a -> ratio_b -> ratio_a" in msg


def test_unmapped_item_without_reason(cat_dir: Path) -> None:
    """An item with no metric must say why it is unmapped."""
    edit(
        cat_dir / "requests/cqc_uec_quarterly.yaml",
        ", unmapped_reason: Free text collected at inspection",
        "",
    )
    msgs = problems_of(cat_dir)
    assert any("items[4]" in m and "exactly one of" in m and "unmapped_reason" in m for m in msgs)


def test_malformed_yaml(cat_dir: Path) -> None:
    """Broken YAML is reported with its line, never as a traceback."""
    (cat_dir / "metrics/urgent_care/ae_emergency_admissions.yaml").write_text(
        "code: ae_emergency_admissions\nlabel: [unclosed\n"
    )
    msgs = problems_of(cat_dir)
    assert any(
        "ae_emergency_admissions.yaml: line 3" in m and "not valid YAML" in m for m in msgs
    ), msgs


def test_bad_metric_code_and_missing_field(cat_dir: Path) -> None:
    """A code that is not snake_case and a missing field are both reported with fixes."""
    path = cat_dir / "metrics/urgent_care/ae_emergency_admissions.yaml"
    edit(path, "code: ae_emergency_admissions", "code: AE-Emergency")
    edit(path, "zero_is_significant: true\n", "")
    msgs = problems_of(cat_dir)
    assert any("code" in m and "snake_case" in m for m in msgs)
    assert any("zero_is_significant" in m and "add the field" in m for m in msgs)


def test_unknown_requester_and_peer_group(cat_dir: Path) -> None:
    """A request must name a known requester and real peer groups."""
    path = cat_dir / "requests/icb_quality_monthly.yaml"
    edit(path, "requester: icb_quality", "requester: icb_qualty")
    edit(path, "respondents: [acute_large]", "respondents: [acute_huge]")
    msgs = problems_of(cat_dir)
    assert any("unknown requester" in m and "icb_qualty" in m for m in msgs)
    assert any("peer group" in m and "acute_huge" in m for m in msgs)


def test_summing_percentages_is_refused(cat_dir: Path) -> None:
    """An item that sums a rate with a count is refused."""
    edit(
        cat_dir / "requests/icb_quality_monthly.yaml",
        "metrics: [ae_attendances_type1, ae_emergency_admissions]",
        "metrics: [ae_attendances_type1, staff_sickness_absence_rate]",
    )
    msgs = problems_of(cat_dir)
    assert any("one unit" in m for m in msgs)


def test_cli_check_passes_on_valid_catalogue(catalog_min_dir: Path) -> None:
    """It exits 0 and summarises the catalogue."""
    result = runner.invoke(app, ["catalog", "check", "--catalog", str(catalog_min_dir)])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output


def test_cli_check_fails_clearly(cat_dir: Path) -> None:
    """It exits 1 with the problem listed and no traceback."""
    edit(cat_dir / "requests/nhse_ae_monthly.yaml", "metric: ae_attendances_type1", "metric: nope")
    result = runner.invoke(app, ["catalog", "check", "--catalog", str(cat_dir)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "unknown metric" in result.output


def test_cli_check_json(cat_dir: Path) -> None:
    """With --json the problems come as one object machines can read."""
    import json

    edit(cat_dir / "requests/nhse_ae_monthly.yaml", "metric: ae_attendances_type1", "metric: nope")
    result = runner.invoke(app, ["catalog", "check", "--catalog", str(cat_dir), "--json"])
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["ok"] is False
    assert body["problems"][0]["value"] == "nope"
    assert body["problems"][0]["file"] == "requests/nhse_ae_monthly.yaml"


def test_missing_catalogue_folder(tmp_path: Path) -> None:
    """A wrong --catalog path gets a one-line error."""
    result = runner.invoke(app, ["catalog", "check", "--catalog", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "not a catalogue folder" in result.output


def test_generate_check_detects_stale(tmp_path: Path, catalog_min_dir: Path) -> None:
    """`generate --check` fails until the contracts are written, then passes."""
    out = tmp_path / "schemas"
    args = ["catalog", "generate", "--catalog", str(catalog_min_dir), "--out", str(out)]
    assert runner.invoke(app, [*args, "--check"]).exit_code == 1
    assert runner.invoke(app, args).exit_code == 0
    assert (out / "arrow" / "unified.json").exists()
    assert (out / "catalog" / "metric.schema.json").exists()
    assert runner.invoke(app, [*args, "--check"]).exit_code == 0
