"""Per-row checks worked block by block decide exactly as over whole columns."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from test_validation_run import canonical

from collectonce.validate import blocks, rules
from collectonce.validate.blocks import row_positions

TODAY = dt.date(2019, 7, 10)

#: Rows that break most rule families: repeats, clashes, ranges, cross-metric rules, counts
#: with decimals, unknown metrics and providers, suppressed and blank values.
MIXED = [
    ("RF4", "2019-01", "ae_attendances_type1", 16428, 2),
    ("RF4", "2019-01", "staff_sickness_absence_rate", 140, 2),
    ("RF4", "2019-02", "ae_attendances_type1", 14569, 3),
    ("RF4", "2019-02", "ae_breaches_4hr_type1", 16140, 3),
    ("RF4", "2019-02", "ae_emergency_admissions", 4097.5, 4),
    ("RF4", "2019-04", "ae_emergency_admissions", 4703, 5),
    ("RF4", "2019-04", "ae_emergency_admissions", 4703, 6),
    ("RF4", "2019-03", "ae_attendances_type1", 15994, 7),
    ("RF4", "2019-03", "ae_attendances_type1", 15995, 8),
    ("RF4", "2019-03", "no_such_metric", 3, 9),
    ("ZZZ99", "2019-03", "ae_attendances_type1", 10, 10),
    ("RF4", "2019-05", "ae_attendances_type1", "*", 11),
    ("RF4", "2019-05", "ae_breaches_4hr_type1", None, 12),
    ("RF4", "2031-01", "ae_attendances_type1", 10, 13),
]


def decide(catalog, files: list[list[tuple]]) -> tuple[list, list]:
    from collectonce.validate.run import ValidationRun

    run = ValidationRun(catalog, today=TODAY)
    for i, rows in enumerate(files):
        file = run.add_file(f"rf4__part{i}.csv")
        run.add_batch(file, canonical(rows), rows_read=len({r[-1] for r in rows}))
    results = run.finish(None)
    decided = [
        (b.store.tolist(), b.rejected.tolist(), b.warnings.to_pylist(), b.reasons.to_pylist())
        for b in run.iter_batches()
    ]
    run.close()
    findings = [
        [(f.row, f.rule, f.column, f.metric, f.severity, f.message) for f in r.findings]
        for r in results
    ]
    return findings, decided


def test_blocks_cover_every_row_once() -> None:
    assert [(s.start, s.stop) for s in blocks.blocks(7, 3)] == [(0, 3), (3, 6), (6, 7)]
    assert list(blocks.blocks(0, 3)) == []
    values = np.arange(10)
    assert row_positions(10, lambda rows: values[rows] > 6, 4).tolist() == [7, 8, 9]
    assert row_positions(0, lambda rows: values[rows] > 6, 4).tolist() == []


@pytest.mark.parametrize("size", [1, 2, 5])
def test_a_run_checked_in_small_blocks_decides_as_in_one(catalog_min, monkeypatch, size) -> None:
    files = [MIXED, MIXED[:5]]
    whole = decide(catalog_min, files)
    monkeypatch.setattr(blocks, "BLOCK_ROWS", size)
    assert decide(catalog_min, files) == whole
    rules_found = {f[1] for f in whole[0][0]}
    assert {"duplicate_key", "conflicting_key", "cross_metric_rule", "type_integer"} <= rules_found


def test_a_run_of_one_file_keeps_no_file_index_per_row(catalog_min) -> None:
    from collectonce.validate.run import ValidationRun

    run = ValidationRun(catalog_min, today=TODAY)
    file = run.add_file("rf4__one.csv")
    run.add_batch(file, canonical(MIXED[:4]), rows_read=3)
    run.check()
    checked = run._checked
    assert checked is not None
    ctx = checked.ctx
    assert ctx.file_of.strides == (0,) and not ctx.file_of.flags.writeable
    assert ctx.key is ctx.r.row
    assert ctx.provider.tolist() == [0, 0, 0, 0]
    run.close()


def test_with_no_repeated_cell_there_are_no_clashes() -> None:
    clashes = rules.no_clashes(3)
    assert not clashes.duplicate.any() and not clashes.conflict.any()
    assert clashes.first_of(2) == 2
    cell = np.array([4, 1, 4, -1])
    found = rules.key_clashes(cell, np.array([1.0, 2.0, 1.0, 3.0]), np.zeros(4), cells=6)
    assert found.duplicate.tolist() == [False, False, True, False]
    assert rules.key_clashes(np.array([0, 1, 2]), np.ones(3), np.zeros(3), 3).repeated.size == 0


def test_a_growing_column_holds_every_batch_in_order() -> None:
    from collectonce.validate.growing import GrowingColumn

    column = GrowingColumn(np.int16)
    column.append(np.array([1, 2, 3], dtype=np.int32))
    column.append(np.zeros(0, dtype=np.int32))
    column.append(np.array([4], dtype=np.int64))
    assert len(column) == 4
    taken = column.take()
    assert taken.dtype == np.int16 and taken.tolist() == [1, 2, 3, 4]
    assert len(column) == 0 and column.take().tolist() == []
    column.append(np.array([5]))
    assert taken.tolist() == [1, 2, 3, 4] and column.take().tolist() == [5]


@pytest.mark.parametrize("dense", [1, 10**9])
def test_notes_are_the_same_kept_per_row_or_for_the_rows_noted(monkeypatch, dense) -> None:
    from collectonce.validate import listing
    from collectonce.validate.rows import Listed

    monkeypatch.setattr(listing, "DENSE_NOTES", dense)
    items = [
        Listed("b_rule", "warning", np.array([1, 5, 7])),
        Listed("a_rule", "warning", np.array([5, 9])),
        Listed("c_rule", "warning", np.zeros(0, dtype=np.int64)),
        Listed("a_rule", "warning", np.array([2])),
    ]
    notes = listing.join_rules(items, 12)
    assert notes.texts == ["a_rule", "b_rule", "a_rule;b_rule"]
    assert notes.codes_of(0, 12).tolist() == [-1, 1, 0, -1, -1, 2, -1, 1, -1, 0, -1, -1]
    assert notes.of(4, 8).to_pylist() == [None, "a_rule;b_rule", None, "b_rule"]
    only = np.zeros(12, dtype=bool)
    only[[5, 9]] = True
    kept = listing.join_rules(items, 12, only=only)
    assert kept.texts == ["a_rule", "a_rule;b_rule"]
    assert kept.codes_of(0, 12).tolist() == [-1] * 5 + [1, -1, -1, -1, 0, -1, -1]
    assert listing.join_rules(items, 12, only=np.zeros(12, dtype=bool)).texts == []
    assert listing.join_rules(items[2:3], 12).of(0, 3).to_pylist() == [None, None, None]


def test_text_codes_of_chunked_columns_follow_first_appearance() -> None:
    from collectonce.validate.rows import TextCodes

    codes = TextCodes()
    chunked = pa.chunked_array([["RF4", "RRK"], [], ["RRK", None, "R1H"]])
    assert codes.encode(chunked).tolist() == [0, 1, 1, 2, 3]
    assert codes.texts == ["RF4", "RRK", "", "R1H"]
    assert codes.encode(pa.chunked_array([["R1H"] * 3])).tolist() == [3, 3, 3]
    assert codes.encode(pa.array([None, None], pa.string())).tolist() == [2, 2]
    assert codes.encode(pa.array(["X", "RF4"])).tolist() == [4, 0]
    assert codes.encode(pa.chunked_array([], pa.string())).tolist() == []


def test_text_codes_of_chunks_each_with_its_own_dictionary_are_their_texts() -> None:
    """Dictionary-encoded chunks (as a streaming reader may give them) each index their own
    dictionary; the codes name each row's own text."""
    from collectonce.validate.rows import TextCodes

    codes = TextCodes()
    chunked = pa.chunked_array(
        [
            pa.array(["RF4", "RRK"]).dictionary_encode(),
            pa.array(["R1H", "RF4", None]).dictionary_encode(),
        ]
    )
    assert [codes.texts[c] for c in codes.encode(chunked)] == ["RF4", "RRK", "R1H", "RF4", ""]
    one = pa.array(["RQM", "RQM"]).dictionary_encode()
    assert [codes.texts[c] for c in codes.encode(one)] == ["RQM", "RQM"]
