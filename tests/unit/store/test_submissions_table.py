"""The submissions table keeps every version; the latest received value wins."""

from __future__ import annotations

import datetime as dt

import pandas as pd

JAN = dt.date(2019, 1, 1)


def values(sid: str, value: float | None, received: dt.datetime, **extra) -> pd.DataFrame:
    row = {
        "submission_id": sid,
        "file_sha256": "0" * 64,
        "source_row": 2,
        "source_template": "canonical_long",
        "provider_code": "RF4",
        "period": JAN,
        "metric_id": "ae_attendances_type1",
        "value": value,
        "value_status": "reported",
        "comment": None,
        "warnings": None,
        "submitted_by": "RF4",
        "received_at": received,
    }
    row.update(extra)
    return pd.DataFrame([row])


def test_a_later_value_supersedes_and_the_history_stays(settings) -> None:
    """It returns the latest value with its revision count; as_of gives the older one."""
    from collectonce.store.submissions import (
        append_values,
        current_values,
        submission_ids,
        value_history,
    )

    t1 = dt.datetime(2019, 2, 10, tzinfo=dt.UTC)
    t2 = dt.datetime(2019, 3, 10, tzinfo=dt.UTC)
    assert append_values(settings, values("sub_a", 16428.0, t1)) == 1
    assert append_values(settings, values("sub_b", 16500.0, t2)) == 1
    now = current_values(settings)
    assert now["value"].tolist() == [16500.0]
    assert now["revision"].tolist() == [2]
    assert now["submission_id"].tolist() == ["sub_b"]
    before = current_values(settings, as_of=dt.datetime(2019, 2, 20, tzinfo=dt.UTC))
    assert before["value"].tolist() == [16428.0]
    assert before["revision"].tolist() == [1]
    history = value_history(settings, "RF4", "ae_attendances_type1", "2019-01")
    assert history["value"].tolist() == [16428.0, 16500.0]
    assert history["version"].tolist() == [1, 2]
    assert submission_ids(settings) == {"sub_a", "sub_b"}


def test_an_empty_table_answers_with_empty_frames(settings) -> None:
    """It answers queries before anything is stored, and stores nothing for no rows."""
    from collectonce.store.submissions import (
        append_values,
        current_values,
        submission_ids,
        table_version,
        value_history,
    )

    assert current_values(settings).empty
    assert "revision" in current_values(settings).columns
    assert value_history(settings, "RF4", "x").empty
    assert submission_ids(settings) == set()
    assert append_values(settings, values("sub_a", 1.0, dt.datetime.now(dt.UTC)).iloc[:0]) == 0
    assert table_version(settings) is None
