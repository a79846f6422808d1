"""The dedupe rules file (`catalog/dedupe_rules.yaml`): its model, loading, compiling and checks.

The rules are data: an analyst adds a synonym to the YAML, and `collectonce catalog check`
validates it (every pattern compiles, every implied facet names a facet and value that exist).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from collectonce.catalog.errors import CatalogProblem
from collectonce.errors import DedupeError

RULES_FILE = "dedupe_rules.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Duration(_Strict):
    minutes: float = Field(gt=0, description="Length of one unit in minutes.")
    words: list[str] = Field(min_length=1, description="Words that name the unit.")


class FacetRule(_Strict):
    choose: Literal["first", "longest", "all"] = Field(
        "all", description="Which matching values to keep: first listed, longest match, or all."
    )
    weight: float = Field(1.0, ge=0, description="Weight of agreement on this facet.")
    values: dict[str, list[str]] = Field(
        min_length=1, description="Each value with the patterns (regular expressions) that mean it."
    )


class Implication(_Strict):
    when_text: str | None = Field(None, description="Pattern on the rewritten text.")
    unless_text: str | None = Field(None, description="Pattern that stops the rule.")
    when: dict[str, str | list[str]] = Field(
        default_factory=dict, description="Facet values that must all hold."
    )
    then: dict[str, str | list[str]] = Field(
        min_length=1, description="Facets set when still unknown (threshold as '28 days')."
    )


class Thresholds(_Strict):
    duplicate: float = Field(default=0.6, ge=0, le=1)
    review: float = Field(default=0.45, ge=0, le=1)
    text_weight: float = Field(default=0.4, ge=0, le=1)
    full_agreement: float = Field(
        default=6.0, gt=0, description="Facet weight that must agree for full facet agreement."
    )
    neighbours: int = Field(default=20, ge=1, le=500)


class RulesFile(_Strict):
    """dedupe_rules.yaml: how request items are read into facets and scored."""

    version: int = 1
    rewrites: list[tuple[str, str]] = Field(default_factory=list)
    number_words: dict[str, float] = Field(default_factory=dict)
    durations: dict[str, Duration] = Field(min_length=1)
    threshold_tolerance: float = Field(0.05, ge=0, lt=1)
    ignore_spans: list[str] = Field(default_factory=list)
    facets: dict[str, FacetRule] = Field(min_length=1)
    implies: list[Implication] = Field(default_factory=list)
    unit_measures: dict[str, str] = Field(default_factory=dict)
    topic_domains: dict[str, str] = Field(default_factory=dict)
    measure_units: dict[str, str] = Field(default_factory=dict)
    thresholds: Thresholds = Thresholds()


class RulesInvalid(DedupeError, ValueError):
    """The rules file cannot be used; `problems` says where and how to fix it."""

    def __init__(self, problems: list[CatalogProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class CompiledFacet:
    name: str
    choose: str
    weight: float
    values: tuple[tuple[str, re.Pattern[str]], ...]
    any: re.Pattern[str]  # every value's patterns at once: a quick test before the values


@dataclass(frozen=True)
class CompiledImplication:
    """An `implies` rule ready to apply; a threshold condition of None means any threshold."""

    when: tuple[tuple[str, frozenset[str] | tuple[float, ...] | None], ...]
    then: tuple[tuple[str, frozenset[str] | tuple[float, ...]], ...]
    when_text: re.Pattern[str] | None
    unless_text: re.Pattern[str] | None


def _word(patterns: list[str]) -> re.Pattern[str]:
    joined = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(rf"(?<![\w]){'(?:' + joined + ')'}(?![\w])")


@dataclass(frozen=True)
class Rules:
    """Compiled rules, ready to read text."""

    spec: RulesFile
    source: str

    @cached_property
    def rewrites(self) -> tuple[tuple[re.Pattern[str], str], ...]:
        return tuple((re.compile(p), r) for p, r in self.spec.rewrites)

    @cached_property
    def number_words(self) -> tuple[re.Pattern[str], dict[str, str]]:
        words = sorted(self.spec.number_words, key=len, reverse=True)
        mapping = {w: f"{v:g}" for w, v in self.spec.number_words.items()}
        return re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b"), mapping

    @cached_property
    def unit_minutes(self) -> dict[str, float]:
        return {w: d.minutes for d in self.spec.durations.values() for w in d.words}

    @cached_property
    def duration_re(self) -> re.Pattern[str]:
        words = sorted(self.unit_minutes, key=len, reverse=True)
        return re.compile(
            r"(?<![\w.])(\d+(?:\.\d+)?)\s*(\+)?\s*("
            + "|".join(map(re.escape, words))
            + r")(?![\w])"
        )

    @cached_property
    def ignore_re(self) -> re.Pattern[str] | None:
        if not self.spec.ignore_spans:
            return None
        return re.compile("|".join(f"(?:{p})" for p in self.spec.ignore_spans))

    @cached_property
    def facets(self) -> tuple[CompiledFacet, ...]:
        return tuple(
            CompiledFacet(
                name=name,
                choose=rule.choose,
                weight=rule.weight,
                values=tuple((value, _word(pats)) for value, pats in rule.values.items()),
                any=_word([p for pats in rule.values.values() for p in pats]),
            )
            for name, rule in self.spec.facets.items()
        )

    @cached_property
    def weights(self) -> dict[str, float]:
        out = {f.name: f.weight for f in self.facets}
        out.setdefault("threshold", 2.0)
        return out

    @cached_property
    def implications(self) -> tuple[CompiledImplication, ...]:
        def values(v: str | list[str]) -> list[str]:
            return v if isinstance(v, list) else [v]

        def waits(v: str | list[str]) -> tuple[float, ...]:
            return tuple(m for m in map(self.minutes, values(v)) if m is not None)

        out = []
        for rule in self.spec.implies:
            when: list[tuple[str, frozenset[str] | tuple[float, ...] | None]] = []
            for facet, value in rule.when.items():
                if facet == "threshold":
                    when.append((facet, None if values(value) == ["any"] else waits(value)))
                else:
                    when.append((facet, frozenset(values(value))))
            then: list[tuple[str, frozenset[str] | tuple[float, ...]]] = [
                (facet, waits(value) if facet == "threshold" else frozenset(values(value)))
                for facet, value in rule.then.items()
            ]
            out.append(
                CompiledImplication(
                    when=tuple(when),
                    then=tuple(then),
                    when_text=re.compile(rule.when_text) if rule.when_text else None,
                    unless_text=re.compile(rule.unless_text) if rule.unless_text else None,
                )
            )
        return tuple(out)

    def minutes(self, text: str) -> float | None:
        """'28 days' → 40320.0; None when the text is not a duration."""
        match = self.duration_re.fullmatch(text.strip().lower())
        if not match:
            return None
        return float(match.group(1)) * self.unit_minutes[match.group(3)]


def _problems_from(exc: ValidationError, rel: str) -> list[CatalogProblem]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        out.append(
            CatalogProblem(rel, loc, "", err["msg"], "see schemas/catalog/dedupe_rules.schema.json")
        )
    return out


def _check_semantics(spec: RulesFile, rel: str) -> list[CatalogProblem]:
    problems: list[CatalogProblem] = []

    def compiles(where: str, pattern: str) -> None:
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(
                CatalogProblem(
                    rel,
                    where,
                    pattern,
                    f"is not a valid pattern ({exc})",
                    "fix the regular expression",
                )
            )

    for i, (pattern, _) in enumerate(spec.rewrites):
        compiles(f"rewrites[{i}]", pattern)
    for i, pattern in enumerate(spec.ignore_spans):
        compiles(f"ignore_spans[{i}]", pattern)
    for name, facet in spec.facets.items():
        for value, patterns in facet.values.items():
            for i, pattern in enumerate(patterns):
                compiles(f"facets.{name}.values.{value}[{i}]", pattern)
    if "topic" not in spec.facets or "measure" not in spec.facets:
        problems.append(
            CatalogProblem(
                rel, "facets", "", "must define `topic` and `measure`", "add both facets"
            )
        )
    known = {name: set(f.values) for name, f in spec.facets.items()}
    durations = {w for d in spec.durations.values() for w in d.words}
    duration_re = re.compile(r"^\s*\d+(?:\.\d+)?\s*(\S+)\s*$")
    for i, rule in enumerate(spec.implies):
        for key in ("when_text", "unless_text"):
            if getattr(rule, key):
                compiles(f"implies[{i}].{key}", getattr(rule, key))
        for part in ("when", "then"):
            for facet, value in getattr(rule, part).items():
                values = value if isinstance(value, list) else [value]
                if facet == "threshold":
                    for v in values:
                        if v == "any" and part == "when":
                            continue
                        m = duration_re.match(v)
                        if not m or m.group(1) not in durations:
                            problems.append(
                                CatalogProblem(
                                    rel,
                                    f"implies[{i}].{part}.threshold",
                                    v,
                                    "is not a duration",
                                    "write it like '28 days' or '4 hours'",
                                )
                            )
                    continue
                if facet not in known:
                    problems.append(
                        CatalogProblem(
                            rel,
                            f"implies[{i}].{part}",
                            facet,
                            "names no facet",
                            f"use one of: threshold, {', '.join(sorted(known))}",
                        )
                    )
                    continue
                for v in values:
                    if v not in known[facet]:
                        problems.append(
                            CatalogProblem(
                                rel,
                                f"implies[{i}].{part}.{facet}",
                                v,
                                "is not a value of the facet",
                                f"use one of: {', '.join(sorted(known[facet]))}",
                            )
                        )
    for name, values in known.items():
        if len(values) > 63:
            problems.append(
                CatalogProblem(
                    rel,
                    f"facets.{name}.values",
                    str(len(values)),
                    "has more than 63 values",
                    "split the facet into two facets",
                )
            )
    measures = known.get("measure", set())
    for unit, measure in spec.unit_measures.items():
        if measure not in measures:
            problems.append(
                CatalogProblem(
                    rel,
                    f"unit_measures.{unit}",
                    measure,
                    "is not a measure value",
                    f"use one of: {', '.join(sorted(measures))}",
                )
            )
    for topic in spec.topic_domains:
        if topic not in known.get("topic", set()):
            problems.append(
                CatalogProblem(
                    rel,
                    f"topic_domains.{topic}",
                    topic,
                    "is not a topic value",
                    "add the topic under facets.topic",
                )
            )
    if spec.thresholds.review > spec.thresholds.duplicate:
        problems.append(
            CatalogProblem(
                rel,
                "thresholds.review",
                str(spec.thresholds.review),
                "is above the duplicate threshold",
                "make review ≤ duplicate",
            )
        )
    return problems


def parse_rules(data: Any, rel: str = RULES_FILE) -> Rules:
    """Validate loaded YAML as a rules file; raise RulesInvalid listing every problem."""
    try:
        spec = RulesFile.model_validate(data)
    except ValidationError as exc:
        raise RulesInvalid(_problems_from(exc, rel)) from None
    problems = _check_semantics(spec, rel)
    if problems:
        raise RulesInvalid(problems)
    return Rules(spec=spec, source=rel)


def load_rules(catalog_root: Path | str) -> Rules:
    """Read and check `<catalog>/dedupe_rules.yaml`."""
    path = Path(catalog_root) / RULES_FILE
    if not path.exists():
        raise RulesInvalid(
            [
                CatalogProblem(
                    RULES_FILE,
                    "",
                    "",
                    f"is missing from {catalog_root}",
                    "copy catalog/dedupe_rules.yaml from the project into the catalogue folder",
                )
            ]
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RulesInvalid(
            [
                CatalogProblem(
                    RULES_FILE, "", "", f"is not valid YAML ({exc})", "fix the YAML syntax"
                )
            ]
        ) from None
    return parse_rules(data, RULES_FILE)


def check_rules_file(root: Path) -> list[CatalogProblem]:
    """Problems in the catalogue's rules file (none when it is absent: the file is optional)."""
    if not (Path(root) / RULES_FILE).exists():
        return []
    try:
        load_rules(root)
    except RulesInvalid as exc:
        return exc.problems
    return []


def rules_schema_files(_: object) -> dict[str, str]:
    """The JSON Schema of dedupe_rules.yaml, for schemas/catalog/."""
    schema = RulesFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "collectonce dedupe rules file"
    return {
        "catalog/dedupe_rules.schema.json": json.dumps(
            schema, indent=2, sort_keys=True, default=str
        )
        + "\n"
    }
