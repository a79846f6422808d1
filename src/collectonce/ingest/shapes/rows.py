"""Conversion to canonical long rows, the pieces every layout shares: the result, the finding
budget, the key columns, period and value findings and the canonical table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute

from collectonce.contracts import CODED_ROWS
from collectonce.ingest.formats import RawBatch, make_finding, row_texts
from collectonce.ingest.normalise.periods import (
    PERIOD_BLANK,
    PERIOD_OK,
    PERIOD_TOO_COARSE,
    PERIOD_UNREADABLE,
    PERIOD_YEAR_KIND,
    PeriodParse,
    normalise_periods_arrow,
)
from collectonce.ingest.normalise.text import (
    coded_text,
    normalise_provider_codes_arrow,
    trim_text,
)
from collectonce.ingest.normalise.values import (
    VALUE_OK,
    status_array,
)
from collectonce.ingest.shapes.layout import Layout
from collectonce.ingest.shapes.messages import period_message, value_message
from collectonce.ingest.shapes.roles import repeated_columns
from collectonce.ingest.shapes.targets import Resolver, Target
from collectonce.validate.findings import Finding

#: pyarrow.compute makes its kernels when pyarrow loads, so a type checker knows none by name.
pc: Any = _compute


class FindingBudget:
    """Lists at most `limit` findings per rule and severity in a file; counts the rest.

    Converters ask `allow` before building findings, so a file with a million bad rows costs
    a count, not a million messages.
    """

    def __init__(self, file: str, limit: int = 1000) -> None:
        self.file = file
        self.limit = limit
        self.counts: Counter[tuple[str, str]] = Counter()
        #: Rules whose unlisted findings are about columns or the file, not rows.
        self.unlisted_columns: set[tuple[str, str]] = set()

    def allow(self, rule: str, severity: str, wanted: int) -> int:
        """Record `wanted` findings of a rule; return how many of them may be listed."""
        key = (rule, severity)
        room = max(0, self.limit - self.counts[key])
        self.counts[key] += wanted
        return min(room, wanted)

    def take(self, findings: list[Finding]) -> list[Finding]:
        """Keep the findings that fit (file-level ones count too: a header of 100,000 unknown
        columns lists 1,000 of them and counts the rest)."""
        out: list[Finding] = []
        for f in findings:
            if self.allow(f.rule, f.severity, 1):
                out.append(f)
            elif f.row is None:
                self.unlisted_columns.add((f.rule, f.severity))
        return out

    def summary(self) -> list[Finding]:
        """One finding per rule that overflowed, counting the rows not listed."""
        out: list[Finding] = []
        for (rule, severity), count in sorted(self.counts.items()):
            if count > self.limit:
                what = "columns" if (rule, severity) in self.unlisted_columns else "rows"
                out.append(
                    make_finding(
                        self.file,
                        rule,
                        f"{count - self.limit:,} more {what} have this problem ({rule}); only "
                        f"the first {self.limit:,} are listed. Fix them all the same way.",
                        severity=severity,
                    )
                )
        return out


@dataclass
class Converted:
    table: pa.Table
    findings: list[Finding]
    error_rows: np.ndarray
    #: Each row of `error_rows` as it was sent (its cells joined by the file's delimiter).
    sent: pa.Array | None = None
    #: Rows read but deliberately not stored (a published file's total row), each with a
    #: warning: neither accepted nor rejected.
    rows_skipped: int = 0


def reject_rows(
    converted: Converted, rows: np.ndarray, sent: pa.Array | None, findings: list[Finding]
) -> Converted:
    """`converted` without the values of `rows`, which become rejected rows (with `sent`)."""
    drop = pc.is_in(converted.table["source_row"], value_set=pa.array(rows, pa.int64()))
    table = converted.table.filter(pc.invert(drop))
    known = np.asarray(converted.error_rows, dtype=np.int64)
    new = ~np.isin(rows, known)
    old_sent = converted.sent
    if old_sent is None:
        old_sent = pa.nulls(len(known), pa.string())
    add_sent = pa.nulls(int(new.sum()), pa.string())
    if sent is not None:
        add_sent = sent.filter(pa.array(new))
    return Converted(
        table,
        converted.findings + findings,
        np.concatenate([known, rows[new]]),
        pa.concat_arrays([old_sent.cast(pa.string()), add_sent.cast(pa.string())]),
    )


def as_numpy(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False))


def null_mask(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def as_dictionary(arr: pa.Array) -> pa.DictionaryArray:
    if pa.types.is_dictionary(arr.type):
        return arr
    return pc.dictionary_encode(arr)


def text_at(arr: pa.Array, i: int) -> str | None:
    value = arr[i].as_py()
    return None if value is None else str(value)


def plain_text(arr: pa.Array) -> pa.Array:
    return arr.cast(pa.string()) if pa.types.is_dictionary(arr.type) else arr


def _target_at(targets: list[Target] | Target, target_index: np.ndarray | None, i: int) -> Target:
    """Row i's target: the one for the whole column, or its own (`target_index` into the list)."""
    if isinstance(targets, Target):
        return targets
    assert target_index is not None, "a list of targets comes with each row's index into it"
    return targets[int(target_index[i])]


