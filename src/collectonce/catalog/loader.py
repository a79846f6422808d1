"""Load the catalogue folder: read and validate every file, then run the cross-reference checks
(`collectonce.catalog.checks`).

`load_catalog` collects *all* problems before raising, so one run of `collectonce catalog check`
lists everything that needs fixing.
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from collectonce.catalog.checks import (
    check_aggregation,
    check_levels,
    check_references,
    region_warnings,
)
from collectonce.catalog.errors import CatalogInvalid, CatalogProblem
from collectonce.catalog.layouts import Layout, load_layouts
from collectonce.catalog.models import (
    CatalogInfo,
    Item,
    Levels,
    Metric,
    Provider,
    Request,
    Requester,
    Targets,
)
from collectonce.catalog.suggest import suggest_code
from collectonce.errors import CatalogError

#: libyaml's safe loader when available: ten times faster than the pure-Python one.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(CatalogError, yaml.YAMLError):
    """A key given twice in one mapping: YAML would silently keep the last one."""

    def __init__(self, key: str, mark: Any, first: Any) -> None:
        super().__init__(key)
        self.problem = (
            f"the key `{key}` appears twice in one mapping (first on line {first.line + 1})"
        )
        self.problem_mark = mark
        self.fix = f"keep one `{key}:` line and delete the other"


class _CatalogLoader(_YAML_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader, refusing duplicate keys and leaving impossible dates to the models."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[str, Any] = {}
        for key_node, _value in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in first:
                    raise _DuplicateKey(key_node.value, key_node.start_mark, first[key_node.value])
                first[key_node.value] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def construct_tolerant_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)  # e.g. 2016-13-01: the model names the field


_CatalogLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _CatalogLoader.construct_tolerant_timestamp
)

#: What `_read_yaml` returns for a file it could not read or parse (already reported).
UNREADABLE: Any = object()

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
    "greater_than": "write a positive number",
    "item_not_mapped": (
        "add `metric: <catalogue code>` (see `collectonce requests suggest`), or "
        '`unmapped_reason: "why the catalogue does not hold it"`'
    ),
    "item_mapped_twice": "keep one of them: an unmapped item has no metric",
    "expression_syntax": "write metric codes joined by + or -, e.g. `a + b - c`",
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
    levels: Levels = field(default_factory=Levels)
    #: The file layouts mapped through the catalogue (``layouts/*.yaml``), by layout name.
    layouts: dict[str, Layout] = field(default_factory=dict)
    layout_files: dict[str, str] = field(default_factory=dict)
    #: Problems that do not stop the catalogue being used (e.g. providers with no region).
    warnings: tuple[CatalogProblem, ...] = ()

    @property
    def version(self) -> str:
        return self.info.version

    @cached_property
    def regions(self) -> dict[str, list[str]]:
        """Each region's providers (ODS codes, sorted); providers with no region are listed
        under the catalogue's unassigned label."""
        out: dict[str, list[str]] = {}
        for code in sorted(self.providers):
            region = self.providers[code].region or self.levels.unassigned_label
            out.setdefault(region, []).append(code)
        return dict(sorted(out.items()))

    @cached_property
    def icbs(self) -> dict[str, list[str]]:
        """Each integrated care board's providers, for providers.csv rows that name one
        (empty when none does); providers with none are under the unassigned label."""
        if not any(p.icb for p in self.providers.values()):
            return {}
        out: dict[str, list[str]] = {}
        for code in sorted(self.providers):
            icb = self.providers[code].icb or self.levels.unassigned_label
            out.setdefault(icb, []).append(code)
        return dict(sorted(out.items()))

    def icb_of(self, ods: str) -> str:
        """The provider's integrated care board, or the unassigned label when it has none."""
        provider = self.providers.get(ods)
        return (provider.icb if provider else "") or self.levels.unassigned_label

    def region_of(self, ods: str) -> str:
        """The provider's region, or the unassigned label when it has none."""
        provider = self.providers.get(ods)
        return (provider.region if provider else "") or self.levels.unassigned_label

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

    @cached_property
    def _inputs(self) -> dict[str, tuple[str, ...]]:
        """Each metric's collected inputs, worked out once (derived metrics may nest)."""
        out: dict[str, tuple[str, ...]] = {}

        def resolve(code: str) -> tuple[str, ...]:
            if code not in out:
                metric = self.metrics[code]
                if not metric.derived:
                    out[code] = (code,)
                else:
                    found: dict[str, None] = {}
                    for dep in metric.derived.inputs:
                        found.update(dict.fromkeys(resolve(dep)))
                    out[code] = tuple(found)
            return out[code]

        for code in self.metrics:
            resolve(code)
        return out

    def collected_inputs(self, code: str) -> list[str]:
        """The collected metrics a metric rests on (itself when collected)."""
        return list(self._inputs[code])

    @cached_property
    def _users(self) -> dict[str, frozenset[str]]:
        users: dict[str, set[str]] = defaultdict(set)
        for code, uses in self.items_by_metric.items():
            direct = {request.requester for request, _item in uses}
            users[code] |= direct
            for base in self._inputs.get(code, ()):
                users[base] |= direct
        return {code: frozenset(found) for code, found in users.items()}

    def requesters_of(self, code: str) -> list[str]:
        """Requester codes that use a metric, directly or through a derived metric built on it."""
        return sorted(self._users.get(code, ()))

    def requests_for(self, provider: Provider) -> list[Request]:
        """The requests a provider must answer (a request made at a region or England is served
        from the roll-ups and asks nothing of providers)."""
        return [
            r
            for r in self.requests.values()
            if r.level == "provider"
            and (r.respondents == "all" or provider.peer_group in r.respondents)
        ]

    def respondents(self, request: Request) -> list[Provider]:
        return [p for p in self.providers.values() if request in self.requests_for(p)]


