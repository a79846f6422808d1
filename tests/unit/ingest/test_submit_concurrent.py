"""Runs side by side: they read and check at the same time, and store one after another.

Each run is a thread (the lock is per data folder, and it holds between threads as between
processes). A run is held at a chosen point by an event, never by a sleep: a run that could not
get past its point would fail the test with a message instead of hanging it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

fcntl = pytest.importorskip("fcntl")  # the data folder's lock is a POSIX file lock

NOW = dt.datetime(2019, 7, 10, 9, 0, tzinfo=dt.UTC)
HEAD = "provider_code,period,metric_id,value\n"
#: How long a thread may take to reach the point a test waits for before the test fails.
GUARD = 120.0


def month_file(tmp_path: Path, period: str, attendances: int) -> Path:
    path = tmp_path / f"RF4_{period}.csv"
    path.write_text(
        HEAD
        + f"RF4,{period},ae_attendances_type1,{attendances}\n"
        + f"RF4,{period},ae_breaches_4hr_type1,{attendances // 10}\n"
    )
    return path


class Run(threading.Thread):
    """One `submit_files` call in its own thread."""

    def __init__(self, name: str, paths: Path | list[Path], catalog: Any, settings: Any) -> None:
        super().__init__(name=name, daemon=True)
        self.paths = paths if isinstance(paths, list) else [paths]
        self.catalog, self.settings = catalog, settings
        self.receipts: list[Any] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        from collectonce.ingest.service import submit_files

        try:
            self.receipts = submit_files(self.paths, self.catalog, self.settings, now=NOW)
        except BaseException as exc:  # raised again in the test
            self.error = exc

    def results(self) -> list[Any]:
        self.join(GUARD)
        assert not self.is_alive(), f"run {self.name} did not finish"
        if self.error is not None:
            raise self.error
        return self.receipts

    def result(self) -> Any:
        (receipt,) = self.results()
        return receipt


def wait(event: threading.Event, what: str) -> None:
    assert event.wait(GUARD), f"never happened: {what}"


def after(
    monkeypatch: pytest.MonkeyPatch,
    owner: Any,
    name: str,
    thread: str,
    release: threading.Event | None = None,
) -> threading.Event:
    """An event set when the thread named `thread` has run `owner.name`; with `release`, the
    thread then waits there until `release` is set."""
    reached = threading.Event()
    original: Callable[..., Any] = getattr(owner, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if threading.current_thread().name == thread:
            reached.set()
            if release is not None:
                release.wait(GUARD)
        return result

    monkeypatch.setattr(owner, name, wrapped)
    return reached


def stored(settings: Any) -> list[tuple[str, str, float]]:
    from collectonce.store.submissions import _dataset

    dataset = _dataset(settings)
    if dataset is None:
        return []
    rows = dataset.to_table(columns=["period", "metric_id", "value"]).to_pylist()
    return sorted((f"{r['period']:%Y-%m}", r["metric_id"], r["value"]) for r in rows)


def test_a_run_reads_and_checks_while_another_is_between_checking_and_storing(
    catalog_min, settings, tmp_path, monkeypatch
):
    """The second run is received, read, checked and stored to the end while the first is
    still held after its own checks; then the first stores too, and both are kept."""
    from collectonce.validate.engine import ValidationRun

    release = threading.Event()
    checked = after(monkeypatch, ValidationRun, "check", thread="first", release=release)
    first = Run("first", month_file(tmp_path, "2019-01", 16428), catalog_min, settings)
    second = Run("second", month_file(tmp_path, "2019-02", 14569), catalog_min, settings)
    try:
        first.start()
        wait(checked, "the first run finished checking")
        second.start()
        assert second.result().status == "accepted"
        assert first.is_alive()  # still held: the second did not wait for it
        assert stored(settings) == [
            ("2019-02", "ae_attendances_type1", 14569.0),
            ("2019-02", "ae_breaches_4hr_type1", 1456.0),
        ]
    finally:
        release.set()
    assert first.result().status == "accepted"
    assert [p for p, _, _ in stored(settings)] == ["2019-01"] * 2 + ["2019-02"] * 2


def test_a_run_checks_while_another_stores_but_commits_after_it(
    catalog_min, settings, tmp_path, monkeypatch
):
    """While the first run is storing (held just after its table commit), the second reads
    and checks its file, then waits for the data folder instead of committing meanwhile."""
    from collectonce.store import submissions
    from collectonce.validate.engine import ValidationRun

    commits: list[str] = []
    second_stopped = threading.Event()  # the second run went as far as it could
    second_waited = threading.Event()  # ... and that was the data folder's lock
    real_append = submissions.append_values

    def append(*args: Any, **kwargs: Any) -> int:
        me = threading.current_thread().name
        commits.append(f"{me} in")
        if me == "second":
            second_stopped.set()
        written = real_append(*args, **kwargs)
        commits.append(f"{me} out")
        return written

    real_flock = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        if threading.current_thread().name == "second" and operation == fcntl.LOCK_EX:
            try:
                real_flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                second_waited.set()
            else:
                second_stopped.set()  # the data folder was free: nothing to wait for
                return
            second_stopped.set()
        real_flock(fd, operation)

    monkeypatch.setattr(submissions, "append_values", append)
    release = threading.Event()
    storing = after(monkeypatch, submissions, "append_values", thread="first", release=release)
    second_checked = after(monkeypatch, ValidationRun, "check", thread="second")
    monkeypatch.setattr(fcntl, "flock", flock)
    first = Run("first", month_file(tmp_path, "2019-01", 16428), catalog_min, settings)
    second = Run("second", month_file(tmp_path, "2019-02", 14569), catalog_min, settings)
    try:
        first.start()
        wait(storing, "the first run committed")
        second.start()
        wait(second_checked, "the second run checked its file while the first was storing")
        wait(second_stopped, "the second run went on to store")
        assert second_waited.is_set(), "the second run did not wait for the first to finish"
        assert commits == ["first in", "first out"]
    finally:
        release.set()
    assert first.result().status == second.result().status == "accepted"
    assert commits == ["first in", "first out", "second in", "second out"]
    assert len(stored(settings)) == 4


def test_the_same_file_sent_by_two_runs_at_once_is_stored_once(
    catalog_min, settings, tmp_path, monkeypatch
):
    """Two runs read and check the same bytes side by side; the one that stores second finds
    the other's receipt, answers that file as a duplicate and stores nothing of it, and still
    stores the other file it was sent."""
    from collectonce.validate.engine import ValidationRun

    release = threading.Event()
    checked = after(monkeypatch, ValidationRun, "check", thread="early", release=release)
    shared = month_file(tmp_path, "2019-01", 16428)
    copy = tmp_path / "copy" / shared.name
    copy.parent.mkdir()
    copy.write_bytes(shared.read_bytes())
    other = month_file(tmp_path, "2019-02", 14569)
    early = Run("early", [shared, other], catalog_min, settings)
    late = Run("late", copy, catalog_min, settings)
    try:
        early.start()
        wait(checked, "the early run finished checking")
        late.start()
        stored_first = late.result()
    finally:
        release.set()
    answer, also_sent = early.results()
    assert stored_first.status == "accepted" and stored_first.values_stored == 2
    assert answer.status == "duplicate"
    assert answer.submission_id == stored_first.submission_id
    assert answer.original_status == "accepted"
    assert answer.rows_read == stored_first.rows_read == 2
    assert also_sent.status == "accepted" and also_sent.values_stored == 2
    assert [p for p, _, _ in stored(settings)] == ["2019-01"] * 2 + ["2019-02"] * 2
    assert len(list(settings.receipts_dir.glob("*.json"))) == 2
    assert not (settings.root / "quarantine").exists()
