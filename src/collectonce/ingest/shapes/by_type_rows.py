"""Conversion of the A&E layout by department type to canonical rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute

from collectonce.contracts import CODED_ROWS
from collectonce.ingest.department_types import (
    CLASS_OF_TYPE,
    CLASSES,
    TypeColumns,
)
from collectonce.ingest.formats import RawBatch, make_finding
from collectonce.ingest.normalise.periods import PERIOD_OK, month_label
from collectonce.ingest.normalise.values import (
    STATUS_MISSING,
    STATUS_REPORTED,
    STATUS_SUPPRESSED,
    VALUE_OK,
    parse_values_arrow,
)
from collectonce.ingest.shapes.messages import (
    short,
)
from collectonce.ingest.shapes.rows import (
    Converted,
    ConverterBase,
    as_dictionary,
    as_numpy,
    null_mask,
    plain_text,
    text_at,
)
from collectonce.ingest.shapes.targets import Target
from collectonce.validate.findings import Finding

#: pyarrow.compute makes its kernels when pyarrow loads, so a type checker knows none by name.
pc: Any = _compute

#: Provider × day keys: days are offset to be positive and spread over this span.
_DAY_OFFSET = 1 << 21


_DAY_SPAN = 1 << 22


class ByTypeRows(ConverterBase):
    """Rows of provider × month × department type, added up per metric."""

    def _convert_by_type(self, batches: list[RawBatch]) -> Converted:
        """Rows of provider × month × department type → one value per provider, month and
        metric: attendances and breaches per department class, admissions added up over all
        types, types 3 and 4 added up as "other" (see `collectonce.ingest.department_types`)."""
        layout = self.layout
        columns = layout.by_type
        assert columns is not None
        width = len(batches[0].cells)
        merged = RawBatch(
            cells=[
                pa.concat_arrays([plain_text(b.cells[i]) for b in batches]) for i in range(width)
            ],
            source_row=np.concatenate([b.source_row for b in batches]).astype(np.int64),
        )
        rows = merged.source_row
        n = len(rows)
        findings: list[Finding] = []
        provider, period_raw, bad = self._keys(merged, findings)

        # The department type of each row: 1, 2, 3, 4, other or total (None: not readable).
        type_raw = merged.cells[columns.type_column]
        type_dict = as_dictionary(type_raw)
        type_texts = type_dict.dictionary.to_pylist()
        names = ["1", "2", "3", "4", "other", "total"]
        code_of = {name: i for i, name in enumerate(names)}
        distinct = np.array(
            [code_of.get(columns.department_type(t) or "", -1) for t in type_texts] + [-2],
            dtype=np.int64,
        )
        type_index = np.where(
            null_mask(type_dict), len(type_texts), as_numpy(pc.fill_null(type_dict.indices, 0))
        ).astype(np.int64)
        kind = distinct[type_index]  # -2 blank, -1 unknown
        type_column = self.header[columns.type_column]
        for code, rule in ((-2, "required_value"), (-1, "department_type")):
            where = np.flatnonzero((kind == code) & ~bad)
            for i in self._listed(rule, "error", where):
                raw = text_at(type_raw, int(i))
                message = (
                    "The department type is blank. Enter 1 (major A&E), 2 (single specialty), "
                    "3 or 4, or other (types 3 and 4)."
                    if code == -2
                    else f"{short(raw or '')!r} is not an A&E department type. Write 1 (major "
                    "A&E), 2 (single specialty), 3 or 4, or other (types 3 and 4)."
                )
                findings.append(
                    make_finding(
                        self.file, rule, message, row=int(rows[i]), column=type_column, value=raw
                    )
                )
        bad = bad | (kind < 0)
        total = kind == code_of["total"]
        for i in self._listed("item_not_stored", "warning", np.flatnonzero(total & ~bad)):
            findings.append(
                make_finding(
                    self.file,
                    "item_not_stored",
                    "This is a total row; it is skipped (counted as skipped on the receipt, not "
                    "stored), because collectonce adds up the rows for each department type "
                    "itself. Nothing to fix.",
                    severity="warning",
                    row=int(rows[i]),
                    column=type_column,
                    value=text_at(type_raw, int(i)),
                )
            )
        class_of_kind = np.array(
            [CLASSES.index(CLASS_OF_TYPE[name]) if name in CLASS_OF_TYPE else -1 for name in names]
        )
        klass = np.where(kind >= 0, class_of_kind[np.maximum(kind, 0)], -1)

        # Periods (every A&E metric is monthly) and values.
        targets_by = self.resolver.by_type_targets()
        grains = {t.grain for t in targets_by.values()}
        grain = grains.pop() if len(grains) == 1 else 0
        period_target = Target("metric", None, grain, label="A&E figures")
        periods = self._read_periods(period_raw, grain, rows, period_target, None, bad, findings)
        row_error = bad | (periods.problem != PERIOD_OK)
        key_error = row_error.copy()  # every bad figure of a row with good keys is listed
        parsed = []
        for column_index, measure in columns.measures:
            targets = [
                targets_by.get((c, measure), Target("unknown", label=measure)) for c in CLASSES
            ]
            targets.append(Target("unknown", label=measure))
            target_index = np.where(klass >= 0, klass, len(CLASSES))
            unit_ok = np.array([t.unit in (None, "percent") for t in targets])
            value_raw = merged.cells[column_index]
            values = parse_values_arrow(value_raw)
            percent_bad = values.percent & ~unit_ok[target_index]
            if values.any_problem or percent_bad.any():
                self._value_findings(
                    values.problem,
                    percent_bad,
                    value_raw,
                    rows,
                    self.header[column_index],
                    targets,
                    target_index,
                    key_error,
                    findings,
                )
            row_error = row_error | (values.problem != VALUE_OK) | percent_bad
            parsed.append((column_index, measure, values))

        # A row repeated for one provider, month and type: once if identical, else an error.
        provider_dict = pc.dictionary_encode(pc.fill_null(provider.cast(pa.string()), ""))
        provider_texts = provider_dict.dictionary.to_pylist()
        pcode = as_numpy(provider_dict.indices).astype(np.int64)
        days = as_numpy(periods.period.cast(pa.int32()).fill_null(0)).astype(np.int64)
        place = pcode * _DAY_SPAN + (days + _DAY_OFFSET)  # provider × month
        numbers = [
            np.asarray(as_numpy(v.value.fill_null(np.nan)), dtype=np.float64) for *_, v in parsed
        ]
        statuses = [v.status for *_, v in parsed]
        keyed = np.flatnonzero(~row_error & ~total)
        duplicate = np.zeros(n, dtype=bool)
        conflict = np.zeros(n, dtype=bool)
        if len(keyed) > 1:
            key = place[keyed] * len(names) + kind[keyed]
            order = keyed[np.argsort(key, kind="stable")]
            sorted_key = place[order] * len(names) + kind[order]
            starts = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
            group = np.cumsum(starts) - 1
            size = np.bincount(group)
            repeated = size[group] > 1
            if repeated.any():
                head = order[np.flatnonzero(starts)][group]
                same = np.ones(len(order), dtype=bool)
                for value, status in zip(numbers, statuses, strict=True):
                    a, b = value[order], value[head]
                    same &= (status[order] == status[head]) & (
                        (a == b) | (np.isnan(a) & np.isnan(b))
                    )
                differing = np.bincount(group, weights=(~same).astype(np.float64)) > 0
                in_conflict = repeated & differing[group]
                conflict[order[in_conflict]] = True
                later = repeated & ~starts & ~in_conflict
                duplicate[order[later]] = True
                self._repeat_findings(
                    order,
                    group,
                    np.flatnonzero(starts),
                    in_conflict,
                    later,
                    rows,
                    provider_texts,
                    pcode,
                    days,
                    type_raw,
                    type_column,
                    findings,
                )
        row_error = row_error | conflict

        # One value per provider, month and metric: the rows of each sum.
        placed = ~bad & (periods.problem == PERIOD_OK) & ~total & (klass >= 0)
        metric_codes = sorted({t.metric for t in targets_by.values() if t.metric})
        metric_pos = {code: i for i, code in enumerate(metric_codes)}
        pieces: dict[str, list[np.ndarray]] = {
            k: [] for k in ("cell", "value", "status", "row", "position", "rejected", "column")
        }
        for j, (_column_index, measure, parsed_values) in enumerate(parsed):
            of_class = np.array(
                [
                    metric_pos[targets_by[(c, measure)].metric or ""]
                    if (c, measure) in targets_by
                    else -1
                    for c in CLASSES
                ],
                dtype=np.int64,
            )
            metric = np.where(klass >= 0, of_class[np.maximum(klass, 0)], -1)
            take = np.flatnonzero(placed & ~duplicate & (metric >= 0))
            pieces["cell"].append(place[take] * len(metric_codes) + metric[take])
            pieces["value"].append(numbers[j][take])
            pieces["status"].append(parsed_values.status[take])
            pieces["row"].append(rows[take])
            pieces["position"].append(take)
            pieces["rejected"].append(row_error[take])
            pieces["column"].append(np.full(len(take), j, dtype=np.int64))
        cells = {k: np.concatenate(v) for k, v in pieces.items()}
        if not len(cells["cell"]):
            return self._converted(
                CODED_ROWS.empty_table(), findings, merged, row_error, skipped=total
            )
        order = np.lexsort((cells["row"], cells["cell"]))
        cells = {k: v[order] for k, v in cells.items()}
        starts = np.flatnonzero(np.r_[True, cells["cell"][1:] != cells["cell"][:-1]])
        size = np.diff(np.r_[starts, len(order)])
        rejected_any = np.maximum.reduceat(cells["rejected"].astype(np.int8), starts) > 0
        accepted_any = np.minimum.reduceat(cells["rejected"].astype(np.int8), starts) == 0
        blocked = rejected_any & (size > 1)
        self._blocked_sum_findings(
            cells,
            starts,
            size,
            np.flatnonzero(blocked & accepted_any),
            metric_codes,
            provider_texts,
            pcode,
            days,
            rows,
            columns,
            findings,
        )
        keep = ~rejected_any
        status = cells["status"]
        reported = np.where(status == STATUS_REPORTED, cells["value"], 0.0)
        total_value = np.add.reduceat(reported, starts)[keep]
        suppressed = np.maximum.reduceat((status == STATUS_SUPPRESSED).astype(np.int8), starts)
        missing = np.minimum.reduceat((status == STATUS_MISSING).astype(np.int8), starts)
        out_status = np.where(
            suppressed[keep] > 0,
            STATUS_SUPPRESSED,
            np.where(missing[keep] > 0, STATUS_MISSING, STATUS_REPORTED),
        ).astype(np.int8)
        first = starts[keep]
        position = cells["position"][first]
        metric_index = cells["cell"][first] % len(metric_codes)
        count = len(first)
        table = self._table(
            pc.take(pa.array(provider_texts, pa.string()), pa.array(pcode[position])),
            pa.array(days[position].astype(np.int32), type=pa.int32()).view(pa.date32()),
            pc.take(pa.array(metric_codes, pa.string()), pa.array(metric_index)),
            pa.array(total_value, type=pa.float64(), mask=out_status != STATUS_REPORTED),
            out_status,
            pa.nulls(count, pa.string()),
            cells["row"][first],
            pc.take(
                pa.array([self.header[i] for i, _m in columns.measures], pa.string()),
                pa.array(cells["column"][first]),
            ),
        )
        return self._converted(table, findings, merged, row_error, skipped=total)

    def _repeat_findings(
        self,
        order: np.ndarray,
        group: np.ndarray,
        group_start: np.ndarray,
        in_conflict: np.ndarray,
        later: np.ndarray,
        rows: np.ndarray,
        provider_texts: list[str],
        pcode: np.ndarray,
        days: np.ndarray,
        type_raw: pa.Array,
        type_column: str,
        findings: list[Finding],
    ) -> None:
        """Findings for rows that repeat a provider, month and department type."""
        for rule, severity, mask in (
            ("conflicting_key", "error", in_conflict),
            ("duplicate_key", "warning", later),
        ):
            for i in self._listed(rule, severity, np.flatnonzero(mask)):
                p = int(order[i])
                g = int(group[i])
                end = group_start[g + 1] if g + 1 < len(group_start) else len(order)
                mates = order[group_start[g] : end]
                others = [int(rows[m]) for m in mates if m != p][:5]
                where = (
                    f"{provider_texts[int(pcode[p])]} {month_label(int(days[p]))}, department "
                    f"type {text_at(type_raw, p)}"
                )
                message = (
                    f"{where} is given more than once with different figures (see also row "
                    f"{', '.join(map(str, others))}). Keep one row with the right figures and "
                    "delete the others."
                    if rule == "conflicting_key"
                    else f"{where} repeats row {others[0]} with the same figures; it is counted "
                    "once. Delete the repeated row next time."
                )
                findings.append(
                    make_finding(
                        self.file,
                        rule,
                        message,
                        severity=severity,
                        row=int(rows[p]),
                        column=type_column,
                    )
                )

    def _blocked_sum_findings(
        self,
        cells: dict[str, np.ndarray],
        starts: np.ndarray,
        size: np.ndarray,
        blocked: np.ndarray,
        metric_codes: list[str],
        provider_texts: list[str],
        pcode: np.ndarray,
        days: np.ndarray,
        rows: np.ndarray,
        columns: TypeColumns,
        findings: list[Finding],
    ) -> None:
        """A warning for each sum left out because one of its rows was rejected."""
        for g in self._listed("item_not_stored", "warning", blocked):
            lo, hi = int(starts[g]), int(starts[g] + size[g])
            rejected = cells["rejected"][lo:hi]
            p = int(cells["position"][lo:hi][~rejected][0])
            code = metric_codes[int(cells["cell"][lo] % len(metric_codes))]
            label = self.resolver.catalog.metrics[code].label
            bad_rows = ", ".join(str(int(r)) for r in cells["row"][lo:hi][rejected][:5])
            column = self.header[columns.measures[int(cells["column"][lo])][0]]
            findings.append(
                make_finding(
                    self.file,
                    "item_not_stored",
                    f"{label} ({code}) for {provider_texts[int(pcode[p])]} "
                    f"{month_label(int(days[p]))} adds up several rows, and row {bad_rows} was "
                    "rejected, so the total was not stored. Fix that row and send the rows again.",
                    severity="warning",
                    row=int(rows[p]),
                    column=column,
                    metric=code,
                )
            )
