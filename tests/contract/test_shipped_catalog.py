"""Contract tests on the catalogue that ships: what every other stage relies on."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from collectonce.cli import app

REQUIRED = [
    "ae_attendances_type1",
    "ae_breaches_4hr_type1",
    "ae_emergency_admissions",
    "rtt_incomplete_pathways",
    "rtt_incomplete_within_18wks",
    "staff_sickness_absence_rate",
    "never_events",
    "cdiff_cases",
]


def test_required_codes_exist_and_are_collected(shipped_catalog) -> None:
    """The codes the shared data and test submissions use exist, active and collected."""
    collected = {m.code for m in shipped_catalog.collected_metrics}
    for code in REQUIRED:
        assert code in collected, code


def test_size_and_shape(shipped_catalog) -> None:
    """At least 40 metrics, 6 requests from 4 requesters, monthly and quarterly."""
    assert len(shipped_catalog.metrics) >= 40
    assert len(shipped_catalog.requests) >= 6
    assert len({r.requester for r in shipped_catalog.requests.values()}) >= 4
    freqs = {r.frequency for r in shipped_catalog.requests.values()}
    assert {"month", "quarter"} <= freqs


def test_every_metric_file_is_complete(shipped_catalog) -> None:
    """Each metric says what it is, why it is collected, and how it is versioned."""
    for metric in shipped_catalog.metrics.values():
        assert len(metric.definition) > 30, metric.code
        assert len(metric.why_collected) > 20, metric.code
        assert metric.status.effective_from is not None
        if metric.unit == "percent" and not metric.is_derived:
            assert metric.valid.max == 100, metric.code


def test_ratios_are_derived_from_collected_metrics(shipped_catalog) -> None:
    """Derived metrics are computed from metrics that providers submit."""
    derived = [m for m in shipped_catalog.metrics.values() if m.is_derived]
    assert len(derived) >= 5
    for metric in derived:
        assert metric.unit in {"percent", "rate"}, metric.code
        assert shipped_catalog.collected_inputs(metric.code)


def test_requests_overlap_like_real_life(shipped_catalog) -> None:
    """The same A&E figures are asked for by three or more bodies, under their own codes."""
    users = shipped_catalog.items_by_metric["ae_attendances_type1"]
    requesters = {request.requester for request, _ in users}
    assert len(requesters) >= 3
    codes = {item.their_code for _, item in users}
    assert len(codes) >= 3


def test_many_to_many_and_derived_items(shipped_catalog) -> None:
    """Some item needs several metrics, some metric serves several items, some item is derived."""
    items = [i for r in shipped_catalog.requests.values() for i in r.items]
    assert any(len(i.metric_codes) > 1 for i in items)
    per_metric = Counter(c for i in items for c in i.metric_codes)
    assert per_metric.most_common(1)[0][1] >= 3
    assert any(shipped_catalog.metrics[c].is_derived for i in items for c in i.metric_codes)
    quarterly = [r for r in shipped_catalog.requests.values() if r.frequency == "quarter"]
    assert any(i.transform for r in quarterly for i in r.items)


def test_providers_cover_the_sample_data(shipped_catalog) -> None:
    """Every organisation in the bundled A&E data is a known provider with a peer group."""
    root = Path(__file__).resolve().parents[2]
    import csv

    with (root / "data" / "ae_attendances.csv").open() as handle:
        codes = {row["org_code"] for row in csv.DictReader(handle)}
    assert codes <= set(shipped_catalog.providers)
    assert all(p.peer_group for p in shipped_catalog.providers.values())


def test_targets_are_declared(shipped_catalog) -> None:
    """Burden targets exist for the headline measures."""
    measures = {t.measure for t in shipped_catalog.targets.targets}
    assert "hours_reduction_pct" in measures


def test_schemas_are_up_to_date(shipped_catalog_dir: Path) -> None:
    """The committed schemas/ matches what the catalogue generates."""
    root = shipped_catalog_dir.parent
    result = CliRunner().invoke(
        app,
        [
            "catalog",
            "generate",
            "--check",
            "--catalog",
            str(shipped_catalog_dir),
            "--out",
            str(root / "schemas"),
        ],
    )
    assert result.exit_code == 0, result.output


def test_one_bad_metric_code_fails_clearly(tmp_path: Path, shipped_catalog_dir: Path) -> None:
    """A copy with one bad metric code fails the check with the file named."""
    import shutil

    dest = tmp_path / "catalog"
    shutil.copytree(shipped_catalog_dir, dest)
    path = next(dest.glob("requests/*/nhse_ae_monthly.yaml"))
    path.write_text(path.read_text().replace("ae_breaches_4hr_type1", "ae_breaches_4hr_typ1", 1))
    result = CliRunner().invoke(app, ["catalog", "check", "--catalog", str(dest)])
    assert result.exit_code == 1
    assert "nhse_ae_monthly.yaml" in result.output
    assert "ae_breaches_4hr_typ1" in result.output


def test_one_bad_metric_code_is_one_problem_with_its_fix(
    tmp_path: Path, shipped_catalog_dir: Path
) -> None:
    """A mistyped code, in a request item or in a metric file, is one problem with a fix."""
    import json
    import shutil

    for target, old, new in (
        ("requests/*/nhse_ae_monthly.yaml", "metric: ae_attendances_type1", "metric: ae_attend"),
        ("metrics/*/never_events.yaml", "code: never_events", "code: Never-Events"),
    ):
        dest = tmp_path / target.split("/")[-1]
        shutil.copytree(shipped_catalog_dir, dest)
        path = next(dest.glob(target))
        path.write_text(path.read_text().replace(old, new, 1))
        result = CliRunner().invoke(app, ["catalog", "check", "--catalog", str(dest), "--json"])
        assert result.exit_code == 1
        (problem,) = json.loads(result.stdout)["problems"]
        assert problem["file"] == path.relative_to(dest).as_posix()
        assert problem["field"] and problem["value"] and problem["fix"]


def _codes_in(node: object) -> set[str]:
    """Every snake_case word in a parsed YAML value (keys and values)."""
    if isinstance(node, dict):
        return {w for k, v in node.items() for w in _codes_in(k) | _codes_in(v)}
    if isinstance(node, list):
        return {w for v in node for w in _codes_in(v)}
    return {node} if isinstance(node, str) and node.replace("_", "").isalnum() else set()


def test_every_metric_code_the_built_in_layouts_use_is_collected(shipped_catalog) -> None:
    """The A&E layouts read by department type and as NHS England publishes them, as their YAML
    files say, and the demo's files, store only metrics the shipped catalogue collects; and
    every layout file under catalog/layouts/ is one the catalogue loaded."""
    import yaml

    from collectonce.demo_data import DemoMetrics, headline_metric

    layouts = sorted((shipped_catalog.root / "layouts").glob("*.yaml"))
    assert {p.name for p in layouts} >= {
        "nhse_ae_by_department_type.yaml",
        "nhse_ae_published_monthly.yaml",
    }
    assert sorted(shipped_catalog.layout_files.values()) == [
        p.relative_to(shipped_catalog.root).as_posix() for p in layouts
    ]
    used: set[str] = set()
    for path in layouts:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data["layout"] == "nhse_ae_by_department_type":
            used |= {c for m in data["measures"].values() for c in m["metrics"].values()}
        else:
            used |= set(data["metrics"])
    # a code-shaped word in a layout file that is neither a column, a measure nor a heading is
    # a metric code, and must be one the catalogue knows
    assert used and used <= _codes_in([yaml.safe_load(p.read_text()) for p in layouts])
    demo = DemoMetrics.of(shipped_catalog)
    used |= set(demo.mapping.values()) | {demo.attendances, demo.breaches, demo.admissions}
    collected = {m.code for m in shipped_catalog.collected_metrics}
    assert not used - collected, sorted(used - collected)
    assert demo.misspelt not in shipped_catalog.metrics
    assert headline_metric(shipped_catalog) in shipped_catalog.metrics


def test_no_metric_code_is_written_into_the_library(shipped_catalog) -> None:
    """The catalogue is the only truth: no catalogue metric code appears as a literal in the
    library's code (docstrings and comments may quote one as an example)."""
    import ast

    src = Path(__file__).resolve().parents[2] / "src" / "collectonce"
    codes = set(shipped_catalog.metrics)
    found = []
    for path in sorted(src.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if id(node) in docstrings:
                continue
            for code in sorted(set(re.findall(r"[a-z][a-z0-9_]*", node.value)) & codes):
                found.append(f"{path.relative_to(src)}:{node.lineno}: {code}")
    assert not found, found
