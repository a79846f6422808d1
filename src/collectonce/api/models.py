"""The shapes the pull API answers with, as they appear in its OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(_Out):
    """A refusal or an error, in one line."""

    detail: str


class Health(_Out):
    status: Literal["ok"]
    catalog_version: str
    publication_version: int | None = Field(
        description="The latest publication, or null before the first one."
    )


class ItemInfo(_Out):
    their_code: str = Field(description="The requester's own code for the figure.")
    their_label: str
    metrics: list[str] = Field(description="The catalogue metrics the item is built from.")
    aggregate: str | None = Field(description="How months are rolled up to the request's period.")
    scale: float
    unmapped_reason: str | None = Field(
        description="Why the item is not served from the catalogue (null when it is)."
    )


class RequestInfo(_Out):
    code: str
    requester: str
    requester_name: str
    title: str
    purpose: str
    frequency: Literal["month", "quarter", "year"]
    year_start: Literal["april", "january"] = Field(
        default="april",
        description="april: NHS financial years and quarters (2018/19, 2018/19 Q1); january: "
        "calendar ones (2018, 2018-Q1).",
    )
    due_days_after_period: int
    respondents: list[str] | Literal["all"]
    may_pull: bool = Field(description="Whether this caller may pull the request's view.")
    view_url: str
    items: list[ItemInfo]


class RequestList(_Out):
    requests: list[RequestInfo]


class ViewRow(_Out):
    provider_code: str
    period: str = Field(
        description="At the request's frequency: YYYY-MM, an NHS quarter (2018/19 Q1 = April to "
        "June 2018) or financial year (2018/19); 2018-Q1 or 2018 where the request counts "
        "calendar years."
    )
    item: str = Field(description="The requester's code for the figure.")
    item_label: str
    metric: str = Field(description="The catalogue metric code(s), joined by '+'.")
    value: float | None
    flag: str = Field(description="'', 'missing', 'suppressed', 'late' or 'revised'.")


class View(_Out):
    request: str
    requester: str
    frequency: str
    publication_version: int
    period_from: str | None
    period_to: str | None
    row_count: int
    rows: list[ViewRow]


class ProviderRow(_Out):
    provider_code: str
    period: str = Field(description="YYYY-MM.")
    metric: str
    label: str
    unit: str
    value: float | None
    value_status: str
    is_derived: bool
    revision: int
    is_late: bool


class ProviderData(_Out):
    provider_code: str
    publication_version: int
    period_from: str | None
    period_to: str | None
    row_count: int
    rows: list[ProviderRow]


class Receipt(BaseModel):
    """The receipt `collectonce submit --json` prints, without the server's file locations
    (archive, quarantine and report)."""

    model_config = ConfigDict(extra="allow")

    submission_id: str
    status: Literal[
        "accepted", "accepted_with_warnings", "partially_accepted", "rejected", "duplicate"
    ]
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    rows_skipped: int = 0
    findings: list[dict[str, Any]]
    file_sha256: str
    original_name: str | None = None
    submitted_by: str
    received_at: str
    template: str | None = None
    providers: list[str]
    periods: list[str]
    original_status: str | None = Field(
        default=None, description="For a duplicate: what the first sending got."
    )
    catalog_fingerprint: str | None = Field(
        default=None, description="The catalogue the file was checked against."
    )
    engine_version: str | None = Field(
        default=None, description="The reader and checks the file was processed with."
    )
    attempt: int = Field(
        default=1,
        description="How many times the file was processed: a rejected file sent again is "
        "processed again when the fault was ours, or the catalogue or reader changed.",
    )
    resent_because: str | None = Field(
        default=None, description="Why a file sent again was processed again."
    )


class SubmissionList(_Out):
    submissions: list[Receipt]


class UsedBy(_Out):
    request: str
    requester: str
    their_code: str
    their_label: str


class MetricInfo(_Out):
    code: str
    label: str
    definition: str
    why_collected: str
    unit: str
    value_type: str
    period: str
    domain: str
    improvement_direction: str
    zero_is_significant: bool
    valid_min: float | None
    valid_max: float | None
    target: dict[str, Any] | None
    derived: dict[str, Any] | None = Field(
        description="numerator, denominator and multiplier when computed, never collected."
    )
    status: str
    version: int
    effective_from: str
    requesters: list[str] = Field(description="Who uses this metric, directly or derived.")
    requested_as: list[UsedBy]


class MetricList(_Out):
    catalog_version: str
    metrics: list[MetricInfo]


class PublicationList(_Out):
    publications: list[dict[str, Any]]