def _read_yaml(
    path: Path, root: Path, problems: list[CatalogProblem], seen: dict[str, bytes] | None = None
) -> Any:
    """The parsed file, or UNREADABLE after reporting why it cannot be read or parsed."""
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
        return UNREADABLE
    try:
        return yaml.load(text, Loader=_CatalogLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fix = getattr(exc, "fix", None) or (
            "check indentation and quoting at that position (quote values containing ': ')"
        )
        problems.append(CatalogProblem(rel, where, "", f"is not valid YAML: {reason}", fix))
        return UNREADABLE
    except Exception as exc:  # a catalogue file must never end in a traceback
        problems.append(
            CatalogProblem(
                rel, "", "", f"cannot be parsed ({exc})", "check the file against catalog/README.md"
            )
        )
        return UNREADABLE


M = TypeVar("M", bound=BaseModel)


def _location(loc: tuple[Any, ...], data: Any) -> str:
    """`items[3] (X1).metric` from pydantic's ("items", 3, "metric"), naming the item's code."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list | tuple) and part < len(node) else None
            if isinstance(node, dict) and node.get("their_code") not in (None, ""):
                out += f" ({node['their_code']})"
        else:
            out += f".{part}"
            node = node.get(part) if isinstance(node, dict) else None
    return out.lstrip(".")


def _validate(
    model: type[M], data: Any, rel: str, problems: list[CatalogProblem], prefix: str = ""
) -> M | None:
    if data is UNREADABLE:
        return None
    if data is None and not prefix:
        problems.append(
            CatalogProblem(
                rel, "", "", "is empty", "write the fields described in catalog/README.md"
            )
        )
        return None
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
            loc = _location(tuple(err["loc"]), data)
            field_name = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
            given = err.get("input")
            value = "" if err["type"] == "missing" or isinstance(given, dict) else repr(given)
            message = err["msg"].removeprefix("Value error, ")
            fix = _FIXES.get(err["type"], "correct the value")
            if err["type"] == "string_pattern_mismatch":
                pattern = str((err.get("ctx") or {}).get("pattern", ""))
                if "A-Z" in pattern:
                    message = "is not an ODS code"
                    fix = "use an ODS code: 3 to 6 upper-case letters and digits"
                else:
                    message = "is not a valid code"
                    fix = (
                        "use lower-case snake_case (letters, digits and underscores, starting "
                        f"with a letter), e.g. {suggest_code(given)}"
                    )
            if err["type"] == "literal_error":
                fix = f"use {message.removeprefix('Input should be ')}"
            problems.append(CatalogProblem(rel, field_name, value[:80], message, fix))
        return None


def _fingerprint(seen: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for rel in sorted(seen):
        digest.update(rel.encode())
        digest.update(seen[rel])
    return digest.hexdigest()[:16]


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
        raw_info = _read_yaml(info_path, root, problems, seen)
        info = _validate(CatalogInfo, raw_info, "catalog.yaml", problems)
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
    requesters = _load_requesters(root, problems, seen)
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
        data = _read_yaml(path, root, problems, seen)
        if isinstance(data, dict):
            data = {**data, "domain": data.get("domain") or path.parent.name}
        metric = _validate(Metric, data, rel, problems)
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

    before = len(problems)
    providers = _load_providers(root, problems)
    providers_ok = len(problems) == before or bool(providers)
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

    levels = Levels()
    levels_path = root / "levels.yaml"
    if levels_path.exists():
        raw_levels = _read_yaml(levels_path, root, problems, seen)
        levels = _validate(Levels, raw_levels or {}, "levels.yaml", problems) or Levels()
    layouts, layout_files = load_layouts(
        root,
        (set(metrics) | broken) if metric_paths else None,
        problems,
        lambda path: _read_yaml(path, root, problems, seen),
        lambda model, data, rel: _validate(model, data, rel, problems),
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


def _load_requesters(
    root: Path, problems: list[CatalogProblem], seen: dict[str, bytes]
) -> dict[str, Requester]:
    path = root / "requesters.yaml"
    fix = "write `requesters:` then one `- {code: ..., name: ...}` line per requester"
    if not path.exists():
        problems.append(
            CatalogProblem("requesters.yaml", "", "", "is missing", f"add requesters.yaml: {fix}")
        )
        return {}
    raw = _read_yaml(path, root, problems, seen)
    if raw is UNREADABLE:
        return {}
    entries = raw.get("requesters") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        problems.append(
            CatalogProblem(
                "requesters.yaml",
                "requesters",
                "" if entries is None else repr(entries)[:80],
                "must be a non-empty list of requesters",
                fix,
            )
        )
        return {}
    extra = sorted(str(k) for k in raw if k != "requesters")
    if extra:
        problems.append(
            CatalogProblem(
                "requesters.yaml",
                ", ".join(extra),
                "",
                "is not a known field",
                "remove it: the file holds only the `requesters:` list",
            )
        )
    requesters: dict[str, Requester] = {}
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
    return requesters


PROVIDER_COLUMNS = ("ods_code", "name", "peer_group", "region", "icb")
_REQUIRED_PROVIDER_COLUMNS = ("ods_code", "peer_group")


def _load_providers(root: Path, problems: list[CatalogProblem]) -> dict[str, Provider]:
    path = root / "providers.csv"
    providers: dict[str, Provider] = {}
    header_fix = f"start the file with the header {','.join(PROVIDER_COLUMNS)}"
    if not path.exists():
        problems.append(
            CatalogProblem(
                "providers.csv", "", "", "is missing", f"add providers.csv; {header_fix}"
            )
        )
        return providers
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(
            CatalogProblem(
                "providers.csv", "", "", f"cannot be read ({exc})", "save the file as UTF-8 CSV"
            )
        )
        return providers
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in reader.fieldnames or [] if c is not None]
    missing = [c for c in _REQUIRED_PROVIDER_COLUMNS if c not in columns]
    if missing:
        problems.append(
            CatalogProblem(
                "providers.csv",
                "header",
                ",".join(columns),
                f"lacks the column(s) {', '.join(missing)}",
                header_fix,
            )
        )
        return providers
    unknown = [c for c in columns if c not in PROVIDER_COLUMNS]
    if unknown:
        problems.append(
            CatalogProblem(
                "providers.csv",
                "header",
                ",".join(unknown),
                "has column(s) the catalogue does not use",
                f"remove them; the columns are {','.join(PROVIDER_COLUMNS)}",
            )
        )
    for line, row in enumerate(reader, start=2):
        clean = {
            k.strip(): (v or "").strip()
            for k, v in row.items()
            if k and k.strip() in PROVIDER_COLUMNS
        }
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


#: Units one item may convert to by a `transform: {scale: N}`: size of each in a common base.