class ConverterBase:
    """What converting any layout shares: the file, its header and the finding budget."""

    def __init__(
        self,
        layout: Layout,
        resolver: Resolver,
        header: Sequence[str],
        file: str,
        budget: FindingBudget | None = None,
        delimiter: str = ",",
    ) -> None:
        self.layout = layout
        self.resolver = resolver
        self.header = list(header)
        self.file = file
        self.budget = budget or FindingBudget(file)
        self.delimiter = delimiter
        self._held: list[RawBatch] = []
        self._repeats = repeated_columns(self.header)
        #: Rows of held batches whose repeated columns disagree (converted in `finish`).
        self._held_conflicts: list[tuple[np.ndarray, pa.Array | None, list[Finding]]] = []

    def _listed(self, rule: str, severity: str, where: np.ndarray) -> np.ndarray:
        """The positions (of `where`) to list findings for, within the budget."""
        return where[: self.budget.allow(rule, severity, len(where))]

    def _converted(
        self,
        table: pa.Table,
        findings: list[Finding],
        batch: RawBatch,
        row_error: np.ndarray,
        skipped: np.ndarray | None = None,
    ) -> Converted:
        """The result of converting `batch`: its rejected rows with the text they were sent as,
        and how many of the other rows were `skipped` (read, not stored, not in error)."""
        where = np.flatnonzero(row_error)
        sent = row_texts(batch.cells, where, self.delimiter) if len(where) else None
        n_skipped = int((skipped & ~row_error).sum()) if skipped is not None else 0
        return Converted(table, findings, batch.source_row[where], sent, n_skipped)

    def _keys(
        self, batch: RawBatch, findings: list[Finding], skip: np.ndarray | None = None
    ) -> tuple[pa.Array, pa.Array, np.ndarray]:
        """Provider codes and raw period texts, and a mask of rows missing either (rows in
        `skip` are not checked)."""
        layout = self.layout
        provider = normalise_provider_codes_arrow(batch.cells[layout.provider], dictionary=True)
        period_raw = batch.cells[layout.period]
        blank_provider = null_mask(provider)
        if skip is not None:
            blank_provider &= ~skip
        bad = blank_provider.copy()
        for i in self._listed("required_value", "error", np.flatnonzero(blank_provider)):
            findings.append(
                make_finding(
                    self.file,
                    "required_value",
                    "The provider code is blank. Enter the trust's ODS code (for example RF4) "
                    "in this row.",
                    row=int(batch.source_row[i]),
                    column=self.header[layout.provider],
                )
            )
        return provider, period_raw, bad

    def _read_periods(
        self,
        period_raw: pa.Array,
        grain: np.ndarray | int,
        rows: np.ndarray,
        targets: list[Target] | Target,
        target_index: np.ndarray | None,
        skip: np.ndarray,
        findings: list[Finding],
    ) -> PeriodParse:
        """The rows' periods at `grain`, each unreadable one listed in `findings`."""
        periods = normalise_periods_arrow(period_raw, grain)
        if periods.any_problem:
            self._period_findings(
                periods.problem,
                periods.given_grain,
                period_raw,
                rows,
                targets,
                target_index,
                skip,
                findings,
            )
        return periods

    def _period_findings(
        self,
        problem: np.ndarray,
        given: np.ndarray,
        period_raw: pa.Array,
        rows: np.ndarray,
        targets: list[Target] | Target,
        target_index: np.ndarray | None,
        skip: np.ndarray,
        findings: list[Finding],
        *,
        grain_only: bool = False,
    ) -> None:
        column = self.header[self.layout.period]
        flagged = np.flatnonzero((problem != PERIOD_OK) & ~skip)
        listed: list[np.ndarray] = []
        for code, rule in (
            (PERIOD_BLANK, "required_value"),
            (PERIOD_TOO_COARSE, "period_grain"),
            (PERIOD_YEAR_KIND, "period_grain"),
            (PERIOD_UNREADABLE, "type_period"),
        ):
            if grain_only and code not in (PERIOD_TOO_COARSE, PERIOD_YEAR_KIND):
                continue
            listed.append(self._listed(rule, "error", flagged[problem[flagged] == code]))
        for i in np.sort(np.concatenate(listed)) if listed else flagged[:0]:
            target = _target_at(targets, target_index, int(i))
            raw = text_at(period_raw, int(i))
            rule, message = period_message(
                int(problem[i]), target, raw, int(given[i]), self.resolver
            )
            findings.append(
                make_finding(
                    self.file,
                    rule,
                    message,
                    row=int(rows[i]),
                    column=column,
                    metric=target.metric,
                    value=raw,
                )
            )

    def _value_findings(
        self,
        parsed_problem: np.ndarray,
        percent_bad: np.ndarray,
        value_raw: pa.Array,
        rows: np.ndarray,
        column: str,
        targets: list[Target] | Target,
        target_index: np.ndarray | None,
        skip: np.ndarray,
        findings: list[Finding],
    ) -> None:
        flagged = np.flatnonzero(((parsed_problem != VALUE_OK) | percent_bad) & ~skip)
        for i in self._listed("type_number", "error", flagged):
            target = _target_at(targets, target_index, int(i))
            raw = text_at(value_raw, int(i)) or ""
            message = value_message(int(parsed_problem[i]), raw, target, self.resolver)
            findings.append(
                make_finding(
                    self.file,
                    "type_number",
                    message,
                    row=int(rows[i]),
                    column=column,
                    metric=target.metric,
                    value=raw,
                )
            )

    def _comments(self, batch: RawBatch) -> pa.Array:
        """The comment column's cells, trimmed (all blank when the file has none)."""
        if self.layout.comment is None:
            return pa.nulls(batch.num_rows, pa.string())
        return trim_text(batch.cells[self.layout.comment].cast(pa.string()))

    def _table(
        self,
        provider: pa.Array,
        period: pa.Array,
        metric: pa.Array,
        value: pa.Array,
        status: np.ndarray,
        comment: pa.Array,
        rows: np.ndarray,
        source_column: pa.Array,
    ) -> pa.Table:
        return pa.Table.from_arrays(
            [
                coded_text(provider),
                period,
                coded_text(metric),
                value,
                status_array(status),
                comment.cast(pa.string()),
                pa.array(rows, type=pa.int64()),
                coded_text(source_column),
            ],
            schema=CODED_ROWS,
        )
