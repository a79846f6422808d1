"""A validation run decides, row by row, what is rejected, accepted and stored."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from collectonce.contracts import CANONICAL_ROWS

TODAY = dt.date(2019, 7, 10)


def canonical(rows: list[tuple], column: str = "value") -> pa.Table:
    """Canonical rows from (provider, 'YYYY-MM', metric, value or '*' or None, source_row)."""
    out = []
    for provider, period, metric, value, row in rows:
        status = "suppressed" if value == "*" else ("missing" if value is None else "reported")
        out.append(
            {
                "provider_code": provider,
                "period": dt.date.fromisoformat(period + "-01"),
                "metric_id": metric,
                "value": float(value) if status == "reported" else None,
                "value_status": status,
                "comment": None,
                "source_row": row,
                "source_column": column,
            }
        )
    return pa.Table.from_pylist(out, schema=CANONICAL_ROWS)


def run_one(catalog, rows, *, name="rf4__test.csv", history=None, as_provider=None, **kw):
    from collectonce.validate.run import ValidationRun

    run = ValidationRun(catalog, today=TODAY, **kw)
    file = run.add_file(name, as_provider=as_provider)
    table = canonical(rows)
    run.add_batch(file, table, rows_read=len({r[-1] for r in rows}), template="canonical_long")
    (result,) = run.finish(history)
    batches = list(run.iter_batches())
    run.close()
    store = np.concatenate([b.store for b in batches]) if batches else np.zeros(0, bool)
    rejected = np.concatenate([b.rejected for b in batches]) if batches else np.zeros(0, bool)
    return result, store, rejected, batches


def test_it_rejects_both_rows_when_breaches_exceed_attendances(catalog_min) -> None:
    """It names file, row, column, metric and rule, and says how to fix the row."""
    result, store, rejected, _ = run_one(
        catalog_min,
        [
            ("RF4", "2019-02", "ae_attendances_type1", 14569, 2),
            ("RF4", "2019-02", "ae_breaches_4hr_type1", 16140, 3),
            ("RF4", "2019-02", "ae_emergency_admissions", 4097, 4),
        ],
    )
    rules = {(f.row, f.rule) for f in result.findings}
    assert rules == {(2, "cross_metric_rule"), (3, "cross_metric_rule")}
    finding = next(f for f in result.findings if f.row == 3)
    assert finding.file == "rf4__test.csv"
    assert finding.column == "value"
    assert finding.metric == "ae_breaches_4hr_type1"
    assert finding.severity == "error"
    assert "16,140" in finding.message and "14,569" in finding.message
    assert "check both" in finding.message
    assert rejected.tolist() == [True, True, False]
    assert store.tolist() == [False, False, True]
    assert (result.rows_read, result.rows_rejected, result.rows_accepted) == (3, 2, 1)


def test_a_repeated_identical_row_is_one_fact_with_a_warning(catalog_min) -> None:
    """It stores the first of two identical rows and flags the second (duplicate_key)."""
    result, store, rejected, _ = run_one(
        catalog_min,
        [
            ("RF4", "2019-04", "ae_emergency_admissions", 4703, 2),
            ("RF4", "2019-04", "ae_emergency_admissions", 4703, 3),
        ],
    )
    assert [(f.row, f.rule, f.severity) for f in result.findings] == [
        (3, "duplicate_key", "warning")
    ]
    assert "repeats row 2" in result.findings[0].message
    assert store.tolist() == [True, False]
    assert not rejected.any()
    assert result.rows_accepted == 2


def test_two_different_values_for_one_key_reject_both_rows(catalog_min) -> None:
    """It cannot tell which of two different values is right, so it rejects both."""
    result, store, rejected, _ = run_one(
        catalog_min,
        [
            ("RF4", "2019-03", "ae_attendances_type1", 15994, 2),
            ("RF4", "2019-03", "ae_attendances_type1", 15995, 3),
        ],
    )
    assert {(f.row, f.rule) for f in result.findings} == {
        (2, "conflicting_key"),
        (3, "conflicting_key"),
    }
    assert "see also row 3" in next(f.message for f in result.findings if f.row == 2)
    assert rejected.all() and not store.any()


def test_an_error_on_one_value_rejects_the_whole_source_row(catalog_min) -> None:
    """It rejects every value of a wide row when one of them is wrong."""
    result, _store, rejected, _ = run_one(
        catalog_min,
        [
            ("RF4", "2019-01", "ae_attendances_type1", 16428, 2),
            ("RF4", "2019-01", "staff_sickness_absence_rate", 140, 2),
            ("RF4", "2019-02", "ae_attendances_type1", 14569, 3),
        ],
    )
    assert [(f.row, f.rule, f.metric) for f in result.findings] == [
        (2, "value_range", "staff_sickness_absence_rate")
    ]
    assert "above the maximum of 100" in result.findings[0].message
    assert rejected.tolist() == [True, True, False]
    assert (result.rows_read, result.rows_rejected) == (2, 1)


def test_it_warns_on_a_value_far_outside_the_providers_history(catalog_min) -> None:
    """It accepts the value, flagged outlier_history, naming the usual range."""
    months = pd.date_range("2017-01-01", periods=24, freq="MS").date
    history = pd.DataFrame(
        {
            "provider_code": "RF4",
            "period": months,
            "metric_id": "ae_emergency_admissions",
            "value": [4000.0 + (i % 5) * 100 for i in range(24)],
            "value_status": "reported",
            "source_template": "canonical_long",
            "submission_id": "sub_old",
        }
    )
    result, store, _rejected, batches = run_one(
        catalog_min,
        [
            ("RF4", "2019-01", "ae_emergency_admissions", 41070, 2),
            ("RF4", "2019-02", "ae_emergency_admissions", 4150, 3),
        ],
        history=history,
    )
    (finding,) = result.findings
    assert (finding.row, finding.rule, finding.severity) == (2, "outlier_history", "warning")
    assert "usually 4,000 to 4,400" in finding.message
    assert store.tolist() == [True, True]
    assert batches[0].warnings.to_pylist() == ["outlier_history", None]


def test_a_value_is_judged_against_the_months_before_it_whatever_arrived_later(catalog_min):
    """Months after the one checked do not count as its history: the answer is the same
    whether or not they were received first."""
    before = pd.date_range("2017-01-01", periods=24, freq="MS").date
    after = pd.date_range("2019-02-01", periods=12, freq="MS").date
    history = pd.DataFrame(
        {
            "provider_code": "RF4",
            "period": [*before, *after],
            "metric_id": "ae_emergency_admissions",
            "value": [4000.0 + (i % 5) * 100 for i in range(24)] + [41000.0] * 12,
            "value_status": "reported",
            "source_template": "canonical_long",
            "submission_id": "sub_old",
        }
    )
    earlier_only = history[history["period"] < dt.date(2019, 1, 1)]
    for held in (history, earlier_only):
        typical, *_ = run_one(
            catalog_min, [("RF4", "2019-01", "ae_emergency_admissions", 4150, 2)], history=held
        )
        assert typical.findings == []
        far, *_ = run_one(
            catalog_min, [("RF4", "2019-01", "ae_emergency_admissions", 41070, 2)], history=held
        )
        (finding,) = far.findings
        assert finding.rule == "outlier_history"
        assert "usually 4,000 to 4,400, median 4,200" in finding.message
        assert "over the last 24 periods held before 2019-01" in finding.message


def test_the_usual_range_of_a_large_series_is_written_as_people_write_numbers(catalog_min):
    """It writes the usual range of a series in the tens of thousands as 16,000 to 16,400,
    never in scientific notation, and the value as it was typed."""
    months = pd.date_range("2017-01-01", periods=24, freq="MS").date
    history = pd.DataFrame(
        {
            "provider_code": "RF4",
            "period": months,
            "metric_id": "ae_emergency_admissions",
            "value": [16000.3 + (i % 5) * 100 for i in range(24)],
            "value_status": "reported",
            "source_template": "canonical_long",
            "submission_id": "sub_old",
        }
    )
    result, *_ = run_one(
        catalog_min, [("RF4", "2019-01", "ae_emergency_admissions", 160003, 2)], history=history
    )
    (finding,) = result.findings
    assert finding.rule == "outlier_history"
    assert "is 160,003, far outside" in finding.message
    assert "usually 16,000 to 16,400, median 16,200" in finding.message
    assert "e+" not in finding.message


def test_the_cross_metric_rule_uses_the_value_already_held(catalog_min) -> None:
    """It checks breaches sent alone against the attendances already held for that month."""
    history = pd.DataFrame(
        {
            "provider_code": ["RF4"],
            "period": [dt.date(2019, 1, 1)],
            "metric_id": ["ae_attendances_type1"],
            "value": [1000.0],
            "value_status": ["reported"],
            "source_template": ["canonical_long"],
            "submission_id": ["sub_old"],
        }
    )
    result, store, _, _ = run_one(
        catalog_min, [("RF4", "2019-01", "ae_breaches_4hr_type1", 1500, 2)], history=history
    )
    (finding,) = result.findings
    assert finding.rule == "cross_metric_rule" and finding.row == 2
    assert "already held" in finding.message
    assert not store.any()


def test_a_rule_broken_by_the_file_alone_and_with_a_held_value_is_listed_once_a_row(catalog_min):
    """A cross-metric rule broken within the file in one month and against the value already
    held in another: each row concerned gets one finding, and the held one says so."""
    history = pd.DataFrame(
        {
            "provider_code": ["RF4", "RF4"],
            "period": [dt.date(2019, 1, 1), dt.date(2019, 2, 1)],
            "metric_id": ["ae_attendances_type1", "ae_breaches_4hr_type1"],
            "value": [1000.0, 10.0],
            "value_status": ["reported", "reported"],
            "source_template": ["canonical_long"] * 2,
            "submission_id": ["sub_old"] * 2,
        }
    )
    result, store, rejected, _ = run_one(
        catalog_min,
        [
            ("RF4", "2019-01", "ae_breaches_4hr_type1", 1500, 2),
            ("RF4", "2019-02", "ae_attendances_type1", 100, 3),
            ("RF4", "2019-02", "ae_breaches_4hr_type1", 200, 4),
        ],
        history=history,
    )
    assert [(f.row, f.rule) for f in result.findings] == [
        (2, "cross_metric_rule"),
        (3, "cross_metric_rule"),
        (4, "cross_metric_rule"),
    ]
    assert "already held" in result.findings[0].message
    assert "already held" not in result.findings[1].message
    assert rejected.tolist() == [True, True, True] and not store.any()


def test_it_lists_at_most_the_limit_and_counts_the_rest(catalog_min) -> None:
    """It keeps receipts readable: the first N rows of a rule, then one finding counting the
    rest; every bad row is still rejected."""
    rows = [
        ("RF4", f"{2000 + i // 12}-{i % 12 + 1:02d}", "ae_attendances_type1", -1, i + 2)
        for i in range(30)
    ]
    result, _store, rejected, _ = run_one(catalog_min, rows, max_findings=5)
    listed = [f for f in result.findings if f.row is not None]
    assert len(listed) == 5
    (summary,) = [f for f in result.findings if f.row is None]
    assert summary.message.startswith("25 more rows")
    assert rejected.all() and result.rows_rejected == 30


def test_streaming_through_the_spill_gives_the_same_decisions(catalog_min, tmp_path) -> None:
    """It spills rows to disk beyond `spill_rows` and streams them back in the same order."""
    from collectonce.validate.run import ValidationRun

    rows = [
        ("RF4", f"{2000 + i // 12}-{i % 12 + 1:02d}", "ae_attendances_type1", i, i + 2)
        for i in range(50)
    ]
    rows[7] = ("RF4", rows[7][1], "ae_attendances_type1", -5, 9)
    run = ValidationRun(catalog_min, today=TODAY, spill_rows=10, spill_dir=tmp_path)
    file = run.add_file("big.csv")
    for start in range(0, 50, 10):
        part = rows[start : start + 10]
        run.add_batch(file, canonical(part), rows_read=len(part))
    (result,) = run.finish()
    batches = list(run.iter_batches())
    run.close()
    assert sum(b.table.num_rows for b in batches) == 50
    rejected = np.concatenate([b.rejected for b in batches])
    assert np.flatnonzero(rejected).tolist() == [7]
    assert result.rows_rejected == 1 and result.rows_accepted == 49


def test_a_count_with_decimals_is_quoted_as_it_was_typed(catalog_min) -> None:
    """It rejects 21.289 attendances (a count must be whole) and quotes 21.289, not a rounded
    21.29, so the person can find the cell."""
    result, store, rejected, _batches = run_one(
        catalog_min, [("RF4", "2019-01", "ae_attendances_type1", 21.289, 2)]
    )
    (finding,) = result.findings
    assert (finding.rule, finding.severity) == ("type_integer", "error")
    assert "gives 21.289." in finding.message
    assert rejected.tolist() == [True] and store.tolist() == [False]


def test_the_old_engine_module_keeps_every_name_callers_use() -> None:
    """`collectonce.validate.engine` re-exports the run and its models from their new homes."""
    from collectonce.validate import engine, listing, rows, run

    assert engine.ValidationRun is run.ValidationRun
    for name in ("FileInput", "FileResult", "RowBatch", "ROW_BITS", "day_number", "period_label"):
        assert getattr(engine, name) is getattr(rows, name)
    assert engine.MAX_FINDINGS_PER_RULE is listing.MAX_FINDINGS_PER_RULE
