"""One validation run over one or many files, in bounded memory.

A `ValidationRun` is fed canonical rows batch by batch (from one file, or from a thousand). While
the batches stream in it keeps only compact per-row codes (about 30 bytes a row, see `rows`) and
spills the rows themselves to an Arrow IPC file once they outgrow memory (`spill`). `check` then
runs both Great Expectations suites once for the whole run (the distinct-values frame and the
provider × period pivot, see `suites`) and the rule families in `checks` that need nothing but
the run's own rows. `finish` adds what depends on the values already held (`history`: a
cross-metric rule completed by a held value, same fact or revision, outliers against the
provider's history), decides for every row whether it is rejected, accepted and stored, or
accepted as a fact already held, and writes the findings (`listing`, in the words of each
rule family). `iter_batches` streams the rows back with those decisions, ready to store.

This module is the orchestration only: the order of the checks and the decisions. Each rule
family (`checks.catalogue`, `scope`, `keys`, `wide`, `metrics`, `flags`) holds its own checks and
the message of each of its rules.

`check` reads nothing stored, so runs over different files can do it side by side; only `finish`
needs to see what the other runs have stored.

Decisions:

- An error on any value of a source row rejects the whole source row (every value in it).
- A warning accepts the row, flagged: its rules are kept in the stored row's ``warnings``.
- A value identical (same value and status) to the one already held for its provider, period and
  metric is the same fact: it is accepted but not stored again. So one fact arriving through two
  legacy returns is stored once, and ``revision`` counts distinct versions.
- A different value is a revision: stored, and the latest received wins. When the value held
  came through a different template (two returns disagree about one fact) the row is accepted
  with a ``conflicting_key`` warning naming the earlier submission, so the disagreement is seen.
- A blank (missing) never overwrites a value already held.
- Files of one run are taken in the order given: a later file's value supersedes an earlier one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collectonce.catalog import Catalog
from collectonce.contracts import CODED_ROWS
from collectonce.findings import Finding
from collectonce.validate.checks import catalogue, flags, keys, metrics, scope, wide
from collectonce.validate.growing import GrowingColumn
from collectonce.validate.held_rows import Codes, HeldRows
from collectonce.validate.history import History
from collectonce.validate.listing import (
    MAX_FINDINGS_PER_RULE,
    RowNotes,
    file_results,
    join_rules,
)
from collectonce.validate.rows import (
    DAY_OFFSET,
    DAY_SPAN,
    OTHER_STATUS,
    PROVIDER_SPAN,
    ROW_BITS,
    STATUS_CODE,
    Checked,
    Context,
    Decisions,
    FileInput,
    FileResult,
    GroupCodes,
    Listed,
    RowBatch,
    RowCodes,
    TextCodes,
)


class ValidationRun:
    """Validate canonical rows from one or many files together (see the module docstring)."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        today: dt.date,
        outlier_threshold: float = 6.0,
        spill_dir: Path | None = None,
        spill_rows: int = 1_000_000,
        max_findings: int = MAX_FINDINGS_PER_RULE,
    ) -> None:
        self.catalog = catalog
        self.today = today
        self.outlier_threshold = outlier_threshold
        self.max_findings = max_findings
        self.files: list[FileInput] = []
        self.metric_codes = sorted(m.code for m in catalog.collected_metrics)
        self.metric_pos = {code: i for i, code in enumerate(self.metric_codes)}
        self._providers = TextCodes()
        self._metrics = TextCodes()
        self._columns = TextCodes()
        self._statuses = TextCodes()
        self._groups: dict[int, int] = {}
        self._group_file: list[int] = []
        self._group_provider: list[int] = []
        self._group_day: list[int] = []
        self._parts: dict[str, GrowingColumn] = {
            "row": GrowingColumn(np.int64),
            "group": GrowingColumn(np.int32),
            "metric": GrowingColumn(np.int32),
            "status": GrowingColumn(np.int16),
            "value": GrowingColumn(np.float64),
            "column": GrowingColumn(np.int32),
        }
        #: Besides the codes: each batch's length, null cells and comments (see `held_rows`).
        #: Rows are rebuilt from the codes, so nothing is spilled to disk (`spill_dir` and
        #: `spill_rows` are accepted for compatibility).
        self._held = HeldRows()
        self._kept: RowCodes | None = None
        self._checked: Checked | None = None
        self._decisions: Decisions | None = None
        self._warn_notes = RowNotes.none()
        self._reason_notes = RowNotes.none()
        #: Receives each Great Expectations result of this run (for Data Docs), when set.
        self.on_gx_result: Callable[[str, Any], None] | None = None

    # ------------------------------------------------------------------ intake

    def add_file(self, name: str, *, as_provider: str | None = None) -> FileInput:
        file = FileInput(index=len(self.files), name=name, as_provider=as_provider or None)
        self.files.append(file)
        return file

    def add_batch(
        self,
        file: FileInput,
        table: pa.Table,
        *,
        rows_read: int = 0,
        rows_skipped: int = 0,
        template: str | None = None,
        findings: list[Finding] | None = None,
        file_error: Finding | None = None,
        error_rows: np.ndarray | None = None,
        rejected: pa.Table | None = None,
    ) -> None:
        """Add one batch of a file's canonical rows (and what reading it found: the rows it
        rejected, and those rows as they were sent)."""
        if self._checked is not None or self._decisions is not None:
            raise RuntimeError("add every batch before check() or finish()")
        file.rows_read += rows_read
        file.rows_skipped += rows_skipped
        if template:
            file.template = template
        file.read_findings.extend(findings or [])
        if file_error is not None:
            file.file_error = file_error
        if error_rows is not None and len(error_rows):
            file.read_error_rows.append(np.asarray(error_rows, dtype=np.int64))
        if rejected is not None and rejected.num_rows:
            file.read_rejected.append(rejected)
        if table is None or table.num_rows == 0:
            return
        table = table.select(CODED_ROWS.names)
        if not table.schema.equals(CODED_ROWS):
            table = table.cast(CODED_ROWS)
        providers = self._providers.encode(table["provider_code"])
        days = table["period"].combine_chunks().cast(pa.int32()).to_numpy(zero_copy_only=False)
        group_keys = (
            np.int64(file.index) * (PROVIDER_SPAN * DAY_SPAN)
            + providers.astype(np.int64) * DAY_SPAN
            + (days.astype(np.int64) + DAY_OFFSET)
        )
        codes, uniques = pd.factorize(group_keys)
        mapping = np.empty(len(uniques), dtype=np.int32)
        for i, key in enumerate(uniques.tolist()):
            found = self._groups.get(key)
            if found is None:
                found = len(self._group_file)
                self._groups[key] = found
                self._group_file.append(file.index)
                self._group_provider.append(int((key // DAY_SPAN) % PROVIDER_SPAN))
                self._group_day.append(int(key % DAY_SPAN) - DAY_OFFSET)
            mapping[i] = found
        parts = self._parts
        parts["group"].append(mapping[codes])
        parts["row"].append(table["source_row"].to_numpy())
        parts["metric"].append(self._metrics.encode(table["metric_id"]))
        parts["status"].append(self._statuses.encode(table["value_status"]))
        parts["value"].append(
            table["value"].to_numpy()
            if table["value"].null_count == 0
            else pc.fill_null(table["value"], np.nan).to_numpy()
        )
        parts["column"].append(self._columns.encode(table["source_column"]))
        self._held.add(table)

    @property
    def provider_codes(self) -> list[str]:
        """Every provider code seen so far."""
        return list(self._providers.texts)

    def store_count(self, skip_files: np.ndarray | None = None) -> int:
        """Values `finish` decided to store (leaving out files marked in `skip_files`)."""
        if self._decisions is None:
            return 0
        store = self._decisions.store
        if skip_files is not None and len(store):
            store = store & ~skip_files[self._decisions.file]
        return int(store.sum())

    # ------------------------------------------------------------------ decide

    def _rows(self) -> RowCodes:
        parts = self._parts
        return RowCodes(
            row=parts["row"].take(),
            group=parts["group"].take(),
            metric=parts["metric"].take(),
            status=parts["status"].take(),
            value=parts["value"].take(),
            column=parts["column"].take(),
        )

    def check(self) -> None:
        """Run the checks that need nothing but this run's own rows: the canonical-rows suite,
        who may submit what, repeated keys, the provider × period suite over the run's own
        values (valid ranges, cross-metric rules), whole numbers and metric dates.

        None of them reads what is stored, so runs over different files may check side by side;
        `finish` then adds the checks against the values already held, and decides. `finish`
        calls this when it has not been called; no batch may be added after it.
        """
        if self._checked is not None or self._decisions is not None:
            return
        r = self._rows()
        self._kept = r  # to rebuild the rows in `iter_batches`
        n = len(r.row)
        groups = GroupCodes(
            file=np.asarray(self._group_file or [0], dtype=np.int32),
            provider=np.asarray(self._group_provider or [0], dtype=np.int32),
            day=np.asarray(self._group_day or [0], dtype=np.int32),
        )
        group_file = groups.file
        metric_texts = self._metrics.texts
        m_count = len(self.metric_codes)
        mpos_of_text = np.array(
            [self.metric_pos.get(t, -1) for t in metric_texts] or [-1], dtype=np.int32
        )
        mpos = mpos_of_text[r.metric]
        status_code_of_text = np.array(
            [STATUS_CODE.get(t, OTHER_STATUS) for t in self._statuses.texts] or [0],
            dtype=np.int16,
        )
        status = status_code_of_text[r.status]
        ctx = Context(self, r, groups, mpos, status)
        checked = Checked(ctx=ctx, group_file=group_file)
        errors = checked.errors

        # 1. The canonical-rows suite on the distinct values of each column.
        if n:
            for rule, mask, column in catalogue.long_checks(self, ctx):
                errors.append(Listed(rule, "error", np.flatnonzero(mask), column))

        # 2. Who may submit what.
        scope.check(self, ctx, checked)

        # 3. Repeated keys within a file.
        keys.check(ctx, checked, len(group_file), m_count)
        has_cell, clashes = checked.has_cell, ctx.clashes
        assert clashes is not None
        # 4. (in `finish`: the values held for the keys of this run)

        # 5. The provider × period suite over this run's values: valid ranges and cross-metric
        # rules (`finish` adds the rules that a value already held completes).
        checked.wide_cells = has_cell & ~clashes.duplicate & ~clashes.conflict
        checked.errors_at = len(errors)
        if n and m_count:
            checked.wide_failures = wide.own_failures(self, ctx, checked)

        # 6. Whole numbers, metric dates.
        if n and m_count:
            metrics.check(self, ctx, checked)
        self._checked = checked

    def finish(
        self, history: pd.DataFrame | None = None, *, withdrawn: Collection[int] = ()
    ) -> list[FileResult]:
        """Check against the values already held, decide every row; one result per file.

        `history` is the latest value held per provider × period × metric (as
        ``current_values`` gives it): it completes cross-metric rules, tells a fact already held
        from a revision, and is the provider's own history for the outlier check. The rows of
        the files in `withdrawn` (received meanwhile by another run) are neither compared nor
        stored: the other files are decided as if those were not in the run.
        """
        if self._decisions is not None:
            raise RuntimeError("finish() is called once")
        self.check()
        checked = self._checked
        assert checked is not None
        self._checked = None  # the per-row arrays go once the results are written
        ctx = checked.ctx
        file_of, key = ctx.file_of, ctx.key
        n = len(key)
        m_count = len(self.metric_codes)
        has_cell, clashes = checked.has_cell, ctx.clashes
        assert clashes is not None
        gone = np.zeros(max(len(self.files), 1), dtype=bool)
        gone[[i for i in withdrawn if 0 <= i < len(gone)]] = True
        warnings = list(checked.warnings)

        # 4. History held for the keys of this run.
        hist = History.build(history, self, m_count)

        # 5. The cross-metric rules that a value already held completes.
        errors = list(checked.errors)
        if n and m_count:
            failures = wide.held_failures(self, ctx, checked, hist, ~gone[checked.group_file])
            errors[checked.errors_at : checked.errors_at] = wide.listed(
                self, ctx, checked, failures
            )

        # 7. Reject whole source rows.
        error_any = np.zeros(n, dtype=bool)
        for item in errors:
            error_any[item.positions] = True
        read_keys = [
            (np.int64(f.index) << ROW_BITS) | np.asarray(a, dtype=np.int64)
            for f in self.files
            for a in f.read_error_rows
        ]
        broken = np.array([f.file_error is not None for f in self.files] or [False])
        if broken.any():
            error_any |= broken[file_of]
        rejected_keys = np.unique(
            np.concatenate([np.zeros(0, dtype=np.int64), key[error_any], *read_keys])
        )
        if len(rejected_keys) and n:
            rejected = np.isin(key, rejected_keys)
        else:
            rejected = np.zeros(n, dtype=bool)

        # 8. Compare with what is held: same fact, revision, or disagreement between returns.
        candidate = has_cell & ~rejected & ~clashes.duplicate
        if gone.any():
            candidate &= ~gone[file_of]
        held = hist.compare(ctx, candidate, [f.template for f in self.files])
        store = candidate & ~held.unchanged & ~held.blank_kept
        warnings.append(Listed("conflicting_key", "warning", np.flatnonzero(held.disagree)))
        ctx.held = held

        # 9. Warnings on accepted rows.
        warnings.extend(flags.check(self, ctx, hist, candidate, held, rejected, has_cell))
        warnings = [
            Listed(w.rule, w.severity, w.positions[~rejected[w.positions]], w.column)
            for w in warnings
        ]

        # 10. Per-row notes for storing and quarantine.
        self._warn_notes = join_rules(warnings, n)
        self._reason_notes = join_rules(errors, n, only=rejected)
        self._decisions = Decisions(store=store, rejected=rejected, file=file_of)

        # 11. Results per file.
        results = file_results(self, ctx, errors, warnings, rejected_keys, store, held, clashes)
        return results

    # ------------------------------------------------------------------ stream back

    def iter_batches(self) -> Iterator[RowBatch]:
        """The rows again, in the order added, with the decisions of `finish`."""
        if self._decisions is None:
            raise RuntimeError("call finish() before iter_batches()")
        decisions = self._decisions
        offset = 0
        kept = self._kept if self._kept is not None else self._rows()
        codes = Codes(
            group=kept.group,
            group_provider=np.asarray(self._group_provider or [0], dtype=np.int32),
            group_day=np.asarray(self._group_day or [0], dtype=np.int32),
            metric=kept.metric,
            status=kept.status,
            column=kept.column,
            value=kept.value,
            row=kept.row,
            providers=self._providers.texts,
            metrics=self._metrics.texts,
            statuses=self._statuses.texts,
            columns=self._columns.texts,
        )
        for table in self._held.tables(codes):
            n = table.num_rows
            stop = offset + n
            yield RowBatch(
                table=table,
                file=decisions.file[offset:stop],
                store=decisions.store[offset:stop],
                rejected=decisions.rejected[offset:stop],
                warnings=self._warn_notes.of(offset, stop),
                reasons=self._reason_notes.of(offset, stop),
            )
            offset = stop

    def close(self) -> None:
        self._held = HeldRows()
        self._kept = None
