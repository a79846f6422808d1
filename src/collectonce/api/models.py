"""The shapes the pull API answers with, as they appear in its OpenAPI document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from collectonce.store.receipts import Receipt as StoredReceipt

#: Receipt fields that locate files on the server (the archived upload, the quarantine folder,
#: the HTML validation report): the data team's CLI shows them, the API never does.
SERVER_ONLY_RECEIPT_FIELDS = frozenset({"archive", "quarantine", "report"})


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
    upload_processes: int = Field(
        default=0,
        description="Processes that check uploads (0: uploads are checked in the server itself).",
    )
    upload_processes_warm: int = Field(default=0, description="How many of them have warmed up.")
    uploads_ready: bool = Field(
        default=True,
        description="Uploads are checked at full speed: every upload process (or, with none, "
        "the server) has warmed up. Uploads are accepted before, only more slowly.",
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


class Finding(_Out):
    """One error (the row was not stored) or warning (stored, flagged) a file got."""

    file: str
    row: int | None = Field(description="The row as a person sees it (header = 1); null: the file.")
    column: str | None
    metric: str | None
    rule: str
    severity: Literal["error", "warning"]
    message: str
    value: str | None = Field(description="The value sent, as text.")


class EarlierAttempt(_Out):
    """An earlier attempt at a file that was processed again."""

    attempt: int
    status: str
    received_at: str
    original_name: str
    engine_version: str | None
    catalog_version: str | None
    errors: list[str] = Field(description="The first errors that attempt found, `rule: message`.")


class Receipt(_Out):
    """The receipt `collectonce submit --json` prints, without the server's file locations
    (archive, quarantine and report)."""

    submission_id: str
    status: Literal[
        "accepted", "accepted_with_warnings", "partially_accepted", "rejected", "duplicate"
    ]
    dry_run: bool = False
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    rows_skipped: int = 0
    errors: int = Field(default=0, description="How many findings are errors.")
    warnings: int = Field(default=0, description="How many findings are warnings.")
    findings: list[Finding]
    file_sha256: str
    original_name: str | None = None
    size_bytes: int = 0
    submitted_by: str
    as_provider: str | None = Field(
        default=None, description="The provider whose token sent the file (null: the data team)."
    )
    received_at: str
    template: str | None = None
    providers: list[str]
    periods: list[str]
    values_stored: int = 0
    values_unchanged: int = 0
    values_revised: int = 0
    values_duplicate: int = 0
    catalog_version: str | None = None
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
    earlier: list[EarlierAttempt] = Field(default_factory=list)
    original_status: str | None = Field(
        default=None, description="For a duplicate: what the first sending got."
    )
    duplicate_received_at: str | None = Field(
        default=None, description="For a duplicate: when the copy arrived."
    )

    @classmethod
    def of(cls, receipt: StoredReceipt) -> Receipt:
        """A stored receipt as an API caller sees it: without the server's file locations."""
        body = receipt.to_dict()
        for name in SERVER_ONLY_RECEIPT_FIELDS:
            body.pop(name, None)
        return cls.model_validate(body)


class RollupRow(_Out):
    level: Literal["icb", "region", "england"]
    code: str = Field(description="The board, the region or England.")
    period: str = Field(description="At the metric's own grain, as views write it.")
    value: int | float | None = Field(
        description="A whole number for a count; null when no provider contributed."
    )
    providers: int = Field(description="Providers whose figures make up the value.")
    providers_expected: int
    partial: bool = Field(description="Whether some expected providers are missing.")


class Rollups(_Out):
    metric: str
    level: Literal["icb", "region", "england"]
    publication_version: int
    rows: list[RollupRow]


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


class Publication(_Out):
    """One publication: an atomic, versioned commit of the unified table."""

    version: int
    published_at: str | None
    catalog_version: str
    counts: dict[str, int] = Field(description="Rows, providers, revised and late values.")
    content_hash: str
    committed_at: str | None = Field(description="When the table commit was made.")


class PublicationList(_Out):
    publications: list[Publication]
