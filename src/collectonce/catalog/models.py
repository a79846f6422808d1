"""The catalogue's nouns as typed models: metrics, requesters, requests, items, providers."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

CODE_PATTERN = r"^[a-z][a-z0-9_]*$"
CODE_RE = re.compile(CODE_PATTERN)
#: ODS codes: trusts have 3 characters, sites 5, other organisations up to 6.
ODS_PATTERN = r"^[A-Z0-9]{3,6}$"
TERM_RE = re.compile(r"\s*([+-]?)\s*([a-z][a-z0-9_]*)\s*")
#: An expression as written in a metric file: metric codes joined by + or -.
EXPRESSION_PATTERN = r"^\s*[+-]?\s*[a-z][a-z0-9_]*(\s*[+-]\s*[a-z][a-z0-9_]*)*\s*$"

Unit = Literal[
    "count", "percent", "rate", "gbp", "gbp_thousands", "days", "weeks", "minutes", "fte", "score"
]
Period = Literal["month", "quarter", "year"]
Direction = Literal["increase", "decrease", "neutral"]
Aggregate = Literal["sum", "mean", "last", "max", "min"]
RuleOp = Literal["lte", "gte", "lt", "gt", "eq"]
#: How a metric rolls up from providers to a region and to England.
Aggregation = Literal["sum", "recompute", "none"]
#: Units whose values add up across providers when nothing else is said.
SUMMABLE_UNITS = frozenset({"count", "gbp", "gbp_thousands", "fte"})

PERIODS_PER_YEAR: dict[str, int] = {"month": 12, "quarter": 4, "year": 1}
RULE_SYMBOLS: dict[str, str] = {"lte": "<=", "gte": ">=", "lt": "<", "gt": ">", "eq": "="}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Grain(_Strict):
    entity: Literal["provider"] = "provider"
    period: Period = "month"


class Valid(_Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Valid:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class Target(_Strict):
    value: float
    comparison: Literal["gte", "lte"]
    source: str = Field(min_length=3)


class Rule(_Strict):
    """A cross-metric rule: this metric <op> other metric, for the same provider and period."""

    op: RuleOp
    other: str

    @model_validator(mode="before")
    @classmethod
    def _from_short_form(cls, data: object) -> object:
        if isinstance(data, dict) and "op" not in data:
            if len(data) != 1:
                raise ValueError("a rule has exactly one key: lte, gte, lt, gt or eq")
            ((op, other),) = data.items()
            return {"op": op, "other": other}
        return data

    def describe(self, code: str) -> str:
        return f"{code} {RULE_SYMBOLS[self.op]} {self.other}"

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        code = {"type": "string", "pattern": CODE_PATTERN}
        return {
            "description": "A cross-metric rule checked on entry for the same provider and period, "
            "written `{lte: other_metric}`; operators lte, gte, lt, gt and eq.",
            "oneOf": [
                {
                    "type": "object",
                    "properties": {op: code for op in RULE_SYMBOLS},
                    "additionalProperties": False,
                    "minProperties": 1,
                    "maxProperties": 1,
                },
                {
                    "type": "object",
                    "properties": {"op": {"enum": list(RULE_SYMBOLS)}, "other": code},
                    "required": ["op", "other"],
                    "additionalProperties": False,
                },
            ],
        }


class Expression(_Strict):
    """A sum of metric codes with signs, written `a + b - c`."""

    terms: tuple[tuple[int, str], ...]

    @classmethod
    def parse(cls, text: str) -> Expression:
        text = str(text).strip()
        if not text:
            raise ValueError("an expression needs at least one metric code")
        terms: list[tuple[int, str]] = []
        pos = 0
        while pos < len(text):
            match = TERM_RE.match(text, pos)
            if not match or match.end() == pos:
                raise ValueError(f"cannot read {text!r}: use metric codes joined by + or -")
            sign, code = match.groups()
            if terms and not sign:
                raise ValueError(f"cannot read {text!r}: put + or - between metric codes")
            terms.append((-1 if sign == "-" else 1, code))
            pos = match.end()
        return cls(terms=tuple(terms))

    @property
    def codes(self) -> list[str]:
        return [code for _, code in self.terms]

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": EXPRESSION_PATTERN,
            "description": "Metric codes joined by + or -, e.g. `a + b - c`.",
        }

    def __str__(self) -> str:
        out = ""
        for i, (sign, code) in enumerate(self.terms):
            if i == 0:
                out = code if sign > 0 else f"-{code}"
            else:
                out += f" {'+' if sign > 0 else '-'} {code}"
        return out


class Derived(_Strict):
    numerator: Expression
    denominator: Expression
    multiplier: float = 1.0
    absent_as_zero: tuple[tuple[str, ...], ...] = Field(
        default=(),
        description="Groups of inputs that count as 0 when a provider sends none of a group for"
        " a period, such as the attendances and breaches of a type of department it does not run."
        " A group sent only in part still makes the value missing.",
    )

    @field_validator("numerator", "denominator", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return Expression.parse(value)
            except ValueError as exc:
                raise PydanticCustomError(
                    "expression_syntax", "{reason}", {"reason": str(exc)}
                ) from None
        return value

    @property
    def inputs(self) -> list[str]:
        return list(dict.fromkeys(self.numerator.codes + self.denominator.codes))


class Status(_Strict):
    state: Literal["active", "draft", "retired"] = "active"
    version: int = Field(default=1, ge=1)
    effective_from: dt.date = Field(
        description="When the current version's definition took effect."
    )
    effective_to: dt.date | None = None
    first_collected: dt.date | None = Field(
        default=None,
        description="The first period the metric was collected under any version; needed when"
        " an earlier version was collected before effective_from. Defaults to effective_from.",
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> Status:
        if self.first_collected and self.first_collected > self.effective_from:
            raise ValueError(
                f"first_collected {self.first_collected} is after effective_from "
                f"{self.effective_from}: a metric is first collected on or before its current "
                "version takes effect"
            )
        if (
            self.first_collected
            and self.version == 1
            and (self.first_collected != self.effective_from)
        ):
            raise ValueError(
                "first_collected differs from effective_from on version 1: with one version "
                "they are the same date, so leave first_collected out"
            )
        if self.effective_to and self.effective_to < self.collected_from:
            raise ValueError(
                f"effective_to {self.effective_to} is before the metric was first collected "
                f"({self.collected_from})"
            )
        return self

    @property
    def collected_from(self) -> dt.date:
        """The first day the metric was collected under any version."""
        return self.first_collected or self.effective_from


class Metric(_Strict):
    code: str = Field(
        pattern=CODE_PATTERN, description="Stable snake_case code; equals the file name."
    )
    label: str = Field(min_length=3, description="Short name shown in templates and reports.")
    definition: str = Field(
        min_length=10, description="Exactly what is counted, with inclusions and exclusions."
    )
    why_collected: str = Field(
        min_length=10, description="The standard or decision it serves and who uses it."
    )
    unit: Unit
    value_type: Literal["integer", "decimal"]
    grain: Grain
    valid: Valid = Field(default=Valid(), description="Plausible range of a value.")
    zero_is_significant: bool = Field(
        description="True when a reported 0 is a real zero; false when 0 is implausible."
    )
    improvement_direction: Direction
    target: Target | None = Field(default=None, description="The standard, with its source.")
    rules: tuple[Rule, ...] = Field(default=(), description="Cross-metric checks on entry.")
    derived: Derived | None = Field(
        default=None, description="Numerator and denominator of a computed metric."
    )
    aggregation: Aggregation | None = Field(
        default=None,
        description="How the metric rolls up from providers to a region and to England: `sum`"
        " adds the providers' values (counts, money, staff); `recompute` divides the summed"
        " numerator by the summed denominator (derived ratios); `none` means it cannot be"
        " rolled up (medians, percentiles, means, percentages sent without their counts), and"
        " is never averaged. Defaults to `recompute` for a derived metric, `sum` for a count,"
        " money or staff figure, and `none` otherwise.",
    )
    status: Status
    references: tuple[str, ...] = Field(default=(), description="The published definitions.")
    domain: str = Field(default="", description="Defaults to the metric's folder name.")

    @property
    def is_derived(self) -> bool:
        return self.derived is not None

    @property
    def is_active(self) -> bool:
        return self.status.state == "active"

    @property
    def rolls_up(self) -> Aggregation:
        """The aggregation in force: the declared one, else the default for its kind."""
        if self.aggregation is not None:
            return self.aggregation
        if self.derived is not None:
            return "recompute"
        return "sum" if self.unit in SUMMABLE_UNITS else "none"


class Requester(_Strict):
    code: str = Field(pattern=CODE_PATTERN)
    name: str
    kind: str = "national_body"


class Transform(_Strict):
    aggregate: Aggregate = "sum"
    scale: float = Field(default=1.0, gt=0)


class Item(_Strict):
    their_code: str = Field(min_length=1, max_length=64)
    their_label: str = Field(min_length=1)
    metric: str | None = None
    metrics: tuple[str, ...] = ()
    unit: Unit | None = None
    transform: Transform | None = None
    unmapped_reason: str | None = None

    @field_validator("their_code", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _one_mapping(self) -> Item:
        given = [
            name
            for name, value in (
                ("metric", self.metric),
                ("metrics", self.metrics),
                ("unmapped_reason", self.unmapped_reason),
            )
            if value
        ]
        if not given:
            raise PydanticCustomError(
                "item_not_mapped",
                "the item is not mapped: it needs exactly one of metric, metrics (a list) or "
                "unmapped_reason",
            )
        if len(given) > 1:
            raise PydanticCustomError(
                "item_mapped_twice",
                "the item gives {given}: it needs exactly one of metric, metrics (a list) or "
                "unmapped_reason",
                {"given": " and ".join(given)},
            )
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema["oneOf"] = [
            {"required": ["metric"]},
            {"required": ["metrics"]},
            {"required": ["unmapped_reason"]},
        ]
        return schema

    @property
    def metric_codes(self) -> list[str]:
        """The catalogue metrics this item needs (empty when unmapped)."""
        if self.metric:
            return [self.metric]
        return list(self.metrics)

    @property
    def is_mapped(self) -> bool:
        return not self.unmapped_reason


class Request(_Strict):
    code: str = Field(pattern=CODE_PATTERN)
    requester: str
    title: str
    purpose: str = ""
    frequency: Period
    year_start: Literal["april", "january"] = Field(
        default="april",
        description="When the request's years and quarters start: april (NHS financial years,"
        " 2018/19 Q1 = April to June 2018, the default) or january (calendar years and"
        " quarters, only where the requester counts that way).",
    )
    due_days_after_period: int = Field(ge=0, le=366)
    minutes_per_item: float = Field(gt=0)
    respondents: Literal["all"] | tuple[str, ...] = "all"
    level: Literal["provider", "icb", "region", "england"] = Field(
        default="provider",
        description="Whom the view describes: each provider (the default), each integrated"
        " care board, each region or England, rolled up from the providers' values.",
    )
    items: tuple[Item, ...] = Field(min_length=1)

    @property
    def periods_per_year(self) -> int:
        return PERIODS_PER_YEAR[self.frequency]


class Provider(_Strict):
    ods_code: str = Field(pattern=ODS_PATTERN)
    name: str = ""
    peer_group: str
    region: str = Field(
        default="",
        description="The NHS England region; blank rolls up to England only and shows as"
        " Unassigned in regional output.",
    )
    icb: str = Field(
        default="",
        description="The integrated care board (system) the provider belongs to, where known.",
    )


class Levels(_Strict):
    """How values roll up from providers to regions and England (`levels.yaml`)."""

    coverage_threshold: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="Share of expected providers that must report a period for a rolled-up"
        " value to count as complete; below it the value is flagged partial and left out of"
        " SPC limits.",
    )
    closed_after_periods: int = Field(
        default=3,
        ge=0,
        description="A provider that has not reported a metric for more than this many of the"
        " latest periods is taken to have closed or merged, and is no longer expected.",
    )
    unassigned_label: str = Field(
        default="Unassigned",
        min_length=1,
        description="The region shown for providers with no region in providers.csv.",
    )


class BurdenTarget(_Strict):
    measure: Literal[
        "hours_reduction_pct",
        "cost_reduction_pct",
        "items_served_from_catalogue_pct",
        "unique_items_reduction_pct",
    ]
    value: float
    by: dt.date | None = None
    description: str = ""


class Targets(_Strict):
    baseline: str = ""
    targets: tuple[BurdenTarget, ...] = ()


class Change(_Strict):
    version: str
    effective_from: dt.date
    summary: str


class CatalogInfo(_Strict):
    name: str
    version: str
    effective_from: dt.date
    hourly_cost_gbp: float = Field(gt=0)
    changes: tuple[Change, ...] = ()
