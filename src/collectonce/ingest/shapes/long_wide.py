"""Conversion of the canonical and request templates, long and wide, to canonical rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute

from collectonce.contracts import CODED_ROWS
from collectonce.ingest.formats import RawBatch, make_finding
from collectonce.ingest.normalise.periods import PERIOD_OK, normalise_periods_arrow
from collectonce.ingest.normalise.text import (
    header_key,
    normalise_metric_ids_arrow,
    repeat_dictionary,
)
from collectonce.ingest.normalise.values import VALUE_OK, parse_values_arrow
from collectonce.ingest.shapes.messages import (
    not_stored_finding,
)
from collectonce.ingest.shapes.rows import (
    Converted,
    ConverterBase,
    as_dictionary,
    as_numpy,
    null_mask,
)
from collectonce.ingest.shapes.targets import Target
from collectonce.validate.findings import Finding

#: pyarrow.compute makes its kernels when pyarrow loads, so a type checker knows none by name.
pc: Any = _compute


class LongWideRows(ConverterBase):
    """Long files (one value per row) and wide files (one metric per column)."""

    def _convert_long(self, batch: RawBatch) -> Converted:
        layout = self.layout
        assert layout.metric is not None and layout.value is not None
        findings: list[Finding] = []
        rows = batch.source_row
        n = len(rows)
        provider, period_raw, bad = self._keys(batch, findings)

        # Everything about a metric code is worked out once per distinct code ("per key"),
        # and only spread over the rows when the codes disagree.
        key_dict = as_dictionary(batch.cells[layout.metric])
        raw_keys = key_dict.dictionary.to_pylist()
        targets = [
            self.resolver.resolve(header_key(k), layout.template)
            if k is not None and header_key(k)
            else Target("unknown")
            for k in raw_keys
        ]
        targets.append(Target("unknown"))  # the slot for blank cells
        if key_dict.null_count:
            key_index = np.where(
                null_mask(key_dict), len(raw_keys), as_numpy(pc.fill_null(key_dict.indices, 0))
            ).astype(np.int64)
            used = np.unique(key_index)
        else:
            key_index = as_numpy(key_dict.indices).astype(np.int64, copy=False)
            used = np.arange(len(raw_keys))
        normalised = [*normalise_metric_ids_arrow(key_dict.dictionary).to_pylist(), None]
        metric_names = [t.metric or normalised[i] for i, t in enumerate(targets)]
        blank_k = np.array([m is None for m in metric_names])
        stored_k = np.array([t.stored for t in targets])
        grain_k = np.array([t.grain for t in targets], dtype=np.int8)
        percent_ok_k = np.array([t.unit in (None, "percent") for t in targets])
        scale_k = np.array([t.scale for t in targets], dtype=np.float64)

        metric_column = self.header[layout.metric]
        if blank_k[used].any():
            blank_key = blank_k[key_index]
            for i in self._listed("required_value", "error", np.flatnonzero(blank_key & ~bad)):
                findings.append(
                    make_finding(
                        self.file,
                        "required_value",
                        "The metric is blank. Enter the metric's code from the catalogue (the "
                        "file name under catalog/metrics/) in this row.",
                        row=int(rows[i]),
                        column=metric_column,
                    )
                )
            bad = bad | blank_key
        ignored = np.zeros(n, dtype=bool)
        if not stored_k[used].all():
            ignored = ~stored_k[key_index] & ~bad
            rule_k = np.array(["metric_derived" if t.kind == "derived" else "" for t in targets])
            flagged = np.flatnonzero(ignored)
            derived = rule_k[key_index[flagged]] == "metric_derived"
            listed = np.sort(
                np.concatenate(
                    [
                        self._listed("metric_derived", "warning", flagged[derived]),
                        self._listed("item_not_stored", "warning", flagged[~derived]),
                    ]
                )
            )
            for i in listed:
                target = targets[int(key_index[i])]
                findings.append(
                    not_stored_finding(
                        self.file, target, self.resolver, row=int(rows[i]), column=metric_column
                    )
                )
        skip = bad | ignored

        grains = grain_k[used]
        uniform_grain = len(grains) > 0 and bool((grains == grains[0]).all())
        grain = int(grains[0]) if uniform_grain else grain_k[key_index]
        periods = self._read_periods(period_raw, grain, rows, targets, key_index, skip, findings)
        value_raw = batch.cells[layout.value]
        values = parse_values_arrow(value_raw)
        percent_bad = np.zeros(n, dtype=bool)
        if values.any_problem or (not percent_ok_k[used].all() and values.percent.any()):
            percent_bad = values.percent & ~percent_ok_k[key_index]
            self._value_findings(
                values.problem,
                percent_bad,
                value_raw,
                rows,
                self.header[layout.value],
                targets,
                key_index,
                skip,
                findings,
            )
        row_error = bad | (
            ~skip & ((periods.problem != PERIOD_OK) | (values.problem != VALUE_OK) | percent_bad)
        )
        keep = ~row_error & ~ignored
        value = values.value
        if (scale_k[used] != 1.0).any():
            value = pc.divide(value, pa.array(scale_k[key_index]))
        # The metric column stays dictionary-encoded: the names per code, indexed by row.
        names = pa.array([m or "" for m in metric_names], type=pa.string())
        metric_arr = pa.DictionaryArray.from_arrays(
            pa.array(key_index.astype(np.int32), pa.int32(), mask=blank_k[key_index]), names
        )
        comment = self._comments(batch)
        table = self._table(
            provider,
            periods.period,
            metric_arr,
            value,
            values.status,
            comment,
            rows,
            repeat_dictionary(self.header[layout.value], n),
        )
        if not keep.all():
            table = table.filter(pa.array(keep))
        return self._converted(table, findings, batch, row_error)

    def _convert_wide(self, batch: RawBatch) -> Converted:
        layout = self.layout
        findings: list[Finding] = []
        rows = batch.source_row
        n = len(rows)
        provider, period_raw, bad = self._keys(batch, findings)
        comment = self._comments(batch)
        period_dict = as_dictionary(period_raw)
        by_grain = {}
        row_error = bad.copy()
        pieces: list[pa.Table] = []
        for column_index, target in layout.wide:
            grain = target.grain
            if grain not in by_grain:
                by_grain[grain] = normalise_periods_arrow(
                    period_dict, np.full(n, grain, dtype=np.int8)
                )
            periods = by_grain[grain]
            value_raw = batch.cells[column_index]
            values = parse_values_arrow(value_raw)
            percent_bad = (
                values.percent & (target.unit not in (None, "percent"))
                if target.kind != "unknown"
                else np.zeros(n, dtype=bool)
            )
            column = self.header[column_index]
            period_bad = periods.problem != PERIOD_OK
            self._period_findings(
                periods.problem,
                periods.given_grain,
                period_raw,
                rows,
                target,
                None,
                bad,
                findings,
                grain_only=bool(pieces),
            )
            self._value_findings(
                values.problem,
                percent_bad,
                value_raw,
                rows,
                column,
                target,
                None,
                bad | period_bad,
                findings,
            )
            cell_error = period_bad | (values.problem != VALUE_OK) | percent_bad
            row_error |= cell_error
            keep = ~bad & ~cell_error
            value = values.value
            if target.scale != 1.0:
                value = pc.divide(value, target.scale)
            piece = self._table(
                provider,
                periods.period,
                repeat_dictionary(target.metric, n),
                value,
                values.status,
                comment,
                rows,
                repeat_dictionary(column, n),
            )
            pieces.append(piece.filter(pa.array(keep)) if not keep.all() else piece)
        table = pa.concat_tables(pieces) if pieces else CODED_ROWS.empty_table()
        return self._converted(table, findings, batch, row_error)
