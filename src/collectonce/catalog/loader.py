"""Load the catalogue folder and check every file and every cross-reference.

`load_catalog` collects *all* problems before raising, so one run of `collectonce catalog check`
lists everything that needs fixing.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable
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
    Levels,
    Metric,
    Provider,
    Request,
    Requester,
    Targets,
)
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


def _suggest_code(value: object) -> str:
    """A snake_case spelling of a bad code: `AE-Attendances Type1` → `ae_attendances_type1`."""
    code = re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_")
    if code and not code[0].isalpha():
        code = f"m_{code}"
    return code or "a_code_like_this"


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
                        f"with a letter), e.g. {_suggest_code(given)}"
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
    problems.extend(_check_aggregation(metrics, metric_files))
    problems.extend(_check_levels(requests, request_files, metrics))
    warnings = tuple(_region_warnings(providers, levels))

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

    problems.extend(_extra_checks(root, seen))

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
        warnings=warnings,
    )


#: Optional catalogue files owned by other stages: (file, module, checking function).
_EXTRA_FILES = (("dedupe_rules.yaml", "collectonce.dedupe.rules", "check_rules_file"),)


def _extra_checks(root: Path, seen: dict[str, bytes]) -> list[CatalogProblem]:
    """Check the optional files other stages keep in the catalogue (e.g. the dedupe rules)."""
    found: list[CatalogProblem] = []
    for name, module, attr in _EXTRA_FILES:
        path = root / name
        if not path.exists():
            continue
        seen[name] = path.read_bytes()
        found.extend(getattr(__import__(module, fromlist=[attr]), attr)(root))
    return found


def _check_aggregation(
    metrics: dict[str, Metric], metric_files: dict[str, str]
) -> list[CatalogProblem]:
    """A metric's `aggregation` must fit what it is: never sum a share, never recompute a
    figure that has no numerator and denominator."""
    problems: list[CatalogProblem] = []
    for code, metric in metrics.items():
        declared = metric.aggregation
        if declared is None:
            continue
        rel = metric_files[code]
        if declared == "sum" and metric.derived is not None:
            problems.append(
                CatalogProblem(
                    rel,
                    "aggregation",
                    declared,
                    "a derived metric cannot be summed across providers",
                    "use `aggregation: recompute`, which divides the summed numerator by the "
                    "summed denominator",
                )
            )
        elif declared == "sum" and metric.unit in _NOT_SUMMABLE:
            problems.append(
                CatalogProblem(
                    rel,
                    "aggregation",
                    declared,
                    f"a {metric.unit} cannot be summed across providers",
                    "collect its numerator and denominator and make it derived "
                    "(`aggregation: recompute`), or use `aggregation: none`",
                )
            )
        elif declared == "recompute" and metric.derived is None:
            problems.append(
                CatalogProblem(
                    rel,
                    "aggregation",
                    declared,
                    "only a derived metric can be recomputed: this one has no numerator and "
                    "denominator",
                    "add `derived: {numerator: ..., denominator: ...}`, or use `aggregation: none`",
                )
            )
    return problems


#: Units whose values never add up across providers (shares, averages, scores, durations).
_NOT_SUMMABLE = frozenset({"percent", "rate", "score", "minutes", "weeks"})


def _check_levels(
    requests: dict[str, Request], request_files: dict[str, str], metrics: dict[str, Metric]
) -> list[CatalogProblem]:
    """A request served at a region or England may only hold items that roll up."""
    problems: list[CatalogProblem] = []
    for code, request in requests.items():
        if request.level == "provider":
            continue
        for i, item in enumerate(request.items):
            for metric_code in item.metric_codes:
                metric = metrics.get(metric_code)
                if metric is not None and metric.rolls_up == "none":
                    problems.append(
                        CatalogProblem(
                            request_files[code],
                            f"items[{i}] ({item.their_code})",
                            metric_code,
                            f"the request is served at level {request.level}, but the metric "
                            "cannot be rolled up (aggregation: none)",
                            "ask for a metric that sums or recomputes, or serve the request "
                            "per provider",
                        )
                    )
    return problems


def _region_warnings(providers: dict[str, Provider], levels: Levels) -> list[CatalogProblem]:
    """Providers with no region (they roll up to England and show as Unassigned), and a region
    spelt in more than one way."""
    warnings: list[CatalogProblem] = []
    spellings: dict[str, set[str]] = {}
    for p in providers.values():
        if p.region:
            spellings.setdefault(" ".join(p.region.split()).casefold(), set()).add(p.region)
    for names in spellings.values():
        if len(names) > 1:
            listed = " and ".join(repr(n) for n in sorted(names))
            warnings.append(
                CatalogProblem(
                    "providers.csv",
                    "region",
                    listed,
                    "one region is spelt in more than one way, so its providers roll up to "
                    "separate regions",
                    "spell each region the same way on every row",
                )
            )
    without = sorted(code for code, p in providers.items() if not p.region)
    if not without:
        return warnings
    shown = ", ".join(without[:8]) + (f" and {len(without) - 8} more" if len(without) > 8 else "")
    return [
        *warnings,
        CatalogProblem(
            "providers.csv",
            "region",
            shown,
            f"{len(without)} provider(s) have no region: they roll up to England and show as "
            f"{levels.unassigned_label!r} in regional output",
            "fill the region column with the provider's NHS England region",
        ),
    ]


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
_CONVERTIBLE: dict[str, dict[str, float]] = {
    "money": {"gbp": 1.0, "gbp_thousands": 1000.0},
    "time": {"minutes": 1.0, "days": 1440.0, "weeks": 10080.0},
}
_SHARE_UNITS = frozenset({"percent", "rate"})


def _conversion(from_unit: str, to_unit: str) -> float | None:
    """The scale that turns a value in `from_unit` into `to_unit`, or None if it cannot."""
    for sizes in _CONVERTIBLE.values():
        if from_unit in sizes and to_unit in sizes:
            return sizes[from_unit] / sizes[to_unit]
    return None


def check_references(
    metrics: dict[str, Metric],
    metric_files: dict[str, str],
    requesters: dict[str, Requester] | None,
    requests: dict[str, Request],
    request_files: dict[str, str],
    *,
    broken_metrics: set[str] | None = frozenset(),  # type: ignore[assignment]
) -> list[CatalogProblem]:
    """Cross-reference checks: rules, derived formulas, cycles, requesters, items and units.

    `requesters` is None when requesters.yaml itself is broken, and `broken_metrics` names metric
    files that exist but failed to load (None: no metric file loaded at all). References to them
    are not reported again: the problem is in the file that is already reported.
    """
    problems: list[CatalogProblem] = []
    known = sorted(metrics)

    def unknown(code: str) -> bool:
        """Whether to report `code` as unknown (not when its own file is reported broken)."""
        if code in metrics:
            return False
        return broken_metrics is not None and code not in broken_metrics

    def unknown_metric_fix(code: str) -> str:
        close = _closest(code, known)
        return f"did you mean `{close}`?" if close else "add the metric under catalog/metrics/"

    for code, metric in metrics.items():
        rel = metric_files[code]
        problems.extend(_check_target(rel, metric))
        for i, rule in enumerate(metric.rules):
            if rule.other not in metrics:
                if unknown(rule.other):
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
            elif metrics[rule.other].grain.period != metric.grain.period:
                problems.append(
                    CatalogProblem(
                        rel,
                        f"rules[{i}].{rule.op}",
                        rule.other,
                        f"the rule compares a per-{metric.grain.period} metric with one "
                        f"collected per {metrics[rule.other].grain.period}",
                        "compare metrics of the same grain, so the same period has both",
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
                        if unknown(dep):
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
            inputs = set(metric.derived.inputs)
            for g, group in enumerate(metric.derived.absent_as_zero):
                for code in group:
                    if code not in inputs:
                        problems.append(
                            CatalogProblem(
                                rel,
                                f"derived.absent_as_zero[{g}]",
                                code,
                                "the group names a metric the formula does not use",
                                "list only metrics named in the numerator or denominator",
                            )
                        )

    problems.extend(_cycles(metrics, metric_files))

    for code, request in requests.items():
        rel = request_files[code]
        if requesters is not None and request.requester not in requesters:
            close = _closest(request.requester, sorted(requesters))
            problems.append(
                CatalogProblem(
                    rel,
                    "requester",
                    request.requester,
                    "unknown requester",
                    f"did you mean `{close}`?"
                    if close
                    else "add it to requesters.yaml or use one of: "
                    + ", ".join(sorted(requesters)),
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
            problems.extend(
                _check_item(rel, where, request, item, metrics, unknown, unknown_metric_fix)
            )
    return problems


def _check_target(rel: str, metric: Metric) -> list[CatalogProblem]:
    """A target must be reachable within the valid range and point the way of improvement."""
    target = metric.target
    if target is None:
        return []
    problems = []
    lo, hi = metric.valid.min, metric.valid.max
    if (lo is not None and target.value < lo) or (hi is not None and target.value > hi):
        problems.append(
            CatalogProblem(
                rel,
                "target.value",
                f"{target.value:g}",
                f"the target lies outside the valid range ({_range(lo, hi)})",
                "correct the target, or widen `valid` if the range is wrong",
            )
        )
    expected = {"increase": "gte", "decrease": "lte"}.get(metric.improvement_direction)
    if expected and target.comparison != expected:
        problems.append(
            CatalogProblem(
                rel,
                "target.comparison",
                target.comparison,
                f"the target is met when the value is {RULE_WORDS[target.comparison]} it, but "
                f"improvement_direction is {metric.improvement_direction}",
                f"use comparison: {expected}, or correct improvement_direction",
            )
        )
    return problems


RULE_WORDS = {"gte": "at or above", "lte": "at or below"}


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo:g} to {hi:g}"
    return f"at least {lo:g}" if lo is not None else f"at most {hi:g}"


def _check_item(
    rel: str,
    where: str,
    request: Request,
    item: Item,
    metrics: dict[str, Metric],
    unknown: Callable[[str], bool],
    unknown_metric_fix: Callable[[str], str],
) -> list[CatalogProblem]:
    problems: list[CatalogProblem] = []
    field_name = "metric" if item.metric else "metrics"
    resolved = []
    for code, n in Counter(item.metric_codes).items():
        if n > 1:
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.metrics",
                    code,
                    "the item lists the same metric more than once",
                    "list each metric once",
                )
            )
    for code in dict.fromkeys(item.metric_codes):
        if code in metrics:
            resolved.append(metrics[code])
        elif unknown(code):
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.{field_name}",
                    code,
                    "the item maps to an unknown metric",
                    unknown_metric_fix(code),
                )
            )
    aggregate = item.transform.aggregate if item.transform else "sum"
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
        grain_per_year = PERIODS_PER_YEAR[metric.grain.period]
        if grain_per_year < PERIODS_PER_YEAR[request.frequency]:
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
        elif (
            grain_per_year > PERIODS_PER_YEAR[request.frequency]
            and metric.unit in _SHARE_UNITS
            and aggregate == "sum"
            # a level request recomputes a ratio from the period's summed counts
            and not (request.level != "provider" and metric.rolls_up == "recompute")
        ):
            problems.append(
                CatalogProblem(
                    rel,
                    f"{where}.transform",
                    f"aggregate: {aggregate}",
                    f"the {request.frequency}ly item would add up {metric.code}, a "
                    f"{metric.unit} per {metric.grain.period}: shares cannot be summed",
                    "map the item to the counts it is built from, or to a metric of the "
                    f"request's grain; use `aggregate: mean` or `last` only for a {metric.unit} "
                    "collected as such",
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
        derived = [m.code for m in resolved if m.is_derived or m.unit in _SHARE_UNITS]
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
        problems.extend(_check_item_unit(rel, where, item, resolved[0]))
    return problems


_MILLIONS = re.compile(r"£\s*m\b|£\s*mn\b|\bmillions?\b")
_THOUSANDS = re.compile(r"£\s*0{3}|£\s*k\b|\bthousands?\b|\bgbp\s*0{3}")
_POUNDS = re.compile(r"£|\bgbp\b|\bpounds?\b")


def _money_in_label(label: str) -> str | None:
    """`gbp` or `gbp_thousands` when an item's label says which (None when unsure or no money)."""
    if not _POUNDS.search(label) or _MILLIONS.search(label):
        return None
    return "gbp_thousands" if _THOUSANDS.search(label) else "gbp"


