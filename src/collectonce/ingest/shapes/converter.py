"""The converter of one file: picks the layout's conversion and rejects rows whose repeated
columns disagree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute

from collectonce.contracts import CODED_ROWS
from collectonce.ingest.formats import RawBatch, make_finding, row_texts
from collectonce.ingest.normalise.text import header_key
from collectonce.ingest.shapes.by_type_rows import ByTypeRows
from collectonce.ingest.shapes.long_wide import LongWideRows
from collectonce.ingest.shapes.published_rows import PublishedRows
from collectonce.ingest.shapes.rows import (
    Converted,
    as_dictionary,
    reject_rows,
    text_at,
)
from collectonce.ingest.shapes.targets import CANONICAL_LONG
from collectonce.validate.findings import Finding

#: pyarrow.compute makes its kernels when pyarrow loads, so a type checker knows none by name.
pc: Any = _compute


def _comparable(arr: pa.Array) -> pa.Array:
    """Cells as trimmed text, blank as null, for comparing two columns."""
    text = arr.cast(pa.string()) if not pa.types.is_string(arr.type) else arr
    if pa.types.is_dictionary(text.type):
        text = text.cast(pa.string())
    text = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _same_number(a: pa.Scalar, b: pa.Scalar) -> bool:
    """Two cells that read as the same number (``1,234`` and ``1234.0``)."""
    try:
        left = float(str(a.as_py()).replace(",", ""))
        right = float(str(b.as_py()).replace(",", ""))
    except (TypeError, ValueError):
        return False
    return left == right


class Converter(LongWideRows, PublishedRows, ByTypeRows):
    """Turns raw batches into canonical rows for one file and layout."""

    # The template of a long file is decided from the codes in its first batch.
    def decide(self, batch: RawBatch) -> None:
        if self.layout.decided or self.layout.metric is None or batch.num_rows == 0:
            return
        keys = as_dictionary(batch.cells[self.layout.metric]).dictionary.to_pylist()
        template, _count = self.resolver.best_template([header_key(k) for k in keys if k])
        self.layout.template = template or CANONICAL_LONG
        self.layout.decided = True

    def convert(self, batch: RawBatch) -> Converted:
        self.decide(batch)
        conflicts = self._conflicts(batch)
        if self.layout.kind == "by_type":
            # Sums span rows (admissions of every department type), so the rows are converted
            # together by `finish`; such files are small (one row per provider, month and type).
            self._held.append(batch)
            if conflicts is not None:
                self._held_conflicts.append(conflicts)
            return Converted(CODED_ROWS.empty_table(), [], np.zeros(0, dtype=np.int64))
        if self.layout.kind == "long":
            converted = self._convert_long(batch)
        elif self.layout.kind == "published":
            converted = self._convert_published(batch)
        else:
            converted = self._convert_wide(batch)
        return converted if conflicts is None else reject_rows(converted, *conflicts)

    def finish(self) -> Converted | None:
        """Rows held back until the whole file was read (the A&E layout by department type)."""
        if self.layout.kind != "by_type" or not self._held:
            return None
        held, self._held = self._held, []
        converted = self._convert_by_type(held)
        for conflicts in self._held_conflicts:
            converted = reject_rows(converted, *conflicts)
        self._held_conflicts = []
        return converted

    def _conflicts(
        self, batch: RawBatch
    ) -> tuple[np.ndarray, pa.Array | None, list[Finding]] | None:
        """Rows where a repeated column disagrees with the first column of the same heading:
        their row numbers, their text as sent and one error finding each."""
        if not self._repeats or batch.num_rows == 0:
            return None
        bad = np.zeros(batch.num_rows, dtype=bool)
        findings: list[Finding] = []
        for first, repeat in self._repeats:
            if max(first, repeat) >= len(batch.cells):
                continue
            a, b = _comparable(batch.cells[first]), _comparable(batch.cells[repeat])
            same = pc.fill_null(pc.equal(a, b), False)
            same = pc.or_(same, pc.and_(pc.is_null(a), pc.is_null(b)))
            differ = ~np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)
            where = np.flatnonzero(differ)
            where = np.array([i for i in where if not _same_number(a[i], b[i])], dtype=np.int64)
            if not len(where):
                continue
            bad[where] = True
            name = self.header[repeat]
            for i in self._listed("duplicate_column_conflict", "error", where):
                left, right = text_at(a, int(i)), text_at(b, int(i))
                findings.append(
                    make_finding(
                        self.file,
                        "duplicate_column_conflict",
                        f"The column {name!r} appears twice and the copies disagree on this row "
                        f"({left or 'blank'} in column {first + 1}, {right or 'blank'} in "
                        f"column {repeat + 1}), so the row was not stored. Keep one column "
                        "with the right figure and send the file again.",
                        row=int(batch.source_row[i]),
                        column=name,
                        value=f"{left or ''} / {right or ''}",
                    )
                )
        rows = np.flatnonzero(bad)
        if not len(rows):
            return None
        sent = row_texts(batch.cells, rows, self.delimiter)
        return batch.source_row[rows], sent, findings
