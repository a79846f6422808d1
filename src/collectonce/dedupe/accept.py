"""Accept a cluster: write its mapping into the catalogue, then check the catalogue again.

* Catalogue items of the cluster that are not mapped get `metric: CODE` (their `unmapped_reason`
  goes); the rest of each request file is kept as it was, comments and layout included.
* Items from an outside register whose request is not in the catalogue: the request is added
  as `requests/<requester>/<request>.yaml` with every item the register lists for it, the
  cluster's items mapped and the others marked as not yet reviewed; the requester is added to
  `requesters.yaml` when new. Accepting another cluster later maps more of its items.
* A cluster with no catalogue metric gets a new metric file, in draft, built from its facets;
  fill in its definition and make it active once agreed.

If the catalogue check fails afterwards, every file is put back as it was and the problems are
reported.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from collectonce.catalog import CatalogInvalid, CatalogProblem, load_catalog
from collectonce.dedupe.engine import DedupeResult
from collectonce.dedupe.items import DedupeItem
from collectonce.errors import DedupeError

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


class AcceptError(DedupeError, ValueError):
    """The cluster cannot be accepted as asked; the message says why and what to do."""


@dataclass
class AcceptReport:
    cluster: str
    metric: str
    new_metric_file: str | None = None
    mapped: list[dict[str, str]] = field(default_factory=list)
    already: list[dict[str, str]] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    files_created: list[str] = field(default_factory=list)
    problems: list[CatalogProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "cluster": self.cluster,
            "metric": self.metric,
            "new_metric_file": self.new_metric_file,
            "mapped": self.mapped,
            "already_mapped": self.already,
            "files_changed": self.files_changed,
            "files_created": self.files_created,
            "problems": [p.to_dict() for p in self.problems],
        }


def _yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _dump(data: Any) -> str:
    buf = io.StringIO()
    _yaml().dump(data, buf)
    return buf.getvalue()


def slug(text: str) -> str:
    """A catalogue code from free text: 'NHS England (oversight)' → 'nhs_england_oversight'."""
    code = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unnamed"
    return code if code[0].isalpha() else f"r_{code}"


class _Writer:
    """Collects file edits in memory, writes them together, and can put everything back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.texts: dict[Path, str] = {}
        self.original: dict[Path, str | None] = {}

    def read(self, path: Path) -> str | None:
        if path in self.texts:
            return self.texts[path]
        return path.read_text(encoding="utf-8") if path.exists() else None

    def write(self, path: Path, text: str) -> None:
        if path not in self.original:
            self.original[path] = path.read_text(encoding="utf-8") if path.exists() else None
        self.texts[path] = text

    def commit(self) -> None:
        for path, text in self.texts.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def rollback(self) -> None:
        for path, text in self.original.items():
            if text is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(text, encoding="utf-8")

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def _map_item(entry: CommentedMap, metric: str) -> None:
    for key in ("unmapped_reason", "metrics"):
        if key in entry:
            del entry[key]
    position = list(entry.keys()).index("their_label") + 1 if "their_label" in entry else len(entry)
    if "metric" in entry:
        entry["metric"] = metric
    else:
        entry.insert(position, "metric", metric)


def _metric_stub(proposal: dict[str, Any], today: dt.date, members: list[DedupeItem]) -> str:
    unit = proposal["unit"]
    valid = "{min: 0, max: 100}" if unit == "percent" else "{min: 0}"
    asked = "; ".join(f"{m.request} {m.item_code}" for m in members)
    facets = ", ".join(f"{k}: {v}" for k, v in proposal["facets"].items())
    label = proposal["label"].replace('"', "'")
    value_type = "decimal" if unit in ("percent", "rate", "gbp_thousands", "fte") else "integer"
    start = today.replace(day=1).isoformat()
    return (
        f"code: {proposal['code']}\n"
        f'label: "{label}"\n'
        "definition: >-\n"
        f"  Draft, to be agreed with the requesters: {label}. Read from the request items as "
        f"{facets or 'no stated facets'}.\n"
        "why_collected: >-\n"
        f"  Asked for by {len({m.requester for m in members})} requester(s) in the same words or "
        f"nearly: {asked}. Collected once for all of them.\n"
        f"unit: {unit}\n"
        f"value_type: {value_type}\n"
        "grain: {entity: provider, period: month}\n"
        f"valid: {valid}\n"
        "zero_is_significant: true\n"
        "improvement_direction: neutral\n"
        f"status: {{state: draft, version: 1, effective_from: {start}}}\n"
    )


