"""A publish killed half-way leaves the previous publication intact and readable."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from publish_helpers import ATT, BRE, ae_rows, write_receipts

from collectonce.publish.unified import latest_version, publish, read_unified, unified_path

#: Runs `publish` in a child whose Delta writer is slowed down: data files are written batch by
#: batch (small target file size, a pause per batch), so the child can be killed after some
#: Parquet files exist but before the commit entry in _delta_log/ is written.
CHILD = """
import sys, time
import deltalake
import pyarrow as pa

real_write = deltalake.write_deltalake

def slow_write(target, data, **kwargs):
    table = data if isinstance(data, pa.Table) else pa.table(data)
    def batches():
        for batch in table.to_batches(max_chunksize=4000):
            yield batch
            time.sleep(0.05)
    kwargs["target_file_size"] = 32 * 1024
    reader = pa.RecordBatchReader.from_batches(table.schema, batches())
    return real_write(target, reader, **kwargs)

deltalake.write_deltalake = slow_write

from collectonce.catalog import load_catalog
from collectonce.publish.unified import publish
from collectonce.settings import get_settings

publish(load_catalog(sys.argv[1]), get_settings(home=sys.argv[2]))
print("finished", flush=True)
"""


def write_large_submissions(settings, n_providers: int = 600, months: int = 36) -> int:
    """Many synthetic providers × months × two metrics, appended in one write."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from collectonce.contracts import SUBMISSION_VALUES

    providers = np.array([f"Z{i:04d}" for i in range(n_providers)], dtype=object)
    periods = pd.date_range("2016-04-01", periods=months, freq="MS")
    grid = pd.MultiIndex.from_product(
        [providers, periods, [ATT, BRE]], names=["p", "d", "m"]
    ).to_frame(index=False)
    n = len(grid)
    rng = np.random.default_rng(7)
    received = pd.Timestamp("2020-01-01", tz="UTC")
    table = pa.table(
        {
            "submission_id": np.full(n, "bulk", dtype=object),
            "file_sha256": np.full(n, "b" * 64, dtype=object),
            "source_row": np.arange(2, n + 2),
            "source_template": np.full(n, "canonical_long", dtype=object),
            "provider_code": grid["p"].to_numpy(),
            "period": grid["d"].dt.date.to_numpy(),
            "metric_id": grid["m"].to_numpy(dtype=object),
            "value": rng.integers(100, 30_000, n).astype(float),
            "value_status": np.full(n, "reported", dtype=object),
            "comment": np.full(n, None, dtype=object),
            "warnings": np.full(n, None, dtype=object),
            "submitted_by": np.full(n, "data_team", dtype=object),
            "received_at": pd.Series([received] * n).to_numpy(),
        },
        schema=SUBMISSION_VALUES,
    )
    write_deltalake(settings.tables_dir / "submissions", table, mode="append")
    write_receipts(settings, [{"submission": "bulk", "received": received}])
    return n


def parquet_files(path: Path) -> set[str]:
    return {p.name for p in path.glob("*.parquet")}


@pytest.mark.integration
def test_killing_a_publish_midway_keeps_the_last_publication(
    catalog_min, catalog_min_dir, settings, submit, home
) -> None:
    """It leaves version 0 intact after SIGKILL mid-write, and the next publish succeeds."""
    submit(ae_rows())
    first = publish(catalog_min, settings, now=dt.datetime(2019, 4, 20, tzinfo=dt.UTC))
    assert first.version == 0
    before = read_unified(settings)
    table_dir = unified_path(settings)
    files_v0 = parquet_files(table_dir)
    added = write_large_submissions(settings)
    assert added > 40_000

    env = {**os.environ, "COLLECTONCE_HOME": str(home)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(catalog_min_dir), str(home)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if parquet_files(table_dir) - files_v0:
                break
            time.sleep(0.02)
        assert child.poll() is None, "the child finished before it could be killed"
        assert parquet_files(table_dir) - files_v0, "no data file appeared before the deadline"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    orphans = parquet_files(table_dir) - files_v0
    assert orphans, "the child was killed before it wrote any data file"
    assert not (table_dir / "_delta_log" / f"{1:020d}.json").exists()
    assert latest_version(settings) == 0
    after_kill = read_unified(settings)
    pd.testing.assert_frame_equal(after_kill, before)

    second = publish(catalog_min, settings)
    assert second.created and second.version == 1
    republished = read_unified(settings)
    assert len(republished) > len(before) + added // 2
    assert not set(republished["provider_code"]).isdisjoint({"Z0000"})
    pd.testing.assert_frame_equal(read_unified(settings, as_of=0), before)


@pytest.mark.parametrize("as_of", [None, 0])
def test_orphan_files_from_a_crash_are_never_read(
    catalog_min, settings, submit, as_of: int | None
) -> None:
    """It reads only files the Delta log lists, so a stray Parquet file changes nothing."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    submit(ae_rows(providers=("RF4",)))
    publish(catalog_min, settings)
    before = read_unified(settings, as_of=as_of)
    stray = read_unified(settings).assign(value=-1.0)
    pq.write_table(
        pa.Table.from_pandas(stray, preserve_index=False),
        unified_path(settings) / "part-99999-stray-c000.snappy.parquet",
    )
    pd.testing.assert_frame_equal(read_unified(settings, as_of=as_of), before)
