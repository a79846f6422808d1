"""One validation run over one or many files, in bounded memory.

A `ValidationRun` is fed canonical rows batch by batch (from one file, or from a thousand). While
the batches stream in it keeps only compact per-row codes (about 30 bytes a row), from which the
rows are rebuilt when they are streamed back (`held_rows`). `check` then runs both Great
Expectations suites once for the whole run (the distinct-values frame and the provider × period
pivot, see `suites`) and the extra rules in `rules` that need nothing but the run's own rows.
`finish` adds what depends on the values already held (a cross-metric rule completed by a held
value, same fact or revision, outliers against the provider's history), decides for every row
whether it is rejected, accepted and stored, or accepted as a fact already held, and writes the
findings. `iter_batches` streams the rows back with those decisions, ready to store.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collectonce.catalog import Catalog
from collectonce.contracts import CANONICAL_ROWS, VALUE_STATUSES
from collectonce.nhs_periods import label_of
from collectonce.suggest import closest
from collectonce.validate import rules
from collectonce.validate.findings import Finding, fmt_number, show_value
from collectonce.validate.gx_runner import Failure, merge_failures, run_long_suite, run_wide_suite
from collectonce.validate.held_rows import Codes, HeldRows
from collectonce.validate.suites import bound_columns

#: A row's key: file index in the high bits, the row number a person sees in the low bits.
ROW_BITS = 40
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_DAY_OFFSET = 1 << 21
_DAY_SPAN = 1 << 22
_PROVIDER_SPAN = 1 << 20
_STATUS_CODE = {s: i for i, s in enumerate(VALUE_STATUSES)}
_REPORTED, _SUPPRESSED, _MISSING = (_STATUS_CODE[s] for s in ("reported", "suppressed", "missing"))
_OTHER_STATUS = len(VALUE_STATUSES)
#: Rows of a listed rule per file in findings; the rest are counted in one finding.
MAX_FINDINGS_PER_RULE = 1000
#: Rules about a row's provider or period rather than one of its values: a wide row (one value
#: per metric) gets one finding for them, not one per value.
ROW_RULES = frozenset({"known_provider", "provider_scope", "future_period"})


def day_number(value: dt.date) -> int:
    return value.toordinal() - _EPOCH_ORDINAL


def from_day_number(days: int) -> dt.date:
    return dt.date.fromordinal(int(days) + _EPOCH_ORDINAL)


def period_label(value: dt.date, grain: str = "month") -> str:
    """How a period is written for people: 2019-01, 2018/19 Q4 (an NHS quarter), 2018/19 (a
    financial year, stored from 1 April) or 2019 (a calendar year, stored from 1 January)."""
    if grain == "quarter":
        return label_of(value, "quarter")
    if grain == "year":
        return f"{value.year}" if value.month == 1 else label_of(value, "year")
    return f"{value.year}-{value.month:02d}"


@dataclass
class FileInput:
    """One file in a run, as the run knows it."""

    index: int
    name: str
    as_provider: str | None = None
    template: str = "canonical_long"
    rows_read: int = 0
    rows_skipped: int = 0
    file_error: Finding | None = None
    read_findings: list[Finding] = field(default_factory=list)
    read_error_rows: list[np.ndarray] = field(default_factory=list)
    #: The rows rejected while reading, as they were sent (``source_row``, ``sent``).
    read_rejected: list[pa.Table] = field(default_factory=list)


@dataclass
class FileResult:
    """What validation decided about one file."""

    index: int
    name: str
    template: str
    rows_read: int
    rows_rejected: int
    findings: list[Finding]
    file_error: Finding | None
    providers: list[str]
    periods: list[str]
    values_stored: int = 0
    values_unchanged: int = 0
    values_revised: int = 0
    values_duplicate: int = 0
    #: Rows read but deliberately not stored (a published file's total row).
    rows_skipped: int = 0

    @property
    def rows_accepted(self) -> int:
        return max(0, self.rows_read - self.rows_rejected - self.rows_skipped)


@dataclass
class RowBatch:
    """Canonical rows streamed back with the run's decisions, one entry per row."""

    table: pa.Table
    file: np.ndarray  # file index
    store: np.ndarray  # bool: store this value
    rejected: np.ndarray  # bool: the row was rejected
    warnings: pa.Array  # the warning rules of each row, joined with ";" (dictionary, or null)
    reasons: pa.Array  # the error rules of each rejected row, joined with ";" (dictionary)


class _Codes:
    """Text ↔ small integer, growing as new texts arrive."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.index: dict[str, int] = {}

    def code(self, text: str) -> int:
        found = self.index.get(text)
        if found is None:
            found = len(self.texts)
            self.index[text] = found
            self.texts.append(text)
        return found

    def encode(self, arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Codes of a string array (nulls become the empty string)."""
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        n = len(arr)
        if n and arr.null_count == n:
            return np.full(n, self.code(""), dtype=np.int32)
        if n and arr.null_count == 0:
            first = arr[0]
            if pc.all(pc.equal(arr, first)).as_py():  # one value throughout (a long file's
                return np.full(n, self.code(str(first.as_py())), dtype=np.int32)  # column)
        arr = pc.fill_null(arr, "") if arr.null_count else arr
        encoded = arr.dictionary_encode()
        mapping = np.array(
            [self.code(str(t)) for t in encoded.dictionary.to_pylist()], dtype=np.int32
        )
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        return mapping[indices] if len(mapping) else np.zeros(len(indices), dtype=np.int32)