def _register_request(
    writer: _Writer, register: list[DedupeItem], item: DedupeItem, catalog_requesters: set[str]
) -> tuple[Path, CommentedMap]:
    """The request file for a register item, created with all of its request's items if new."""
    requester, request = slug(item.requester), slug(item.request)
    path = writer.root / "requests" / requester / f"{request}.yaml"
    text = writer.read(path)
    if text is not None:
        return path, _yaml().load(text)
    same = [r for r in register if r.request == item.request]
    frequency = next(
        (r.frequency for r in same if r.frequency in ("month", "quarter", "year")), "month"
    )
    data = CommentedMap()
    data["code"] = request
    data["requester"] = requester
    data["title"] = item.request
    data["purpose"] = (
        "Added from an outside request register for review; items as the register lists them."
    )
    data["frequency"] = frequency
    data["due_days_after_period"] = 20
    data["minutes_per_item"] = 5
    data["respondents"] = "all"
    items = CommentedSeq()
    for r in same:
        entry = CommentedMap()
        entry["their_code"] = r.item_code
        entry["their_label"] = r.label
        entry["unmapped_reason"] = "not yet reviewed: from an outside request register"
        items.append(entry)
    data["items"] = items
    if requester not in catalog_requesters:
        req_path = writer.root / "requesters.yaml"
        current = writer.read(req_path) or "requesters:\n"
        name = item.requester.replace('"', "'")
        line = f'  - {{code: {requester}, name: "{name}", kind: national_body}}\n'
        writer.write(req_path, current.rstrip("\n") + "\n" + line)
        catalog_requesters.add(requester)
    return path, data


def accept_cluster(
    result: DedupeResult,
    cluster: str,
    catalog_root: Path | str,
    *,
    metric: str | None = None,
    today: dt.date | None = None,
) -> AcceptReport:
    """Map every item of `cluster` to its metric (or `metric`), write the files, check again."""
    root = Path(catalog_root)
    index = result.find_cluster(cluster)
    if index is None:
        known = ", ".join(result.cluster_ids()[:8]) or "none"
        raise AcceptError(
            f"no cluster {cluster} in this analysis (clusters: {known}); run "
            "`collectonce requests dedupe` with the same --register to list them"
        )
    data = result.cluster_dict(index)
    members = [result.items[i] for i in result.clusters[index].members]
    codes = {m.code for m in result.metrics}
    writer = _Writer(root)
    report = AcceptReport(cluster=cluster, metric="")
    if metric is not None:
        if metric not in codes:
            raise AcceptError(
                f"--metric {metric} is not a catalogue metric; pass one of the codes under metrics/"
            )
        target = metric
    elif data["metric"]:
        target = data["metric"]
    else:
        proposal = data["proposed_metric"]
        target = proposal["code"]
        if not _CODE.match(target):
            raise AcceptError(f"the proposed code {target} is not snake_case; pass --metric CODE")
        path = root / "metrics" / proposal["domain"] / f"{target}.yaml"
        writer.write(path, _metric_stub(proposal, today or dt.date.today(), members))
        report.new_metric_file = writer.rel(path)
    report.metric = target
    catalog_files = _request_files(root)
    requesters = _requester_codes(writer)
    register = [i for i in result.items if i.origin == "register"]
    loaded: dict[Path, CommentedMap] = {}
    for item in members:
        ref = item.ref()
        if item.metric and item.metric == target:
            report.already.append(ref)
            continue
        if item.metric:
            raise AcceptError(
                f"{item.request} {item.item_code} is already mapped to {item.metric}, not "
                f"{target}; change it by hand if the mapping is wrong"
            )
        if item.request in catalog_files:
            path = catalog_files[item.request]
        else:
            path, fresh = _register_request(writer, register, item, requesters)
            loaded.setdefault(path, fresh)
        if path not in loaded:
            loaded[path] = _yaml().load(writer.read(path) or "")
        doc = loaded[path]
        entry = next((e for e in doc["items"] if str(e.get("their_code")) == item.item_code), None)
        if entry is None:
            entry = CommentedMap()
            entry["their_code"] = item.item_code
            entry["their_label"] = item.label
            doc["items"].append(entry)
        _map_item(entry, target)
        report.mapped.append(ref)
    for path, doc in loaded.items():
        writer.write(path, _dump(doc))
    for path, before in writer.original.items():
        (report.files_changed if before is not None else report.files_created).append(
            writer.rel(path)
        )
    writer.commit()
    try:
        load_catalog(root)
    except CatalogInvalid as exc:
        writer.rollback()
        report.problems = exc.problems
    return report


def _request_files(root: Path) -> dict[str, Path]:
    out = {}
    for path in sorted((root / "requests").rglob("*.yaml")):
        data = _yaml().load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("code"):
            out[str(data["code"])] = path
    return out


def _requester_codes(writer: _Writer) -> set[str]:
    text = writer.read(writer.root / "requesters.yaml") or ""
    data = _yaml().load(text) if text else None
    if not isinstance(data, dict):
        return set()
    return {str(r.get("code")) for r in data.get("requesters", []) if isinstance(r, dict)}