def _check_item_unit(rel: str, where: str, item: Item, metric: Metric) -> list[CatalogProblem]:
    """The item's unit agrees with its metric's, or converts to it by the right scale."""
    unit = metric.unit
    scale = item.transform.scale if item.transform else 1.0
    if item.unit and item.unit != unit:
        factor = _conversion(unit, item.unit)
        if factor is None:
            return [
                CatalogProblem(
                    rel,
                    f"{where}.unit",
                    item.unit,
                    f"the item's unit conflicts with metric {metric.code} ({unit}), and "
                    f"{unit} cannot be converted to {item.unit} by a scale",
                    "map to a metric in the item's unit, or correct the item's unit "
                    "(add transform: {scale: N} only to convert, e.g. £ thousands to £)",
                )
            ]
        if not math.isclose(scale, factor, rel_tol=1e-9):
            return [
                CatalogProblem(
                    rel,
                    f"{where}.transform.scale",
                    f"{scale:g}",
                    f"the item's unit conflicts with metric {metric.code} ({unit}): "
                    f"{unit} converts to {item.unit} by a scale of {factor:g}",
                    f"add transform: {{scale: {factor:g}}} to convert",
                )
            ]
        return []
    if item.unit is None and scale != 1.0 and _conversion(unit, unit) is not None:
        return [
            CatalogProblem(
                rel,
                f"{where}.transform.scale",
                f"{scale:g}",
                f"the item scales metric {metric.code} ({unit}) but gives no unit of its own",
                "add the item's `unit` (e.g. gbp for £), or remove the scale",
            )
        ]
    label = item.their_label.lower()
    money = _money_in_label(label)
    if money and not item.unit and money != unit:
        words = {"gbp": "£", "gbp_thousands": "£ thousands"}
        if unit in _CONVERTIBLE["money"]:
            factor = _conversion(unit, money)
            return [
                CatalogProblem(
                    rel,
                    f"{where}.their_label",
                    item.their_label,
                    f"the item asks for {words[money]} but {metric.code} is in {words[unit]}",
                    f"add unit: {money} and transform: {{scale: {factor:g}}}",
                )
            ]
        return [
            CatalogProblem(
                rel,
                f"{where}.their_label",
                item.their_label,
                f"the item asks for money but {metric.code} is in {unit}",
                "map it to a metric in £ or £ thousands",
            )
        ]
    asks_rate = "%" in label or "percent" in label or " rate" in f" {label}"
    if unit == "count" and asks_rate and not item.unit:
        return [
            CatalogProblem(
                rel,
                f"{where}.their_label",
                item.their_label,
                f"the item asks for a percentage or rate but {metric.code} is a count",
                "map it to the derived percentage metric, or set unit: count if right",
            )
        ]
    return []


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
