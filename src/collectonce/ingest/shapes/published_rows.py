"""Conversion of NHS England's published monthly A&E file to canonical rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute

from collectonce.contracts import CODED_ROWS
from collectonce.ingest.formats import RawBatch, make_finding
from collectonce.ingest.normalise.periods import PERIOD_OK
from collectonce.ingest.normalise.text import repeat_dictionary
from collectonce.ingest.normalise.values import (
    STATUS_MISSING,
    STATUS_REPORTED,
    STATUS_SUPPRESSED,
    VALUE_OK,
    parse_values_arrow,
)
from collectonce.ingest.published_ae import (
    PublishedColumns,
)
from collectonce.ingest.shapes.rows import (
    Converted,
    ConverterBase,
    as_dictionary,
    as_numpy,
    null_mask,
    text_at,
)
from collectonce.ingest.shapes.targets import Target
from collectonce.validate.findings import Finding

#: pyarrow.compute makes its kernels when pyarrow loads, so a type checker knows none by name.
pc: Any = _compute


class PublishedRows(ConverterBase):
    """One row per organisation and month; the total row is skipped."""

    def _total_rows(self, batch: RawBatch, columns: PublishedColumns) -> np.ndarray:
        """Per row, the column whose cell marks it as the total row (organisation, period or
        name), or -1."""
        marked = np.full(batch.num_rows, -1, dtype=np.int64)
        for index in (self.layout.provider, self.layout.period, *columns.labels):
            cells = as_dictionary(batch.cells[index])
            marks = np.array([columns.is_total(t) for t in cells.dictionary.to_pylist()] + [False])
            if not marks.any():
                continue
            at = np.where(
                null_mask(cells), len(marks) - 1, as_numpy(pc.fill_null(cells.indices, 0))
            )
            marked[marks[at.astype(np.int64)] & (marked < 0)] = index
        return marked

    def _convert_published(self, batch: RawBatch) -> Converted:
        """One row per organisation and month → one value per metric: each metric the sum of its
        columns (see `collectonce.ingest.published_ae`); the total row is not stored."""
        layout = self.layout
        columns = layout.published
        assert columns is not None
        rows = batch.source_row
        n = len(rows)
        findings: list[Finding] = []
        marked = self._total_rows(batch, columns)
        total = marked >= 0
        provider, period_raw, bad = self._keys(batch, findings, skip=total)
        for i in self._listed("item_not_stored", "warning", np.flatnonzero(total)):
            at = int(marked[i])
            findings.append(
                make_finding(
                    self.file,
                    "item_not_stored",
                    "This is the total row; it is skipped (counted as skipped on the receipt, "
                    "not stored), because collectonce adds up the organisations' figures itself. "
                    "Nothing to fix.",
                    severity="warning",
                    row=int(rows[i]),
                    column=self.header[at],
                    value=text_at(batch.cells[at], int(i)),
                )
            )

        # Periods (every metric of the file is monthly).
        targets = self.resolver.published_targets()
        grains = {targets[m].grain for m, _c in layout.sums}
        grain = grains.pop() if len(grains) == 1 else 0
        period_target = Target("metric", None, grain, label="A&E figures")
        periods = self._read_periods(
            period_raw, grain, rows, period_target, None, bad | total, findings
        )
        key_error = (bad | (periods.problem != PERIOD_OK)) & ~total

        # Each column used is parsed once, whatever number of metrics it goes into.
        metric_of: dict[int, str] = {}
        for metric, indices in layout.sums:
            for index in indices:
                metric_of.setdefault(index, metric)
        parsed: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        cell_error: dict[int, np.ndarray] = {}
        for index in sorted(metric_of):
            target = targets[metric_of[index]]
            value_raw = batch.cells[index]
            values = parse_values_arrow(value_raw)
            percent_bad = values.percent & (target.unit not in (None, "percent"))
            if values.any_problem or percent_bad.any():
                self._value_findings(
                    values.problem,
                    percent_bad,
                    value_raw,
                    rows,
                    self.header[index],
                    target,
                    None,
                    key_error | total,
                    findings,
                )
            cell_error[index] = ((values.problem != VALUE_OK) | percent_bad) & ~total
            number = np.asarray(as_numpy(values.value.fill_null(np.nan)), dtype=np.float64)
            parsed[index] = (number, values.status)
        row_error = key_error.copy()
        for error in cell_error.values():
            row_error |= error

        comment = self._comments(batch)
        pieces: list[pa.Table] = []
        for metric, indices in layout.sums:
            numbers = np.stack([parsed[i][0] for i in indices])
            statuses = np.stack([parsed[i][1] for i in indices])
            suppressed = (statuses == STATUS_SUPPRESSED).any(axis=0)
            missing = (statuses == STATUS_MISSING).all(axis=0)
            status = np.where(
                suppressed, STATUS_SUPPRESSED, np.where(missing, STATUS_MISSING, STATUS_REPORTED)
            ).astype(np.int8)
            value = np.where(statuses == STATUS_REPORTED, numbers, 0.0).sum(axis=0)
            keep = ~key_error & ~total
            for index in indices:
                keep &= ~cell_error[index]
            piece = self._table(
                provider,
                periods.period,
                repeat_dictionary(metric, n),
                pa.array(value, type=pa.float64(), mask=status != STATUS_REPORTED),
                status,
                comment,
                rows,
                repeat_dictionary(" + ".join(self.header[i] for i in indices), n),
            )
            pieces.append(piece if keep.all() else piece.filter(pa.array(keep)))
        table = pa.concat_tables(pieces) if pieces else CODED_ROWS.empty_table()
        return self._converted(table, findings, batch, row_error, skipped=total)
