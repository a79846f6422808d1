"""Wording: the plain-English finding for one row and rule. Each rule family writes its own
message (see `checks`); this module supplies what every message quotes (metric, provider,
period, value) and builds the finding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collectonce.findings import Finding, Severity, fmt_number, show_value
from collectonce.validate.rows import MISSING, SUPPRESSED, Context, from_day_number, period_label

if TYPE_CHECKING:
    from collectonce.validate.run import ValidationRun


@dataclass(frozen=True)
class Spot:
    """The value a message is about: what every message quotes, as people read it."""

    pos: int  # its position in the run (index into the per-row arrays)
    metric: str  # the metric code as sent
    provider: str
    period: str  # as written for people: 2019-01, 2018/19 Q4
    value: str  # as shown in a message: 16,428, * or (blank)


#: A rule's message, and the column it is about (None keeps the row's source column).
Message = tuple[str, str | None]
#: A rule's message writer.
Writer = Callable[["Wording", Spot], Message]


class Wording:
    """Plain-English findings: what is wrong with the row and how to fix it."""

    def __init__(self, run: ValidationRun, ctx: Context, writers: dict[str, Writer]) -> None:
        self.run = run
        self.ctx = ctx
        self.catalog = run.catalog
        self.writers = writers

    def metric(self, p: int) -> str:
        return self.run._metrics.texts[int(self.ctx.r.metric[p])]

    def label(self, code: str) -> str:
        metric = self.catalog.metrics.get(code)
        return f"{metric.label} ({code})" if metric else code

    def period(self, p: int, code: str | None = None) -> str:
        metric = self.catalog.metrics.get(code or "")
        grain = metric.grain.period if metric else "month"
        return period_label(from_day_number(int(self.ctx.groups.day[self.ctx.r.group[p]])), grain)

    def provider(self, p: int) -> str:
        return self.run._providers.texts[int(self.ctx.groups.provider[self.ctx.r.group[p]])]

    def value_text(self, p: int, pretty: bool = False) -> str:
        status = int(self.ctx.status[p])
        if status == SUPPRESSED:
            return "*"
        if status == MISSING:
            return "(blank)"
        value = float(self.ctx.r.value[p])
        return fmt_number(value) if pretty else show_value(value)

    def finding(self, rule: str, severity: Severity, p: int) -> Finding:
        ctx = self.ctx
        code = self.metric(p)
        provider = self.provider(p)
        period = self.period(p, code)
        value = self.value_text(p)
        shown = self.value_text(p, pretty=True)
        column: str | None = self.run._columns.texts[int(ctx.r.column[p])] or None
        metric: str | None = code or None
        where = f"{provider} {period}"
        write = self.writers.get(rule)
        if write is None:
            message = f"Rule {rule} failed for {self.label(code)} ({where}, value {value})."
        else:
            message, column_override = write(self, Spot(p, code, provider, period, shown))
            if column_override is not None:
                column = column_override
        if rule in ("known_metric", "metric_active") and (column or "").lower() == "value":
            column = "metric_id"  # a long row: the metric code is in its own column
        if rule in ("known_provider", "provider_scope"):
            value = provider
        elif rule == "future_period":
            value = period
        elif rule in ("known_metric", "metric_active") and column in (None, "metric_id"):
            value = code
        return Finding(
            file=self.run.files[int(ctx.groups.file[ctx.r.group[p]])].name,
            row=int(ctx.r.row[p]),
            column=column,
            metric=metric,
            rule=rule,
            severity=severity,
            message=message,
            value=value,
        )
