"""Contract tests on the catalogue that ships: what every other stage relies on."""

from __future__ import annotations

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


def test_every_metric_code_the_built_in_layouts_use_is_collected(shipped_catalog) -> None:
    """The A&E layouts read by department type and as NHS England publishes them, and the demo's
    files, store only metrics the shipped catalogue collects."""
    from collectonce import demo_data
    from collectonce.ingest import department_types, published_ae

    used = (
        set(department_types.METRICS.values())
        | set(published_ae.METRICS)
        | set(demo_data.AE_METRICS.values())
        | {demo_data.ADMISSIONS_METRIC}
    )
    collected = {m.code for m in shipped_catalog.collected_metrics}
    assert used and not used - collected, sorted(used - collected)
