"""Listing: the findings of each file (at most so many rows per rule), its counts, and the notes
kept on each stored or quarantined row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from collectonce.findings import Finding
from collectonce.validate import rules
from collectonce.validate.checks import WRITERS
from collectonce.validate.history import Held
from collectonce.validate.rows import (
    ROW_BITS,
    Context,
    FileResult,
    Listed,
    from_day_number,
    period_label,
)
from collectonce.validate.wording import Wording

if TYPE_CHECKING:
    from collectonce.validate.run import ValidationRun

#: Rows of a listed rule per file in findings; the rest are counted in one finding.
MAX_FINDINGS_PER_RULE = 1000
#: Rules about a row's provider or period rather than one of its values: a wide row (one value
#: per metric) gets one finding for them, not one per value.
ROW_RULES = frozenset({"known_provider", "provider_scope", "future_period"})
#: Notes are worked out row by row once more than one row in this many has one.
DENSE_NOTES = 8


def file_results(
    run: ValidationRun,
    ctx: Context,
    errors: list[Listed],
    warnings: list[Listed],
    rejected_keys: np.ndarray,
    store: np.ndarray,
    held: Held,
    clashes: rules.KeyClashes,
) -> list[FileResult]:
    listed: dict[int, list[Finding]] = {f.index: [] for f in run.files}
    messages = Wording(run, ctx, WRITERS)
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
        bounds_at = np.searchsorted(files, np.arange(len(run.files) + 1))
        for f in np.unique(files):
            lo, hi = int(bounds_at[f]), int(bounds_at[f + 1])
            shown = positions[lo : min(hi, lo + run.max_findings)]
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
                        file=run.files[int(f)].name,
                        row=None,
                        column=item.column,
                        metric=None,
                        rule=item.rule,
                        severity=item.severity,
                        message=(
                            f"{rest:,} more rows have this problem ({item.rule}); only the "
                            f"first {run.max_findings:,} are listed. Fix them all the same "
                            "way."
                        ),
                    )
                )
    n_files = max(len(run.files), 1)

    def per_file(mask: np.ndarray) -> np.ndarray:
        if n_files == 1:
            return np.array([int(np.count_nonzero(mask))])
        return np.bincount(ctx.file_of[mask], minlength=n_files)

    rejected_per_file = np.bincount((rejected_keys >> ROW_BITS).astype(np.int64), minlength=n_files)
    stored = per_file(store)
    unchanged = per_file(held.unchanged)
    revised = per_file(held.revised & store)
    duplicates = per_file(clashes.duplicate)
    providers_of: dict[int, set[str]] = {f.index: set() for f in run.files}
    days_of: dict[int, set[int]] = {f.index: set() for f in run.files}
    for file_index, provider, day in zip(
        run._group_file, run._group_provider, run._group_day, strict=True
    ):
        providers_of[file_index].add(run._providers.texts[provider])
        days_of[file_index].add(day)
    results = []
    for f in run.files:
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


@dataclass(frozen=True)
class RowNotes:
    """Per-row notes (the rules of a row joined with ';'), kept for the rows that have one."""

    rows: np.ndarray  # ascending positions of the rows with a note
    codes: np.ndarray  # int32: each one's note, an index into `texts`
    texts: list[str]

    @classmethod
    def none(cls) -> RowNotes:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32), [])

    def codes_of(self, start: int, stop: int) -> np.ndarray:
        """The note code of rows start … stop-1 (-1 for none)."""
        lo, hi = np.searchsorted(self.rows, [start, stop])
        codes = np.full(stop - start, -1, dtype=np.int32)
        codes[self.rows[lo:hi] - start] = self.codes[lo:hi]
        return codes

    def of(self, start: int, stop: int) -> pa.Array:
        """The notes of rows start … stop-1, dictionary-encoded (null where there is none)."""
        return notes(self.codes_of(start, stop), self.texts)


def join_rules(items: list[Listed], n: int, only: np.ndarray | None = None) -> RowNotes:
    """Per-row notes of `items` over `n` rows (only of the rows of `only`, when given)."""
    listed = [i for i in items if len(i.positions)]
    names = sorted({i.rule for i in listed})
    if not names:
        return RowNotes.none()
    kind = np.uint32 if len(names) <= 32 else np.uint64
    bit = {name: kind(1) << kind(i) for i, name in enumerate(names)}
    if sum(len(i.positions) for i in listed) * DENSE_NOTES > n:  # many notes: one per row
        mask = np.zeros(n, dtype=kind)
        for item in listed:
            mask[item.positions] |= bit[item.rule]
        if only is not None:
            mask[~only] = 0
        rows = np.flatnonzero(mask)
        rules_of = mask[rows]
    else:  # a few rows have a note: only those
        at = np.concatenate([i.positions for i in listed]).astype(np.int64, copy=False)
        bits = np.concatenate([np.full(len(i.positions), bit[i.rule], dtype=kind) for i in listed])
        if only is not None:
            keep = only[at]
            at, bits = at[keep], bits[keep]
        rows, inverse = np.unique(at, return_inverse=True)
        rules_of = np.zeros(len(rows), dtype=kind)
        np.bitwise_or.at(rules_of, inverse, bits)
    if not len(rows):
        return RowNotes.none()
    uniques, inverse = np.unique(rules_of, return_inverse=True)
    texts = [";".join(name for name in names if int(u) & int(bit[name])) for u in uniques]
    return RowNotes(rows.astype(np.int64, copy=False), inverse.astype(np.int32), texts)


def notes(codes: np.ndarray, texts: list[str]) -> pa.Array:
    """The notes of some rows, dictionary-encoded (null where there is none)."""
    indices = pa.array(codes, mask=codes < 0, type=pa.int32())
    return pa.DictionaryArray.from_arrays(indices, pa.array(texts, pa.string()))
