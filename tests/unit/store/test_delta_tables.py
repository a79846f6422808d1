"""Tables held open answer as a fresh open would: later commits, a table made again, none."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys

import pandas as pd

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
ROW = {
    "file_sha256": "0" * 64,
    "source_template": "canonical_long",
    "provider_code": "RF4",
    "period": dt.date(2019, 1, 1),
    "metric_id": "ae_attendances_type1",
    "value_status": "reported",
    "comment": None,
    "warnings": None,
    "submitted_by": "RF4",
}


def values(
    sid: str, value: float, received: dt.datetime, source_row: int = 2, **extra: object
) -> pd.DataFrame:
    row = {**ROW, "submission_id": sid, "value": value, "source_row": source_row}
    return pd.DataFrame([{**row, "received_at": received, **extra}])


def test_it_follows_commits_made_elsewhere_and_a_table_made_again(settings) -> None:
    from deltalake import DeltaTable

    from collectonce.store import delta_tables
    from collectonce.store.submissions import append_values, submission_ids, table_path

    path = table_path(settings)
    assert delta_tables.latest(path) is None and delta_tables.dataset(path) is None
    assert submission_ids(settings) == set()

    append_values(settings, values("sub_a", 1.0, NOW))
    first = delta_tables.dataset(path)
    assert first is not None
    assert delta_tables.dataset(path) == first  # the same version: the same dataset
    assert submission_ids(settings) == {"sub_a"}

    # a commit by another process
    code = (
        "import sys, pandas as pd\n"
        "from collectonce.settings import get_settings\n"
        "from collectonce.store.submissions import append_values\n"
        "append_values(get_settings(home=sys.argv[1]), pd.read_pickle(sys.argv[2]))\n"
    )
    later = settings.root / "later.pkl"
    values("sub_b", 2.0, NOW + dt.timedelta(days=1)).to_pickle(later)
    subprocess.run([sys.executable, "-c", code, str(settings.root), str(later)], check=True)
    second = delta_tables.dataset(path)
    assert second is not None and second[0] == first[0] + 1
    assert submission_ids(settings) == {"sub_a", "sub_b"}
    assert delta_tables.latest(path).version() == DeltaTable(str(path)).version()

    # removed, then made again with other values: nothing of the old table is answered
    shutil.rmtree(path)
    assert delta_tables.latest(path) is None
    assert submission_ids(settings) == set()
    append_values(settings, values("sub_c", 3.0, NOW))
    again = delta_tables.dataset(path)
    assert again is not None and again[0] == 0
    assert submission_ids(settings) == {"sub_c"}
    assert again[1].to_table().column("submission_id").to_pylist() == ["sub_c"]


def test_submission_ids_from_statistics_equal_a_full_read(settings) -> None:
    """Files of one submission give their id from the statistics; a file of two (one run of
    two files) is read; either way the ids are those a full read of the column finds."""
    from deltalake import DeltaTable

    from collectonce.store import delta_tables
    from collectonce.store.submissions import append_values, submission_ids, table_path

    for i in range(4):
        append_values(settings, values(f"sub_{i}", float(i), NOW))
        frame = pd.concat(
            [values(f"sub_{i}a", float(i), NOW), values(f"sub_{i}b", float(i), NOW, source_row=3)]
        )
        append_values(settings, frame)
        column = DeltaTable(str(table_path(settings))).to_pyarrow_table(columns=["submission_id"])
        assert submission_ids(settings) == set(column.column("submission_id").to_pylist())
    single = delta_tables.single_values(table_path(settings), "submission_id")
    assert single is not None
    assert sorted(v for v in single[1].values() if v) == [f"sub_{i}" for i in range(4)]
    assert sum(v is None for v in single[1].values()) == 4


def test_a_query_about_one_provider_reads_only_its_files(settings) -> None:
    from collectonce.store import delta_tables
    from collectonce.store.submissions import append_values, current_values, table_path

    for ods in ("RF4", "RRK", "R1H"):
        append_values(settings, values(f"sub_{ods}", 1.0, NOW, provider_code=ods))
    append_values(
        settings,
        pd.concat(
            [
                values("sub_both", 2.0, NOW, provider_code="RAA"),
                values("sub_both", 3.0, NOW, provider_code="RZZ", source_row=3),
            ]
        ),
    )
    path = table_path(settings)
    picked = delta_tables.files_with(path, "provider_code", ["RRK"])
    assert picked is not None
    assert len(picked[1].files) == 2  # its own file and the one spanning RAA to RZZ
    assert list(current_values(settings, providers=["RRK"])["provider_code"]) == ["RRK"]
    assert list(current_values(settings, providers=["RZZ"])["value"]) == [3.0]
    nothing = delta_tables.files_with(path, "provider_code", ["ZZZ"])
    assert nothing is not None and nothing[1].files == []
    assert current_values(settings, providers=["ZZZ"]).empty
    everyone = current_values(settings)
    assert sorted(everyone["provider_code"]) == ["R1H", "RAA", "RF4", "RRK", "RZZ"]
