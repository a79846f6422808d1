"""Parquet written by pyarrow, committed by deltalake: read back as deltalake wrote it."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from collectonce.contracts import SUBMISSION_VALUES
from collectonce.store.delta_append import append_batches
from collectonce.store.submissions import WRITE_SCHEMA

SCHEMA = pa.schema(
    [
        pa.field("code", pa.string(), nullable=False),
        pa.field("period", pa.date32(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("note", pa.string()),
        pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
AT = dt.datetime(2024, 5, 1, 9, 30, 0, 123456, tzinfo=dt.UTC)


def rows(codes: list[str], first: float = 0.0) -> pa.Table:
    n = len(codes)
    return pa.table(
        {
            "code": codes,
            "period": [dt.date(2023, 1 + i % 12, 1) for i in range(n)],
            "value": [None if i == 1 else first + i for i in range(n)],
            "note": [None] * n,
            "at": [AT + dt.timedelta(seconds=i) for i in range(n)],
        },
        schema=SCHEMA,
    )


def read(path: Path) -> pa.Table:
    table = DeltaTable(str(path)).to_pyarrow_table()
    return table.select(SCHEMA.names).sort_by([("at", "ascending"), ("code", "ascending")])


def stats(path: Path) -> list[dict[str, object]]:
    return [json.loads(a["add"]["stats"]) for a in _adds(path)]


def _adds(path: Path) -> list[dict[str, dict[str, str]]]:
    out = []
    for log in sorted((path / "_delta_log").glob("*.json")):
        for line in log.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                out.append(action)
    return out


def test_a_new_table_then_an_existing_one_read_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "t"
    first, second = rows(["A", "B", "C"]), rows(["D", "E"], first=10.0)
    assert append_batches(path, first.to_batches(), schema=SCHEMA) == 3
    assert append_batches(path, iter(second.to_batches()), schema=SCHEMA) == 2
    table = DeltaTable(str(path))
    assert table.version() == 1
    assert pa.schema(table.schema().to_arrow()).names == SCHEMA.names
    got = read(path)
    assert got.schema == SCHEMA
    assert got.equals(pa.concat_tables([first, second]).sort_by([("at", "ascending")]))
    # The same rows as deltalake's own writer stores.
    write_deltalake(str(tmp_path / "ref"), pa.concat_tables([first, second]), mode="append")
    assert got.equals(read(tmp_path / "ref"))


def test_dictionary_batches_are_stored_as_the_tables_strings(tmp_path: Path) -> None:
    values = pa.table(
        {
            "submission_id": ["s1"] * 3,
            "file_sha256": ["f" * 64] * 3,
            "source_row": [1, 2, 3],
            "source_template": ["t"] * 3,
            "provider_code": ["RA1", "RB2", "RA1"],
            "period": [dt.date(2024, 1, 1)] * 3,
            "metric_id": ["m1", "m2", "m1"],
            "value": [1.0, None, 3.5],
            "value_status": ["reported"] * 3,
            "comment": [None, "c", None],
            "warnings": [None] * 3,
            "submitted_by": ["u"] * 3,
            "received_at": [AT] * 3,
        },
        schema=SUBMISSION_VALUES,
    )
    path = tmp_path / "s"
    batches = values.cast(WRITE_SCHEMA).to_batches()
    assert append_batches(path, batches, schema=WRITE_SCHEMA, table_schema=SUBMISSION_VALUES) == 3
    got = DeltaTable(str(path)).to_pyarrow_table().sort_by("source_row")
    assert got.schema.remove_metadata() == SUBMISSION_VALUES.remove_metadata()
    assert got.equals(values.replace_schema_metadata(got.schema.metadata))


def test_statistics_are_in_the_log_and_deltalake_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "t"
    append_batches(path, rows(["B", "A", "C"]).to_batches(), schema=SCHEMA)
    (stat,) = stats(path)
    assert stat == {
        "numRecords": 3,
        "minValues": {
            "code": "A",
            "period": "2023-01-01",
            "value": 0.0,
            "at": "2024-05-01T09:30:00.123456Z",
        },
        "maxValues": {
            "code": "C",
            "period": "2023-03-01",
            "value": 2.0,
            "at": "2024-05-01T09:30:02.123456Z",
        },
        "nullCount": {"code": 0, "period": 0, "value": 1, "note": 3, "at": 0},
    }
    (add,) = pa.table(DeltaTable(str(path)).get_add_actions(flatten=True)).to_pylist()
    assert add["num_records"] == 3
    assert (add["min.code"], add["max.code"]) == ("A", "C")
    assert add["min.at"] == AT
    assert add["null_count.value"] == 1
    (action,) = _adds(path)
    file = path / action["add"]["path"]
    assert int(action["add"]["size"]) == file.stat().st_size


def test_partition_values_are_in_the_path_and_the_log(tmp_path: Path) -> None:
    path = tmp_path / "p"
    table = rows(["A", "B", "A", "B", "A"])
    n = append_batches(path, table.to_batches(), schema=SCHEMA, partition_by=["code"])
    assert n == 5
    adds = {a["add"]["path"].split("/")[0]: a["add"] for a in _adds(path)}
    assert set(adds) == {"code=A", "code=B"}
    assert adds["code=A"]["partitionValues"] == {"code": "A"}
    assert json.loads(adds["code=A"]["stats"])["numRecords"] == 3
    assert "code" not in json.loads(adds["code=A"]["stats"])["minValues"]
    delta = DeltaTable(str(path))
    assert delta.metadata().partition_columns == ["code"]
    assert len(delta.file_uris(partition_filters=[("code", "=", "B")])) == 1
    got = delta.to_pyarrow_table(filters=[("code", "=", "A")])
    assert sorted(got["value"].to_pylist(), key=str) == [0.0, 2.0, 4.0]
    # Appending to the partitioned table keeps its partitions.
    append_batches(path, rows(["C"]).to_batches(), schema=SCHEMA, partition_by=["code"])
    assert read(path).num_rows == 6


def test_duckdb_reads_the_table_through_its_delta_extension(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    from collectonce.publish.sql import delta_extension_dir

    extensions = delta_extension_dir()
    if extensions is None:
        pytest.skip("the DuckDB delta extension is not installed")
    path = tmp_path / "t"
    append_batches(path, rows(["A", "B", "C"]).to_batches(), schema=SCHEMA)
    append_batches(path, rows(["D"], first=9.0).to_batches(), schema=SCHEMA)
    con = duckdb.connect(
        config={"autoinstall_known_extensions": "false", "extension_directory": str(extensions)}
    )
    con.execute("LOAD delta")
    scan = f"delta_scan('{path}')"
    assert con.execute(f"SELECT count(*), sum(value) FROM {scan}").fetchone() == (4, 11.0)
    assert con.execute(f"SELECT code FROM {scan} WHERE value > 5").fetchall() == [("D",)]
    got = con.execute(f'SELECT epoch_us(max("at")) FROM {scan}').fetchone()
    assert got == (int((AT + dt.timedelta(seconds=2)).timestamp() * 1_000_000),)
    con.close()


def test_two_appends_at_once_both_commit(tmp_path: Path) -> None:
    path = tmp_path / "t"
    append_batches(path, rows(["A"]).to_batches(), schema=SCHEMA)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def append(code: str) -> None:
        start.wait()
        try:
            append_batches(path, rows([code] * 50).to_batches(), schema=SCHEMA)
        except BaseException as exc:  # checked below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(c,)) for c in ("X", "Y")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    table = DeltaTable(str(path))
    assert table.version() == 2
    assert sorted(read(path)["code"].to_pylist()) == ["A"] + ["X"] * 50 + ["Y"] * 50


def test_nothing_is_committed_and_no_file_is_left_when_the_commit_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t"
    append_batches(path, rows(["A"]).to_batches(), schema=SCHEMA)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("commit refused")

    monkeypatch.setattr(DeltaTable, "create_write_transaction", refuse)
    with pytest.raises(RuntimeError, match="commit refused"):
        append_batches(path, rows(["B", "C"]).to_batches(), schema=SCHEMA)
    assert len(list(path.glob("*.parquet"))) == 1
    assert DeltaTable(str(path)).version() == 0
    assert append_batches(path, [], schema=SCHEMA) == 0
    assert len(list(path.glob("*.parquet"))) == 1
