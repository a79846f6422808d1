"""Load the catalogue folder and check every file and every cross-reference.

`load_catalog` collects *all* problems before raising, so one run of `collectonce catalog check`
lists everything that needs fixing.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from collectonce.catalog.errors import CatalogInvalid, CatalogProblem
from collectonce.catalog.models import (
    PERIODS_PER_YEAR,
    CatalogInfo,
    Item,
    Metric,
    Provider,
    Request,
    Requester,
    Targets,
)

#: libyaml's safe loader when available: ten times faster than the pure-Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_FIXES = {
    "missing": "add the field",
    "extra_forbidden": "remove the field, or check its spelling against catalog/README.md",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use lower-case snake_case letters, digits and underscores",
    "date_from_datetime_parsing": "write the date as YYYY-MM-DD",
    "date_parsing": "write the date as YYYY-MM-DD",
    "float_parsing": "write a number",
    "int_parsing": "write a whole number",
    "bool_parsing": "write true or false",
    "too_short": "add at least one entry",
    "string_too_short": "write a longer, meaningful text",
}


@dataclass(frozen=True)
class Catalog:
    """The loaded catalogue: the single source of truth for everything downstream."""

    root: Path
    info: CatalogInfo
    metrics: dict[str, Metric]
    requesters: dict[str, Requester]
    requests: dict[str, Request]
    providers: dict[str, Provider]
    targets: Targets
    fingerprint: str
    metric_files: dict[str, str] = field(default_factory=dict)
    request_files: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.info.version

    @cached_property
    def collected_metrics(self) -> list[Metric]:
        """Metrics a provider submits: active and not derived."""
        return [m for m in self.metrics.values() if m.is_active and not m.is_derived]

    @cached_property
    def derived_order(self) -> list[Metric]:
        """Derived metrics in an order where inputs come before the metrics built on them."""
        order: list[Metric] = []
        seen: set[str] = set()

        def visit(code: str) -> None:
            if code in seen:
                return
            seen.add(code)
            metric = self.metrics[code]
            if metric.derived:
                for dep in metric.derived.inputs:
                    visit(dep)
                order.append(metric)

        for code in sorted(self.metrics):
            visit(code)
        return [m for m in order if m.is_active]

    @cached_property
    def items_by_metric(self) -> dict[str, list[tuple[Request, Item]]]:
        """Every request item that a metric serves (one metric, many items)."""
        out: dict[str, list[tuple[Request, Item]]] = defaultdict(list)
        for request in self.requests.values():
            for item in request.items:
                for code in item.metric_codes:
                    out[code].append((request, item))
        return dict(out)

    def collected_inputs(self, code: str) -> list[str]:
        """The collected metrics a metric rests on (itself when collected)."""
        metric = self.metrics[code]
        if not metric.derived:
            return [code]
        out: list[str] = []
        for dep in metric.derived.inputs:
            out.extend(c for c in self.collected_inputs(dep) if c not in out)
        return out

    def requesters_of(self, code: str) -> list[str]:
        """Requester codes that use a metric, directly or through a derived metric built on it."""
        users: set[str] = set()
        for request, _item in self.items_by_metric.get(code, []):
            users.add(request.requester)
        for metric in self.metrics.values():
            if metric.code != code and code in self.collected_inputs(metric.code):
                for request, _item in self.items_by_metric.get(metric.code, []):
                    users.add(request.requester)
        return sorted(users)

    def requests_for(self, provider: Provider) -> list[Request]:
        """The requests a provider must answer."""
        return [
            r
            for r in self.requests.values()
            if r.respondents == "all" or provider.peer_group in r.respondents
        ]

    def respondents(self, request: Request) -> list[Provider]:
        return [p for p in self.providers.values() if request in self.requests_for(p)]


def _read_yaml(
    path: Path, root: Path, problems: list[CatalogProblem], seen: dict[str, bytes] | None = None
) -> Any:
    rel = path.relative_to(root).as_posix()
    try:
        raw = path.read_bytes()
        if seen is not None:
            seen[rel] = raw
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(
            CatalogProblem(rel, "", "", f"cannot be read ({exc})", "save the file as UTF-8 text")
        )
        return None
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.append(
            CatalogProblem(
                rel,
                where,
                "",
                f"is not valid YAML: {reason}",
                "check indentation and quoting at that position (quote values containing ': ')",
            )
        )
        return None


M = TypeVar("M", bound=BaseModel)


def _validate(
    model: type[M], data: Any, rel: str, problems: list[CatalogProblem], prefix: str = ""
) -> M | None:
    if not isinstance(data, dict):
        problems.append(
            CatalogProblem(
                rel,
                prefix,
                type(data).__name__,
                "must be a mapping of field: value",
                "write one field per line as `name: value`",
            )
        )
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            loc = loc.lstrip(".")
            field_name = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
            value = "" if err["type"] == "missing" else repr(err.get("input"))[:80]
            message = err["msg"].removeprefix("Value error, ")
            fix = _FIXES.get(err["type"], "correct the value")
            if err["type"] == "string_pattern_mismatch" and "A-Z" in str(err.get("ctx", "")):
                fix = "use an ODS code: 3 to 6 upper-case letters and digits"
            if err["type"] == "literal_error":
                fix = f"use {message.removeprefix('Input should be ')}"
            problems.append(CatalogProblem(rel, field_name, value, message, fix))
        return None


def _fingerprint(seen: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for rel in sorted(seen):
        digest.update(rel.encode())
        digest.update(seen[rel])
    return digest.hexdigest()[:16]


def load_catalog(root: Path | str) -> Catalog:
    """Load and check the catalogue at `root`; raise CatalogInvalid listing every problem."""
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
        raw_info = _read_yaml(info_path, root, problems, seen)
        info = _validate(CatalogInfo, raw_info, "catalog.yaml", problems)
    else:
        problems.append(
            CatalogProblem(
                "catalog.yaml", "", "", "is missing", "add catalog.yaml with name and version"
            )
        )

    requesters: dict[str, Requester] = {}
    req_path = root / "requesters.yaml"
    raw = _read_yaml(req_path, root, problems, seen) if req_path.exists() else None
    if raw is None and not req_path.exists():
        problems.append(
            CatalogProblem(
                "requesters.yaml", "", "", "is missing", "add requesters.yaml listing requesters"
            )
        )
    entries = (raw or {}).get("requesters", []) if isinstance(raw, dict) else []
    for i, entry in enumerate(entries):
        model = _validate(Requester, entry, "requesters.yaml", problems, f"requesters[{i}]")
        if model is None:
            continue
        if model.code in requesters:
            problems.append(
                CatalogProblem(
                    "requesters.yaml",
                    f"requesters[{i}].code",
                    model.code,
                    "duplicate requester code",
                    "give each requester a unique code",
                )
            )
        requesters[model.code] = model

    metrics: dict[str, Metric] = {}
    metric_files: dict[str, str] = {}
    metric_paths = sorted((root / "metrics").rglob("*.yaml"))
    for path in metric_paths:
        rel = path.relative_to(root).as_posix()
        data = _read_yaml(path, root, problems, seen)
        if isinstance(data, dict):
            data = {**data, "domain": data.get("domain") or path.parent.name}
        metric = _validate(Metric, data, rel, problems)
        if metric is None:
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
                CatalogProblem(
                    rel,
                    "code",
                    metric.code,
                    f"duplicate metric code, also defined in {metric_files[metric.code]}",
                    "keep one definition per metric code",
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
        request = _validate(Request, _read_yaml(path, root, problems, seen), rel, problems)
        if request is None:
            continue
        if request.code in requests:
            problems.append(
                CatalogProblem(
                    rel,
                    "code",
                    request.code,
                    f"duplicate request code, also defined in {request_files[request.code]}",
                    "give each request a unique code",
                )
            )
            continue
        requests[request.code] = request
        request_files[request.code] = rel

    providers = _load_providers(root, problems)
    if (root / "providers.csv").exists():
        seen["providers.csv"] = (root / "providers.csv").read_bytes()
    targets = Targets()
    targets_path = root / "targets.yaml"
    if targets_path.exists():
        targets = (
            _validate(
                Targets, _read_yaml(targets_path, root, problems, seen), "targets.yaml", problems
            )
            or Targets()
        )

    problems.extend(check_references(metrics, metric_files, requesters, requests, request_files))
    peer_groups = {p.peer_group for p in providers.values()}
    for code, request in requests.items():
        if request.respondents != "all":
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
    )


def _load_providers(root: Path, problems: list[CatalogProblem]) -> dict[str, Provider]:
    path = root / "providers.csv"
    providers: dict[str, Provider] = {}
    if not path.exists():
        problems.append(
            CatalogProblem(
                "providers.csv",
                "",
                "",
                "is missing",
                "add providers.csv with columns ods_code,name,peer_group,region",
            )
        )
        return providers
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for line, row in enumerate(reader, start=2):
            clean = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            model = _validate(Provider, clean, "providers.csv", problems, f"row {line}")
            if model is None:
                continue
            if model.ods_code in providers:
                problems.append(
                    CatalogProblem(
                        "providers.csv",
                        f"row {line}.ods_code",
                        model.ods_code,
                        "duplicate ODS code",
                        "list each provider once",
                    )
                )
            providers[model.ods_code] = model
    return providers


def check_references(
    metrics: dict[str, Metric],
    metric_files: dict[str, str],
    requesters: dict[str, Requester],
    requests: dict[str, Request],
    request_files: dict[str, str],
) -> list[CatalogProblem]:
    """Cross-reference checks: rules, derived formulas, cycles, requesters, items and units."""
    problems: list[CatalogProblem] = []
    known = sorted(metrics)

    def unknown_metric_fix(code: str) -> str:
        close = _closest(code, known)
        return f"did you mean `{close}`?" if close else "add the metric under catalog/metrics/"

    for code, metric in metrics.items():
        rel = metric_files[code]
        for i, rule in enumerate(metric.rules):
            if rule.other not in metrics:
                problems.append(
                    CatalogProblem(
                        rel,
                        f"rules[{i}].{rule.op}",
                        rule.other,
                        "the rule names an unknown metric",
                        unknown_metric_fix(rule.other),
                    )
                )
            elif rule.other == code:
                problems.append(
                    CatalogProblem(
                        rel,
                        f"rules[{i}]",
                        rule.other,
                        "a rule compares the metric with itself",
                        "name another metric",
                    )
                )
        if metric.derived:
            if metric.rules:
                problems.append(
                    CatalogProblem(
                        rel,
                        "rules",
                        str(len(metric.rules)),
                        "a derived metric is computed, so rules on it cannot be checked on entry",
                        "put the rules on the collected metrics it is built from",
                    )
                )
            for part in ("numerator", "denominator"):
                for dep in getattr(metric.derived, part).codes:
                    if dep not in metrics:
                        problems.append(
                            CatalogProblem(
                                rel,
                                f"derived.{part}",
                                dep,
                                "the formula names an unknown metric",
                                unknown_metric_fix(dep),
                            )
                        )
                    elif metrics[dep].grain.period != metric.grain.period:
                        problems.append(
                            CatalogProblem(
                                rel,
                                f"derived.{part}",
                                dep,
                                f"the input is collected per {metrics[dep].grain.period}, "
                                f"this metric per {metric.grain.period}",
                                "derive from metrics of the same grain",
                            )
                        )

    problems.extend(_cycles(metrics, metric_files))

    for code, request in requests.items():
        rel = request_files[code]
        if request.requester not in requesters:
            problems.append(
                CatalogProblem(
                    rel,
                    "requester",
                    request.requester,
                    "unknown requester",
                    f"add it to requesters.yaml or use one of: {', '.join(sorted(requesters))}",
                )
            )
        counts = Counter(item.their_code for item in request.items)
        for i, item in enumerate(request.items):
            where = f"items[{i}] ({item.their_code})"
            if counts[item.their_code] > 1:
                problems.append(
                    CatalogProblem(
                        rel,
                        f"{where}.their_code",
                        item.their_code,
                        "the same item code appears more than once in this request",
                        "give each item of a request a unique code",
                    )
                )
            problems.extend(_check_item(rel, where, request, item, metrics, unknown_metric_fix))
    return problems


def _check_item(
    rel: str,
    where: str,
    request: Request,
    item: Item,
    metrics: dict[str, Metric],
    unknown_metric_fix: Any,
) -> list[CatalogProblem]:
    problems: list[CatalogProblem] = []
    field_name = "metric" if item.metric else "metrics"
    resolved = []
    for code in item.metric_codes:
        if code not in metrics:
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.{field_name}",
                    code,
                    "the item maps to an unknown metric",
                    unknown_metric_fix(code),
                )
            )
        else:
            resolved.append(metrics[code])
    for metric in resolved:
        if metric.status.state == "retired":
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.{field_name}",
                    metric.code,
                    "the item maps to a retired metric",
                    "map it to the metric that replaced it, or mark the item unmapped",
                )
            )
        if PERIODS_PER_YEAR[metric.grain.period] < PERIODS_PER_YEAR[request.frequency]:
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.{field_name}",
                    metric.code,
                    f"the request is {request.frequency}ly but the metric is collected per "
                    f"{metric.grain.period}",
                    "map to a metric collected at least as often as the request",
                )
            )
    if len(resolved) > 1:
        units = {m.unit for m in resolved}
        if len(units) > 1:
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.metrics",
                    ", ".join(sorted(units)),
                    "an item that sums several metrics needs them in one unit",
                    "map metrics that share a unit, or split the item",
                )
            )
        derived = [m.code for m in resolved if m.is_derived or m.unit in {"percent", "rate"}]
        if derived:
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.metrics",
                    ", ".join(derived),
                    "percentages and rates cannot be summed across metrics",
                    "map the item to one derived metric instead",
                )
            )
    if resolved:
        unit = resolved[0].unit
        scale = item.transform.scale if item.transform else 1.0
        if item.unit and item.unit != unit and scale == 1.0:
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.unit",
                    item.unit,
                    f"the item's unit conflicts with metric {resolved[0].code} ({unit})",
                    "map to a metric in the item's unit, or add transform: {scale: N} to convert",
                )
            )
        label = item.their_label.lower()
        asks_rate = "%" in label or "percent" in label or " rate" in f" {label}"
        if unit == "count" and asks_rate and not item.unit:
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.their_label",
                    item.their_label,
                    f"the item asks for a percentage or rate but {resolved[0].code} is a count",
                    "map it to the derived percentage metric, or set unit: count if right",
                )
            )
    return problems


def _cycles(metrics: dict[str, Metric], metric_files: dict[str, str]) -> list[CatalogProblem]:
    problems: list[CatalogProblem] = []
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(code: str, stack: list[str]) -> None:
        state[code] = 1
        metric = metrics[code]
        for dep in metric.derived.inputs if metric.derived else []:
            if dep not in metrics:
                continue
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    problems.append(
                        CatalogProblem(
                            metric_files[code],
                            "derived",
                            " -> ".join([*stack[stack.index(dep) :], dep]),
                            "derived metrics form a cycle",
                            "derive from collected metrics so the chain ends",
                        )
                    )
            elif state.get(dep) is None:
                visit(dep, [*stack, dep])
        state[code] = 2

    for code in sorted(metrics):
        if state.get(code) is None:
            visit(code, [code])
    return problems


def _closest(code: str, known: list[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(code, known, n=1, cutoff=0.75)
    return matches[0] if matches else None
