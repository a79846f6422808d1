"""Load the catalogue folder: read and validate every file, then run the cross-reference checks
(`collectonce.catalog.checks`).

`load_catalog` collects *all* problems before raising, so one run of `collectonce catalog check`
lists everything that needs fixing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from collectonce.catalog.catalogue import Catalog
from collectonce.catalog.checks import (
    check_aggregation,
    check_levels,
    check_references,
    region_warnings,
)
from collectonce.catalog.errors import CatalogInvalid, CatalogProblem
from collectonce.catalog.layouts import load_layouts
from collectonce.catalog.models import CatalogInfo, Levels, Metric, Request, Targets
from collectonce.catalog.reading import read_yaml, validate
from collectonce.catalog.registers import load_providers, load_requesters

__all__ = ["Catalog", "load_catalog"]


def _fingerprint(seen: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for rel in sorted(seen):
        digest.update(rel.encode())
        digest.update(seen[rel])
    return digest.hexdigest()[:16]


def _duplicate(rel: str, kind: str, code: str, files: dict[str, str], fix: str) -> CatalogProblem:
    """A second file defining a code already loaded from `files[code]`."""
    return CatalogProblem(
        rel, "code", code, f"duplicate {kind} code, also defined in {files[code]}", fix
    )


def load_catalog(root: Path | str, *, check_extras: bool = True) -> Catalog:
    """Load and check the catalogue at `root`; raise CatalogInvalid listing every problem.

    ``check_extras=False`` skips the optional files other stages keep in the catalogue (the
    dedupe rules): submitting a file does not read them, `collectonce catalog check` does.
    """
    root = Path(root)
    problems: list[CatalogProblem] = []
    seen: dict[str, bytes] = {}
    if not root.is_dir():
        raise CatalogInvalid(
            [
                CatalogProblem(
                    str(root),
                    "",
                    "",
                    "is not a catalogue folder",
                    "pass --catalog DIR pointing at the folder holding catalog.yaml",
                )
            ]
        )

    info_path = root / "catalog.yaml"
    info = None
    if info_path.exists():
        raw_info = read_yaml(info_path, root, problems, seen)
        info = validate(CatalogInfo, raw_info, "catalog.yaml", problems)
    else:
        problems.append(
            CatalogProblem(
                "catalog.yaml", "", "", "is missing", "add catalog.yaml with name and version"
            )
        )

    for folder in ("metrics", "requests"):
        for path in sorted((root / folder).rglob("*.yml")):
            rel = path.relative_to(root).as_posix()
            problems.append(
                CatalogProblem(
                    rel,
                    "",
                    "",
                    "is not read: catalogue files end in .yaml",
                    f"rename it to {path.with_suffix('.yaml').name}",
                )
            )

    before = len(problems)
    requesters = load_requesters(root, problems, seen)
    requesters_ok = len(problems) == before

    metrics: dict[str, Metric] = {}
    metric_files: dict[str, str] = {}
    #: Codes of metric files that exist but could not be loaded (their problems are reported).
    broken: set[str] = {p.stem for p in (root / "metrics").rglob("*.yml")}
    metric_paths = sorted((root / "metrics").rglob("*.yaml"))
    if not metric_paths:
        problems.append(
            CatalogProblem(
                "metrics/",
                "",
                "",
                "holds no metric files",
                "add one <code>.yaml file per metric under metrics/<domain>/",
            )
        )
    for path in metric_paths:
        rel = path.relative_to(root).as_posix()
        data = read_yaml(path, root, problems, seen)
        if isinstance(data, dict):
            data = {**data, "domain": data.get("domain") or path.parent.name}
        metric = validate(Metric, data, rel, problems)
        if metric is None:
            broken.add(path.stem)
            if isinstance(data, dict) and isinstance(data.get("code"), str):
                broken.add(data["code"])
            continue
        if metric.code != path.stem:
            problems.append(
                CatalogProblem(
                    rel,
                    "code",
                    metric.code,
                    "the code differs from the file name",
                    f"rename the file to {metric.code}.yaml or set code: {path.stem}",
                )
            )
        if metric.code in metrics:
            problems.append(
                _duplicate(
                    rel, "metric", metric.code, metric_files, "keep one definition per metric code"
                )
            )
            continue
        metrics[metric.code] = metric
        metric_files[metric.code] = rel

    requests: dict[str, Request] = {}
    request_files: dict[str, str] = {}
    request_paths = sorted((root / "requests").rglob("*.yaml"))
    for path in request_paths:
        rel = path.relative_to(root).as_posix()
        request = validate(Request, read_yaml(path, root, problems, seen), rel, problems)
        if request is None:
            continue
        if request.code in requests:
            problems.append(
                _duplicate(
                    rel, "request", request.code, request_files, "give each request a unique code"
                )
            )
            continue
        requests[request.code] = request
        request_files[request.code] = rel

    before = len(problems)
    providers = load_providers(root, problems)
    providers_ok = len(problems) == before or bool(providers)
    if (root / "providers.csv").exists():
        seen["providers.csv"] = (root / "providers.csv").read_bytes()
    targets = Targets()
    targets_path = root / "targets.yaml"
    if targets_path.exists():
        targets = (
            validate(
                Targets, read_yaml(targets_path, root, problems, seen), "targets.yaml", problems
            )
            or Targets()
        )

    levels = Levels()
    levels_path = root / "levels.yaml"
    if levels_path.exists():
        raw_levels = read_yaml(levels_path, root, problems, seen)
        levels = validate(Levels, raw_levels or {}, "levels.yaml", problems) or Levels()
    layouts, layout_files = load_layouts(
        root,
        (set(metrics) | broken) if metric_paths else None,
        problems,
        lambda path: read_yaml(path, root, problems, seen),
        lambda model, data, rel: validate(model, data, rel, problems),
    )
    problems.extend(check_aggregation(metrics, metric_files))
    problems.extend(check_levels(requests, request_files, metrics))
    warnings = tuple(region_warnings(providers, levels))

    problems.extend(
        check_references(
            metrics,
            metric_files,
            requesters if requesters_ok else None,
            requests,
            request_files,
            broken_metrics=broken if metric_paths else None,
        )
    )
    peer_groups = {p.peer_group for p in providers.values()}
    for code, request in requests.items():
        if request.respondents == "all":
            continue
        if not request.respondents:
            problems.append(
                CatalogProblem(
                    request_files[code],
                    "respondents",
                    "[]",
                    "names no peer group, so no provider answers the request",
                    "use `all` or list peer groups from providers.csv",
                )
            )
        if not providers_ok:
            continue
        for group in request.respondents:
            if group not in peer_groups:
                problems.append(
                    CatalogProblem(
                        request_files[code],
                        "respondents",
                        group,
                        "names a peer group no provider belongs to",
                        f"use `all` or one of: {', '.join(sorted(peer_groups))}",
                    )
                )

    problems.extend(_extra_checks(root, seen, check=check_extras))

    if problems or info is None:
        raise CatalogInvalid(problems)
    return Catalog(
        root=root,
        info=info,
        metrics=metrics,
        requesters=requesters,
        requests=requests,
        providers=providers,
        targets=targets,
        fingerprint=_fingerprint(seen),
        metric_files=metric_files,
        request_files=request_files,
        levels=levels,
        layouts=layouts,
        layout_files=layout_files,
        warnings=warnings,
    )


#: Optional catalogue files owned by other stages: (file, module, checking function).
_EXTRA_FILES = (("dedupe_rules.yaml", "collectonce.dedupe.rules", "check_rules_file"),)


def _extra_checks(root: Path, seen: dict[str, bytes], *, check: bool) -> list[CatalogProblem]:
    """Check the optional files other stages keep in the catalogue (e.g. the dedupe rules);
    unchecked (``check=False``) they still count in the fingerprint."""
    found: list[CatalogProblem] = []
    for name, module, attr in _EXTRA_FILES:
        path = root / name
        if not path.exists():
            continue
        seen[name] = path.read_bytes()
        if check:
            found.extend(getattr(__import__(module, fromlist=[attr]), attr)(root))
    return found