@dataclass
class _Listed:
    """Rows to list for one rule, before messages are written."""

    rule: str
    severity: str
    positions: np.ndarray
    column: str | None = None


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
        self._providers = _Codes()
        self._metrics = _Codes()
        self._columns = _Codes()
        self._statuses = _Codes()
        self._groups: dict[int, int] = {}
        self._group_file: list[int] = []
        self._group_provider: list[int] = []
        self._group_day: list[int] = []
        self._parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("row", "group", "metric", "status", "value", "column")
        }
        #: Besides the codes: each batch's length, null cells and comments (see `held_rows`).
        #: Rows are rebuilt from the codes, so nothing is spilled to disk (`spill_dir` and
        #: `spill_rows` are accepted for compatibility).
        self._held = HeldRows()
        self._kept: dict[str, np.ndarray] | None = None
        self._checked: _Checked | None = None
        self._decisions: dict[str, np.ndarray] | None = None
        self._warn_codes = np.zeros(0, dtype=np.int32)
        self._warn_text: list[str] = []
        self._reason_codes = np.zeros(0, dtype=np.int32)
        self._reason_text: list[str] = []
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
        table = table.select(CANONICAL_ROWS.names).cast(CANONICAL_ROWS)
        providers = self._providers.encode(table["provider_code"])
        days = table["period"].combine_chunks().cast(pa.int32()).to_numpy(zero_copy_only=False)
        group_keys = (
            np.int64(file.index) * (_PROVIDER_SPAN * _DAY_SPAN)
            + providers.astype(np.int64) * _DAY_SPAN
            + (days.astype(np.int64) + _DAY_OFFSET)
        )
        codes, uniques = pd.factorize(group_keys)
        mapping = np.empty(len(uniques), dtype=np.int32)
        for i, key in enumerate(uniques.tolist()):
            found = self._groups.get(key)
            if found is None:
                found = len(self._group_file)
                self._groups[key] = found
                self._group_file.append(file.index)
                self._group_provider.append(int((key // _DAY_SPAN) % _PROVIDER_SPAN))
                self._group_day.append(int(key % _DAY_SPAN) - _DAY_OFFSET)
            mapping[i] = found
        parts = self._parts
        parts["group"].append(mapping[codes])
        parts["row"].append(table["source_row"].to_numpy().astype(np.int64, copy=False))
        parts["metric"].append(self._metrics.encode(table["metric_id"]))
        parts["status"].append(self._statuses.encode(table["value_status"]).astype(np.int16))
        parts["value"].append(
            table["value"].to_numpy().astype(np.float64, copy=False)
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
        store = self._decisions["store"]
        if skip_files is not None and len(store):
            store = store & ~skip_files[self._decisions["file"]]
        return int(store.sum())

    # ------------------------------------------------------------------ decide

    def _rows(self) -> dict[str, np.ndarray]:
        out = {}
        for name, arrays in self._parts.items():
            out[name] = np.concatenate(arrays) if arrays else np.zeros(0)
            arrays.clear()
        out["group"] = out["group"].astype(np.int32, copy=False)
        out["row"] = out["row"].astype(np.int64, copy=False)
        out["metric"] = out["metric"].astype(np.int32, copy=False)
        out["status"] = out["status"].astype(np.int16, copy=False)
        out["value"] = out["value"].astype(np.float64, copy=False)
        out["column"] = out["column"].astype(np.int32, copy=False)
        return out

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
        n = len(r["row"])
        group_file = np.asarray(self._group_file or [0], dtype=np.int32)
        group_provider = np.asarray(self._group_provider or [0], dtype=np.int32)
        group_day = np.asarray(self._group_day or [0], dtype=np.int32)
        g = r["group"]
        file_of = group_file[g]
        provider = group_provider[g]
        day = group_day[g]
        key = (file_of.astype(np.int64) << ROW_BITS) | r["row"]
        metric_texts = self._metrics.texts
        m_count = len(self.metric_codes)
        mpos_of_text = np.array(
            [self.metric_pos.get(t, -1) for t in metric_texts] or [-1], dtype=np.int32
        )
        mpos = mpos_of_text[r["metric"]]
        status_code_of_text = np.array(
            [_STATUS_CODE.get(t, _OTHER_STATUS) for t in self._statuses.texts] or [0],
            dtype=np.int16,
        )
        status = status_code_of_text[r["status"]]
        value = r["value"]
        ctx = _Context(self, r, file_of, provider, day, mpos, status, key)
        checked = _Checked(ctx=ctx, group_file=group_file)
        errors, warnings = checked.errors, checked.warnings

        # 1. The canonical-rows suite on the distinct values of each column.
        if n:
            for rule, mask, column in self._long_checks(ctx):
                errors.append(_Listed(rule, "error", np.flatnonzero(mask), column))

        # 2. Who may submit what.
        scope = np.full(max(len(self.files), 1), -1, dtype=np.int32)
        for f in self.files:
            if f.as_provider:
                scope[f.index] = self._providers.code(f.as_provider)
        if n and (scope >= 0).any():
            row_scope = scope[file_of]
            mask = (row_scope >= 0) & (provider != row_scope)
            errors.append(_Listed("provider_scope", "error", np.flatnonzero(mask), None))

        # 3. Repeated keys within a file.
        has_cell = mpos >= 0
        cell = np.where(has_cell, g.astype(np.int64) * max(m_count, 1) + mpos, -1)
        ctx.cell = cell
        clashes = rules.key_clashes(cell, value, status, cells=len(group_file) * max(m_count, 1))
        errors.append(_Listed("conflicting_key", "error", np.flatnonzero(clashes.conflict)))
        ctx.clashes = clashes
        for p in np.flatnonzero(clashes.conflict):
            ctx.clash_rows.setdefault(clashes.first_of(int(p)), []).append(int(p))
        warnings.append(_Listed("duplicate_key", "warning", np.flatnonzero(clashes.duplicate)))
        checked.has_cell = has_cell
        # 4. (in `finish`: the values held for the keys of this run)

        # 5. The provider × period suite over this run's values: valid ranges and cross-metric
        # rules (`finish` adds the rules that a value already held completes).
        checked.wide_cells = has_cell & ~clashes.duplicate & ~clashes.conflict
        checked.errors_at = len(errors)
        if n and m_count:
            checked.wide_failures = self._wide_own(ctx, checked)

        # 6. Whole numbers, metric dates.
        if n and m_count:
            is_integer = np.array(
                [self.catalog.metrics[c].value_type == "integer" for c in self.metric_codes]
            )
            mask = has_cell & rules.not_whole(value, is_integer[np.maximum(mpos, 0)])
            errors.append(_Listed("type_integer", "error", np.flatnonzero(mask)))
            start = np.array(
                [
                    day_number(self.catalog.metrics[c].status.collected_from)
                    for c in self.metric_codes
                ]
            )
            end = np.array(
                [
                    day_number(self.catalog.metrics[c].status.effective_to or dt.date.max)
                    if self.catalog.metrics[c].status.effective_to
                    else np.iinfo(np.int64).max
                    for c in self.metric_codes
                ],
                dtype=np.int64,
            )
            safe = np.maximum(mpos, 0)
            retired = has_cell & (day > end[safe])
            errors.append(_Listed("metric_active", "error", np.flatnonzero(retired), "period"))
            early = has_cell & (day < start[safe])
            warnings.append(_Listed("metric_effective_period", "warning", np.flatnonzero(early)))
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
        r, file_of, provider, mpos, status, key = (
            ctx.r,
            ctx.file_of,
            ctx.provider,
            ctx.mpos,
            ctx.status,
            ctx.key,
        )
        value = r["value"]
        n = len(key)
        m_count = len(self.metric_codes)
        has_cell, clashes = checked.has_cell, ctx.clashes
        assert clashes is not None
        gone = np.zeros(max(len(self.files), 1), dtype=bool)
        gone[[i for i in withdrawn if 0 <= i < len(gone)]] = True
        warnings = list(checked.warnings)

        # 4. History held for the keys of this run.
        hist = _History.build(history, self, m_count)

        # 5. The cross-metric rules that a value already held completes.
        errors = list(checked.errors)
        if n and m_count:
            failures = self._wide_held(ctx, checked, hist, ~gone[checked.group_file])
            errors[checked.errors_at : checked.errors_at] = self._wide_listed(
                ctx, checked, failures
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
        warnings.append(_Listed("conflicting_key", "warning", np.flatnonzero(held.disagree)))
        ctx.held = held

        # 9. Warnings on accepted rows.
        suppressed = ~rejected & has_cell & (status == _SUPPRESSED)
        warnings.append(_Listed("suppressed_value", "warning", np.flatnonzero(suppressed)))
        stats = hist.stats
        if n and len(stats):
            check = np.flatnonzero(candidate & ~held.unchanged & (status == _REPORTED))
            flagged, median, low, high, periods = rules.outliers(
                value[check],
                np.asarray(self._providers.texts, dtype=object)[provider[check]],
                np.asarray(self.metric_codes, dtype=object)[mpos[check]],
                ctx.day[check],
                np.ones(len(check), dtype=bool),
                stats,
                self.outlier_threshold,
            )
            ctx.outlier = {
                int(p): (md, lo, hi, int(k))
                for p, md, lo, hi, k in zip(
                    check[flagged],
                    median[flagged],
                    low[flagged],
                    high[flagged],
                    periods[flagged],
                    strict=True,
                )
            }
            warnings.append(_Listed("outlier_history", "warning", check[flagged]))
        warnings = [
            _Listed(w.rule, w.severity, w.positions[~rejected[w.positions]], w.column)
            for w in warnings
        ]

        # 10. Per-row notes for storing and quarantine.
        self._warn_codes, self._warn_text = _join_rules(warnings, n)
        self._reason_codes, self._reason_text = _join_rules(errors, n, only=rejected)
        self._decisions = {"store": store, "rejected": rejected, "file": file_of}

        # 11. Results per file.
        results = self._results(ctx, errors, warnings, rejected_keys, store, held, clashes)
        return results

    def _long_checks(self, ctx: _Context) -> list[tuple[str, np.ndarray, str]]:
        """Run the canonical-rows suite on distinct values; per-row masks of each rule."""
        providers = self._providers.texts
        metrics = self._metrics.texts
        statuses = self._statuses.texts
        days = np.unique(np.asarray(self._group_day, dtype=np.int64))
        longest = max(len(providers), len(metrics), len(statuses), len(days), 1)

        def pad(values: list[object]) -> list[object]:
            values = values or [None]
            return values + [values[0]] * (longest - len(values))

        distinct = pd.DataFrame(
            {
                "provider_code": pd.Series(pad(list(providers)), dtype=object),
                "period": pd.to_datetime(pad([int(d) for d in days]), unit="D"),
                "metric_id": pd.Series(pad(list(metrics)), dtype=object),
                "value_status": pd.Series(pad(list(statuses)), dtype=object),
            }
        )
        failures = run_long_suite(self.catalog, distinct, self.today, self.on_gx_result)
        masks: list[tuple[str, np.ndarray, str]] = []
        unknown_metric: set[str] = set()
        for failure in failures:
            if failure.rule == "known_metric":
                unknown_metric |= {str(v) for v in failure.values}
        for failure in failures:
            masks.append(self._mask_of(failure, ctx, unknown_metric))
        return masks

    def _mask_of(
        self, failure: Failure, ctx: _Context, unknown_metric: set[str]
    ) -> tuple[str, np.ndarray, str]:
        column = failure.column or ""
        n = len(ctx.key)
        if column == "provider_code":
            bad = np.zeros(len(self._providers.texts) + 1, dtype=bool)
            for v in failure.values:
                bad[self._providers.index[str(v)]] = True
            return failure.rule, bad[ctx.provider], column
        if column == "metric_id":
            bad = np.zeros(len(self._metrics.texts) + 1, dtype=bool)
            for v in failure.values:
                if failure.rule == "metric_active" and str(v) in unknown_metric:
                    continue  # already reported as unknown
                bad[self._metrics.index[str(v)]] = True
            return failure.rule, bad[ctx.r["metric"]], column
        if column == "value_status":
            bad = np.zeros(len(self._statuses.texts) + 1, dtype=bool)
            for v in failure.values:
                bad[self._statuses.index[str(v)]] = True
            return failure.rule, bad[ctx.r["status"]], column
        if column == "period":
            bad_days = np.array(
                [day_number(pd.Timestamp(v).date()) for v in failure.values], dtype=np.int64
            )
            return failure.rule, np.isin(ctx.day, bad_days), column
        # A table-level failure (a missing column) concerns every row.
        return failure.rule, np.ones(n, dtype=bool), column

    def _wide_own(self, ctx: _Context, checked: _Checked) -> list[Failure]:
        """The provider × period suite over this run's own values."""
        m_count = len(self.metric_codes)
        g_count = len(self._group_file)
        wide_cells = checked.wide_cells
        pos = np.flatnonzero(wide_cells & (ctx.status == _REPORTED))
        wide = np.full((g_count, m_count), np.nan, order="F")  # columns are contiguous
        wide[ctx.r["group"][pos], ctx.mpos[pos]] = ctx.r["value"][pos]
        del pos
        partners: set[int] = set()
        for code in self.metric_codes:
            for rule in self.catalog.metrics[code].rules:
                if rule.other in self.metric_pos:
                    partners |= {self.metric_pos[code], self.metric_pos[rule.other]}
        checked.partners = sorted(partners)
        checked.own = wide
        ctx.wide = wide
        ctx.from_store = np.zeros((g_count, m_count), dtype=bool, order="F")
        columns: dict[str, np.ndarray] = {}
        for j in checked.partners:
            columns[self.metric_codes[j]] = wide[:, j]
        # Ranges concern this run's values only, not values held.
        for name, (side, _bound, codes) in bound_columns(self.catalog).items():
            cols = [self.metric_pos[c] for c in codes]
            pick = np.fmin if side == "min" else np.fmax  # NaN-ignoring, column by column
            reduced = wide[:, cols[0]].copy()
            for j in cols[1:]:
                pick(reduced, wide[:, j], out=reduced)
            columns[name] = reduced
        frame = pd.DataFrame(columns)  # its index is the group number
        return run_wide_suite(self.catalog, frame, self.on_gx_result)

    def _wide_held(
        self, ctx: _Context, checked: _Checked, hist: _History, live: np.ndarray
    ) -> list[Failure]:
        """The failures of the provider × period suite once values already held complete a
        cross-metric rule where this run gives one side only (for the groups of `live`)."""
        failures = checked.wide_failures
        if not checked.partners or not len(hist.index):
            return failures
        m_count = len(self.metric_codes)
        g_count = len(self._group_file)
        filled = np.zeros((g_count, m_count), dtype=bool, order="F")
        cells = np.flatnonzero(checked.wide_cells)
        filled[ctx.r["group"][cells], ctx.mpos[cells]] = True
        del cells
        gp = np.asarray(self._group_provider, dtype=np.int64)
        gd = np.asarray(self._group_day, dtype=np.int64)
        wide = checked.own
        for j in checked.partners:
            empty = np.flatnonzero(~filled[:, j] & live)
            if not len(empty):
                continue
            facts = (gp[empty] * _DAY_SPAN + (gd[empty] + _DAY_OFFSET)) * m_count + j
            at = hist.index.get_indexer(facts)
            ok = at >= 0
            ok[ok] = hist.status[at[ok]] == _REPORTED
            if not ok.any():
                continue
            if wide is checked.own:
                wide = checked.own.copy(order="F")
            wide[empty[ok], j] = hist.value[at[ok]]
            ctx.from_store[empty[ok], j] = True
        if wide is checked.own:
            return failures
        ctx.wide = wide
        touched = np.flatnonzero(ctx.from_store.any(axis=1))
        frame = pd.DataFrame(
            {self.metric_codes[j]: wide[touched, j] for j in checked.partners}, index=touched
        )
        return merge_failures(
            self.catalog, failures, run_wide_suite(self.catalog, frame, self.on_gx_result)
        )

    def _wide_listed(
        self, ctx: _Context, checked: _Checked, failures: list[Failure]
    ) -> list[_Listed]:
        """The rows each failure of the provider × period suite concerns."""
        m_count = len(self.metric_codes)
        own = checked.own
        bounds = bound_columns(self.catalog)
        out: list[_Listed] = []
        cell_of_row = ctx.cell
        for failure in failures:
            column = failure.column or ""
            if column in bounds:
                side, bound, codes = bounds[column]
                parts = []
                for code in codes:
                    j = self.metric_pos[code]
                    values = own[failure.groups, j]
                    with np.errstate(invalid="ignore"):
                        bad = values < bound if side == "min" else values > bound
                    parts.append(failure.groups[bad] * m_count + j)
                bad_cells = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            else:
                codes = [failure.meta.get("metric"), failure.meta.get("other")]
                cols = [self.metric_pos[c] for c in codes if c in self.metric_pos]
                bad_cells = np.concatenate([failure.groups * m_count + j for j in cols])
            positions = np.flatnonzero(np.isin(cell_of_row, bad_cells))
            ctx.wide_failures.append(failure)
            out.append(_Listed(failure.rule, failure.severity, positions))
        return out

    # ------------------------------------------------------------------ results

    def _results(
        self,
        ctx: _Context,
        errors: list[_Listed],
        warnings: list[_Listed],
        rejected_keys: np.ndarray,
        store: np.ndarray,
        held: _Held,
        clashes: rules.KeyClashes,
    ) -> list[FileResult]:
        listed: dict[int, list[Finding]] = {f.index: [] for f in self.files}
        messages = _Messages(self, ctx)
        for item in [*errors, *warnings]:
            if not len(item.positions):
                continue
            keys = ctx.key[item.positions]
            positions = item.positions
            if len(keys) > 1 and not bool(np.all(keys[1:] >= keys[:-1])):
                order = np.argsort(keys, kind="stable")
                positions, keys = positions[order], keys[order]
            if item.rule in ROW_RULES and len(keys) > 1:
                # About the row, not one of its values: once per row, however wide the row.
                first = np.r_[True, keys[1:] != keys[:-1]]
                positions, keys = positions[first], keys[first]
            files = (keys >> ROW_BITS).astype(np.int64)
            bounds_at = np.searchsorted(files, np.arange(len(self.files) + 1))
            for f in np.unique(files):
                lo, hi = int(bounds_at[f]), int(bounds_at[f + 1])
                shown = positions[lo : min(hi, lo + self.max_findings)]
                for p in shown:
                    listed[int(f)].append(messages.finding(item.rule, item.severity, int(p)))
                mine_keys = keys[lo:hi]
                distinct = int(np.count_nonzero(np.diff(mine_keys))) + 1
                shown_keys = mine_keys[: len(shown)]
                shown_distinct = int(np.count_nonzero(np.diff(shown_keys))) + 1
                rest = distinct - shown_distinct
                if rest > 0:
                    listed[int(f)].append(
                        Finding(
                            file=self.files[int(f)].name,
                            row=None,
                            column=item.column,
                            metric=None,
                            rule=item.rule,
                            severity="error" if item.severity == "error" else "warning",
                            message=(
                                f"{rest:,} more rows have this problem ({item.rule}); only the "
                                f"first {self.max_findings:,} are listed. Fix them all the same "
                                "way."
                            ),
                        )
                    )
        n_files = max(len(self.files), 1)

        def per_file(mask: np.ndarray) -> np.ndarray:
            if n_files == 1:
                return np.array([int(np.count_nonzero(mask))])
            return np.bincount(ctx.file_of[mask], minlength=n_files)

        rejected_per_file = np.bincount(
            (rejected_keys >> ROW_BITS).astype(np.int64), minlength=n_files
        )
        stored = per_file(store)
        unchanged = per_file(held.unchanged)
        revised = per_file(held.revised & store)
        duplicates = per_file(clashes.duplicate)
        providers_of: dict[int, set[str]] = {f.index: set() for f in self.files}
        days_of: dict[int, set[int]] = {f.index: set() for f in self.files}
        for file_index, provider, day in zip(
            self._group_file, self._group_provider, self._group_day, strict=True
        ):
            providers_of[file_index].add(self._providers.texts[provider])
            days_of[file_index].add(day)
        results = []
        for f in self.files:
            providers = sorted(providers_of[f.index])
            days = sorted(days_of[f.index])
            results.append(
                FileResult(
                    index=f.index,
                    name=f.name,
                    template=f.template,
                    rows_read=f.rows_read,
                    rows_rejected=min(int(rejected_per_file[f.index]), f.rows_read)
                    if f.file_error is None
                    else f.rows_read,
                    findings=[*f.read_findings, *listed[f.index]]
                    if f.file_error is None
                    else [f.file_error, *f.read_findings],
                    file_error=f.file_error,
                    providers=providers,
                    periods=[period_label(from_day_number(d)) for d in days],
                    values_stored=int(stored[f.index]),
                    values_unchanged=int(unchanged[f.index]),
                    values_revised=int(revised[f.index]),
                    values_duplicate=int(duplicates[f.index]),
                    rows_skipped=f.rows_skipped if f.file_error is None else 0,
                )
            )
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
            group=kept["group"],
            group_provider=np.asarray(self._group_provider or [0], dtype=np.int32),
            group_day=np.asarray(self._group_day or [0], dtype=np.int32),
            metric=kept["metric"],
            status=kept["status"],
            column=kept["column"],
            value=kept["value"],
            row=kept["row"],
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
                file=decisions["file"][offset:stop],
                store=decisions["store"][offset:stop],
                rejected=decisions["rejected"][offset:stop],
                warnings=_notes(self._warn_codes[offset:stop], self._warn_text),
                reasons=_notes(self._reason_codes[offset:stop], self._reason_text),
            )
            offset = stop

    def close(self) -> None:
        self._held = HeldRows()
        self._kept = None


def _contains(sorted_values: np.ndarray, value: int) -> bool:
    at = int(np.searchsorted(sorted_values, value))
    return at < len(sorted_values) and int(sorted_values[at]) == value


def _join_rules(
    items: list[_Listed], n: int, only: np.ndarray | None = None
) -> tuple[np.ndarray, list[str]]:
    """Per-row notes: a code per row (-1 for none) into texts of rules joined with ';'."""
    names = sorted({i.rule for i in items if len(i.positions)})
    codes = np.full(n, -1, dtype=np.int32)
    if not names:
        return codes, []
    kind = np.uint32 if len(names) <= 32 else np.uint64
    bit = {name: kind(1) << kind(i) for i, name in enumerate(names)}
    mask = np.zeros(n, dtype=kind)
    for item in items:
        if len(item.positions):
            mask[item.positions] |= bit[item.rule]
    if only is not None:
        mask[~only] = 0
    present = np.flatnonzero(mask)
    if not len(present):
        return codes, []
    uniques, inverse = np.unique(mask[present], return_inverse=True)
    texts = [";".join(name for name in names if int(u) & int(bit[name])) for u in uniques]
    codes[present] = inverse.astype(np.int32)
    return codes, texts


def _notes(codes: np.ndarray, texts: list[str]) -> pa.Array:
    """The notes of some rows, dictionary-encoded (null where there is none)."""
    indices = pa.array(codes, mask=codes < 0, type=pa.int32())
    return pa.DictionaryArray.from_arrays(indices, pa.array(texts, pa.string()))


@dataclass
class _Held:
    unchanged: np.ndarray
    blank_kept: np.ndarray
    revised: np.ndarray
    disagree: np.ndarray
    prev_value: dict[int, float]
    prev_submission: dict[int, str]
    prev_template: dict[int, str]


class _History:
    """Values already held (the latest per provider × period × metric), keyed like the run."""

    def __init__(
        self,
        index: pd.Index,
        value: np.ndarray,
        status: np.ndarray,
        template: np.ndarray,
        submission: np.ndarray,
        stats: rules.HistoryStats,
    ) -> None:
        self.index = index
        self.value = value
        self.status = status
        self.template = template
        self.submission = submission
        self.stats = stats

    @classmethod
    def build(cls, history: pd.DataFrame | None, run: ValidationRun, m_count: int) -> _History:
        empty_stats = rules.history_stats(pd.DataFrame())
        if history is None or history.empty or not m_count:
            return cls(
                pd.Index([], dtype=np.int64),
                np.zeros(0),
                np.zeros(0, dtype=np.int16),
                np.zeros(0, dtype=object),
                np.zeros(0, dtype=object),
                empty_stats,
            )
        frame = history[history["provider_code"].isin(run._providers.index)]
        frame = frame[frame["metric_id"].isin(run.metric_pos)]
        provider = frame["provider_code"].map(run._providers.index).to_numpy(dtype=np.int64)
        mpos = frame["metric_id"].map(run.metric_pos).to_numpy(dtype=np.int64)
        days = pd.to_datetime(frame["period"]).to_numpy().astype("datetime64[D]").astype(np.int64)
        facts = (provider * _DAY_SPAN + (days + _DAY_OFFSET)) * m_count + mpos
        status = frame["value_status"].map(_STATUS_CODE).fillna(_OTHER_STATUS).to_numpy(np.int16)
        template = (
            frame["source_template"].to_numpy(dtype=object)
            if "source_template" in frame
            else np.full(len(frame), "", dtype=object)
        )
        submission = (
            frame["submission_id"].to_numpy(dtype=object)
            if "submission_id" in frame
            else np.full(len(frame), "", dtype=object)
        )
        return cls(
            pd.Index(facts),
            frame["value"].to_numpy(dtype=np.float64),
            status,
            template,
            submission,
            rules.history_stats(frame),
        )

    def compare(self, ctx: _Context, candidate: np.ndarray, templates: list[str]) -> _Held:
        n = len(candidate)
        unchanged = np.zeros(n, dtype=bool)
        blank_kept = np.zeros(n, dtype=bool)
        revised = np.zeros(n, dtype=bool)
        disagree = np.zeros(n, dtype=bool)
        prev_value: dict[int, float] = {}
        prev_submission: dict[int, str] = {}
        prev_template: dict[int, str] = {}
        if not len(self.index) and len(templates) <= 1:
            # Nothing held and one file: every value is new (the usual bulk load).
            return _Held(unchanged, blank_kept, revised, disagree, prev_value, {}, {})
        pos = np.flatnonzero(candidate)
        if not len(pos):
            return _Held(unchanged, blank_kept, revised, disagree, prev_value, {}, {})
        m_count = max(len(ctx.run.metric_codes), 1)
        facts = (
            ctx.provider[pos].astype(np.int64) * _DAY_SPAN
            + (ctx.day[pos].astype(np.int64) + _DAY_OFFSET)
        ) * m_count + ctx.mpos[pos]
        if len(templates) > 1:  # a fact may come from several files: take them in order
            shared = pd.Series(facts).duplicated(keep=False).to_numpy()
            if shared.any():
                sub = np.flatnonzero(shared)
                sub = sub[np.lexsort((ctx.r["row"][pos[sub]], ctx.file_of[pos[sub]], facts[sub]))]
                order = np.concatenate([np.flatnonzero(~shared), sub])
                pos, facts = pos[order], facts[order]
        starts = np.r_[True, facts[1:] != facts[:-1]]
        at = self.index.get_indexer(facts) if len(self.index) else np.full(len(pos), -1)
        value = ctx.r["value"]
        status = ctx.status
        template_of_file = np.asarray(templates, dtype=object)
        # Single occurrences (the usual case): compare with what is held, vectorised.
        single = starts & np.r_[starts[1:], True]
        s_pos, s_at = pos[single], at[single]
        has = s_at >= 0
        hv = np.where(has, self.value[np.maximum(s_at, 0)] if len(self.value) else np.nan, np.nan)
        hs = np.where(has, self.status[np.maximum(s_at, 0)] if len(self.status) else -1, -1)
        same = has & rules.same_values(value[s_pos], status[s_pos], hv, hs)
        blank = has & ~same & (status[s_pos] == _MISSING) & (hs != _MISSING)
        unchanged[s_pos[same]] = True
        blank_kept[s_pos[blank]] = True
        rev = has & ~same & ~blank
        revised[s_pos[rev]] = True
        for p, a in zip(s_pos[rev], s_at[rev], strict=True):
            prev_value[int(p)] = float(self.value[a])
            old_template = str(self.template[a] or "")
            prev_submission[int(p)] = str(self.submission[a] or "")
            prev_template[int(p)] = old_template
            if old_template and old_template != template_of_file[ctx.file_of[p]]:
                disagree[p] = True
        # A fact given by several files of this run: take them in order.
        multi = np.flatnonzero(~single)
        current: tuple[float, int, str, str] | None = None
        for i in multi:
            p = int(pos[i])
            if starts[i]:
                a = int(at[i])
                current = (
                    (
                        float(self.value[a]),
                        int(self.status[a]),
                        str(self.template[a] or ""),
                        str(self.submission[a] or ""),
                    )
                    if a >= 0
                    else None
                )
            this_template = str(template_of_file[ctx.file_of[p]])
            this = (
                float(value[p]),
                int(status[p]),
                this_template,
                f"file {ctx.run.files[int(ctx.file_of[p])].name}",
            )
            if current is None:
                current = this
                continue
            prev_value[p] = current[0]
            if rules.same_values(
                np.array([this[0]]),
                np.array([this[1]]),
                np.array([current[0]]),
                np.array([current[1]]),
            )[0]:
                unchanged[p] = True
                continue
            if this[1] == _MISSING and current[1] != _MISSING:
                blank_kept[p] = True
                continue
            revised[p] = True
            prev_template[p] = current[2]
            prev_submission[p] = current[3]
            if current[2] and current[2] != this_template:
                disagree[p] = True
            current = this
        return _Held(
            unchanged,
            blank_kept,
            revised,
            disagree,
            prev_value,
            prev_submission,
            prev_template,
        )


class _Context:
    """Per-row arrays shared by the checks and the message writer."""

    def __init__(
        self,
        run: ValidationRun,
        r: dict[str, np.ndarray],
        file_of: np.ndarray,
        provider: np.ndarray,
        day: np.ndarray,
        mpos: np.ndarray,
        status: np.ndarray,
        key: np.ndarray,
    ) -> None:
        self.run = run
        self.r = r
        self.file_of = file_of
        self.provider = provider
        self.day = day
        self.mpos = mpos
        self.status = status
        self.key = key
        self.cell = np.zeros(0, dtype=np.int64)
        self.clashes: rules.KeyClashes | None = None
        self.wide = np.zeros((0, 0))
        self.from_store = np.zeros((0, 0), dtype=bool)
        self.wide_failures: list[Failure] = []
        self.clash_rows: dict[int, list[int]] = {}
        #: Per flagged row: median, low, high and periods of its history.
        self.outlier: dict[int, tuple[float, float, float, int]] = {}
        self.held: _Held | None = None


@dataclass
class _Checked:
    """What `ValidationRun.check` found, for `finish`."""

    ctx: _Context
    group_file: np.ndarray
    #: Errors and warnings so far, in the order findings are listed; the provider × period
    #: suite's errors go in at `errors_at`.
    errors: list[_Listed] = field(default_factory=list)
    warnings: list[_Listed] = field(default_factory=list)
    errors_at: int = 0
    has_cell: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: Rows that take part in the provider × period suite.
    wide_cells: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: The provider × period pivot of the run's own reported values, and its metrics that
    #: take part in a cross-metric rule.
    own: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    partners: list[int] = field(default_factory=list)
    wide_failures: list[Failure] = field(default_factory=list)


class _Messages:
    """Plain-English findings: what is wrong with the row and how to fix it."""

    def __init__(self, run: ValidationRun, ctx: _Context) -> None:
        self.run = run
        self.ctx = ctx
        self.catalog = run.catalog

    def _metric(self, p: int) -> str:
        return self.run._metrics.texts[int(self.ctx.r["metric"][p])]

    def _label(self, code: str) -> str:
        metric = self.catalog.metrics.get(code)
        return f"{metric.label} ({code})" if metric else code

    def _period(self, p: int, code: str | None = None) -> str:
        metric = self.catalog.metrics.get(code or "")
        grain = metric.grain.period if metric else "month"
        return period_label(from_day_number(int(self.ctx.day[p])), grain)

    def _provider(self, p: int) -> str:
        return self.run._providers.texts[int(self.ctx.provider[p])]

    def _value_text(self, p: int, pretty: bool = False) -> str:
        status = int(self.ctx.status[p])
        if status == _SUPPRESSED:
            return "*"
        if status == _MISSING:
            return "(blank)"
        value = float(self.ctx.r["value"][p])
        return fmt_number(value) if pretty else show_value(value)

    def finding(self, rule: str, severity: str, p: int) -> Finding:
        ctx = self.ctx
        code = self._metric(p)
        provider = self._provider(p)
        period = self._period(p, code)
        value = self._value_text(p)
        shown = self._value_text(p, pretty=True)
        column: str | None = self.run._columns.texts[int(ctx.r["column"][p])] or None
        metric: str | None = code or None
        where = f"{provider} {period}"
        write = getattr(self, f"_{rule}", None)
        if write is None:
            message = f"Rule {rule} failed for {self._label(code)} ({where}, value {value})."
        else:
            message, column_override = write(p, code, provider, period, shown)
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
            file=self.run.files[int(ctx.file_of[p])].name,
            row=int(ctx.r["row"][p]),
            column=column,
            metric=metric,
            rule=rule,
            severity="error" if severity == "error" else "warning",
            message=message,
            value=value,
        )

    # One writer per rule: (message, column or None to keep the row's source column).

    def _known_provider(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        close = closest(provider.upper(), self.catalog.providers)
        hint = f" Did you mean {close}?" if close else ""
        return (
            f"Provider code '{show_value(provider)}' is not in the provider list.{hint} Use the "
            "trust's ODS code (for example RF4); if the code is right, ask the data team to add "
            "it to providers.csv.",
            "provider_code",
        )

    def _known_metric(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        close = closest(code, self.catalog.metrics, cutoff=0.7)
        hint = f" Did you mean '{close}'?" if close else ""
        return (
            f"'{show_value(code)}' is not a metric in the catalogue.{hint} Use the metric codes "
            "of the template (collectonce catalog shows them), or remove the row.",
            None,
        )

    def _metric_active(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        metric = self.catalog.metrics.get(code)
        if metric is None:
            return f"'{code}' is not collected. Remove the row.", None
        if metric.is_derived:
            return (
                f"{self._label(code)} is calculated from other figures and is not submitted. "
                "Remove the row; the figure is worked out from its parts.",
                None,
            )
        status = metric.status
        if status.state == "draft":
            return (
                f"{self._label(code)} is a draft metric, not collected yet"
                f" (planned from {status.effective_from:%Y-%m-%d}). Remove the row.",
                None,
            )
        if status.effective_to and from_day_number(int(self.ctx.day[p])) > status.effective_to:
            return (
                f"{self._label(code)} stopped being collected after "
                f"{status.effective_to:%Y-%m-%d}, but this row is for {period}. Remove the row "
                "or check the period.",
                "period",
            )
        return (
            f"{self._label(code)} is {status.state} and no longer collected. Remove the row.",
            None,
        )

    def _value_status(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        return (
            "The value status must be reported, suppressed (*) or missing (blank). Write the "
            "number, * for a suppressed small number, or leave the cell empty.",
            None,
        )

    def _required_value(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        return (
            "The provider code, period and metric must all be given. Fill in the blank cell.",
            None,
        )

    def _required_column(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        return (
            "A required column is missing. Use the canonical template: provider_code, period, "
            "metric_id, value.",
            None,
        )

    def _future_period(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        return (
            f"The period {period} has not started yet (today is {self.run.today:%Y-%m-%d}). "
            "Check the period column: data can only be sent for periods that have begun.",
            "period",
        )

    def _provider_scope(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        me = self.run.files[int(self.ctx.file_of[p])].as_provider
        return (
            f"You are submitting as {me}, but this row is for {provider}. A provider may submit "
            f"only its own rows: remove the row, or ask {provider} (or the data team) to send it.",
            "provider_code",
        )

    def _conflicting_key(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        ctx = self.ctx
        held = ctx.held
        if held is not None and p in held.prev_template and held.disagree[p]:
            old = fmt_number(held.prev_value.get(p))
            return (
                f"{self._label(code)} for {provider} {period} is {value} here, but {old} was "
                f"received earlier through {held.prev_template[p]} "
                f"(submission {held.prev_submission[p]}). The new value is kept as a revision; "
                "if the earlier figure was right, send it again.",
                None,
            )
        first = ctx.clashes.first_of(p) if ctx.clashes is not None else p
        others = [o for o in ctx.clash_rows.get(first, []) if o != p][:5]
        rows_text = ", ".join(str(int(ctx.r["row"][o])) for o in others) or "?"
        return (
            f"{self._label(code)} for {provider} {period} is given more than once with different "
            f"values (this row: {value}; see also row {rows_text}). Keep one row with the "
            "right value and delete the others.",
            None,
        )

    def _duplicate_key(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        clashes = self.ctx.clashes
        first = int(self.ctx.r["row"][clashes.first_of(p) if clashes is not None else p])
        return (
            f"{self._label(code)} for {provider} {period} repeats row {first} with the same "
            "value; it is counted once. Delete the repeated row next time.",
            None,
        )

    def _value_range(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        metric = self.catalog.metrics[code]
        lo, hi = metric.valid.min, metric.valid.max
        x = float(self.ctx.r["value"][p])
        if lo is not None and x < lo:
            side = f"below the minimum of {fmt_number(lo)}"
        elif hi is not None and x > hi:
            side = f"above the maximum of {fmt_number(hi)}"
        else:
            side = "outside the valid range"
        if lo is not None and hi is not None:
            span = f"{fmt_number(lo)} to {fmt_number(hi)}"
        elif lo is not None:
            span = f"{fmt_number(lo)} or more"
        else:
            span = f"at most {fmt_number(hi)}"
        unit = f" ({metric.unit})" if metric.unit else ""
        return (
            f"{self._label(code)} for {provider} {period} is {value}, {side}{unit}. Valid values "
            f"are {span}. Check the figure (and its unit) and send the corrected value.",
            None,
        )

    def _cross_metric_rule(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        ctx = self.ctx
        g = int(ctx.r["group"][p])
        mine = self.run.metric_pos.get(code, -1)
        for failure in ctx.wide_failures:
            if failure.rule != "cross_metric_rule" or not _contains(failure.groups, g):
                continue
            a, b = str(failure.meta["metric"]), str(failure.meta["other"])
            pa_, pb = self.run.metric_pos[a], self.run.metric_pos[b]
            if mine not in (pa_, pb):
                continue
            va, vb = ctx.wide[g, pa_], ctx.wide[g, pb]
            symbol = {"lte": "≤", "lt": "<", "gte": "≥", "gt": ">", "eq": "="}[
                str(failure.meta["op"])
            ]
            held = ""
            if ctx.from_store[g, pb] or ctx.from_store[g, pa_]:
                held = " (one of them is the value already held from an earlier submission)"
            return (
                f"{self._label(a)} = {fmt_number(va)} must be {symbol} {self._label(b)} = "
                f"{fmt_number(vb)} for {provider} {period}{held}. One of the two figures is "
                "wrong: check both and send them corrected.",
                None,
            )
        return (f"{self._label(code)} breaks a cross-metric rule for {provider} {period}.", None)

    def _type_integer(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        return (
            f"{self._label(code)} is a count, so it must be a whole number, but {provider} "
            f"{period} gives {value}. Send the whole number (no decimals).",
            None,
        )

    def _metric_effective_period(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        metric = self.catalog.metrics[code]
        return (
            f"{self._label(code)} is defined from {metric.status.collected_from:%Y-%m-%d} "
            f"(version {metric.status.version}); the value for {period} is kept, but it comes "
            "from before the metric was collected. No action is needed if it is right.",
            "period",
        )

    def _suppressed_value(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        return (
            f"{self._label(code)} for {provider} {period} is suppressed (*). It is kept as "
            "suppressed, not as zero, and requesters will see it as suppressed. No action is "
            "needed if the number is small enough to be suppressed.",
            None,
        )

    def _outlier_history(
        self, p: int, code: str, provider: str, period: str, value: str
    ) -> tuple[str, str | None]:
        median, low, high, periods = self.ctx.outlier.get(p, (np.nan, np.nan, np.nan, 0))
        return (
            f"{self._label(code)} for {provider} {period} is {value}, far outside {provider}'s "
            f"own history (usually {fmt_number(low, 4)} to {fmt_number(high, 4)}, median "
            f"{fmt_number(median, 4)}, over the last {periods} periods held before {period}). It "
            "has been accepted; check it, and send a correction if it is a typing or unit error.",
            None,
        )
