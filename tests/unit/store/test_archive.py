"""The archive keeps every received file, immutable and named by its sha256."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import stat
from pathlib import Path

import pytest

WHEN = dt.datetime(2019, 7, 10, 9, 0, tzinfo=dt.UTC)


def test_it_stores_the_bytes_read_only_under_their_hash(settings, tmp_path: Path) -> None:
    """It names the file by its sha256, makes it read-only and records who sent it."""
    from collectonce.store.archive import archive_file

    src = tmp_path / "rf4__jan.csv"
    src.write_bytes(b"provider_code,period,metric_id,value\nRF4,2019-01,x,1\n")
    entry = archive_file(src, settings, original_name=src.name, submitter="RF4", received_at=WHEN)
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    assert entry.sha256 == sha
    assert entry.local_path == settings.archive_dir / sha[:2] / sha
    assert entry.local_path.read_bytes() == src.read_bytes()
    assert not entry.local_path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    meta = json.loads(entry.local_path.with_name(f"{sha}.json").read_text())
    assert meta["submitter"] == "RF4"
    assert meta["original_name"] == "rf4__jan.csv"
    assert meta["received_at"] == WHEN.isoformat()


def test_identical_bytes_are_one_archive_entry(settings, tmp_path: Path) -> None:
    """It keeps one copy of identical bytes and logs each arrival."""
    from collectonce.store.archive import archive_file, arrivals

    first = archive_file(b"same bytes", settings, original_name="a.csv", received_at=WHEN)
    later = WHEN + dt.timedelta(minutes=1)
    second = archive_file(b"same bytes", settings, original_name="b.csv", received_at=later)
    assert first.created and not second.created
    assert first.location == second.location
    files = [p for p in settings.archive_dir.rglob("*") if p.is_file()]
    assert len([p for p in files if p.name == first.sha256]) == 1
    seen = arrivals(settings, first.sha256)
    assert [a["original_name"] for a in seen] == ["a.csv", "b.csv"]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\x\\y.csv", "y.csv"),
        ("..", "upload"),
        ("rf4\x00\x1b[31m.csv", "rf4[31m.csv"),
        ("/abs/path/to/..hidden.csv", "hidden.csv"),
        ("a" * 300 + ".xlsx", "a" * 115 + ".xlsx"),
    ],
)
def test_path_like_names_never_leave_the_archive(settings, given: str, kept: str) -> None:
    """It records only a sanitised name, and the file stays inside the archive folder."""
    from collectonce.store.archive import archive_file

    entry = archive_file(given.encode(), settings, original_name=given, received_at=WHEN)
    assert entry.original_name == kept
    archive = settings.archive_dir.resolve()
    assert entry.local_path is not None
    assert entry.local_path.resolve().is_relative_to(archive)
    assert not (settings.root.parent / "etc").exists()
    outside = [p for p in settings.root.parent.rglob("passwd")]
    assert outside == []


def test_a_bad_hash_is_refused(settings) -> None:
    """It refuses to build an archive path from anything but a sha256."""
    from collectonce.store.archive import archive_meta, archive_path

    with pytest.raises(ValueError):
        archive_path(settings, "../../etc")
    assert archive_meta(settings, "../../etc") is None


def test_the_archive_can_live_in_an_object_store(tmp_path: Path) -> None:
    """With an fsspec URL, the same archive layout is written there and nothing locally."""
    import uuid

    import fsspec

    from collectonce.settings import Settings
    from collectonce.store.archive import archive_file, archive_meta, arrivals

    url = f"memory://archive-{uuid.uuid4().hex}"
    settings = Settings(home=tmp_path / "home", archive_url=url)
    src = tmp_path / "rf4__jan.csv"
    src.write_bytes(b"provider_code,period,metric_id,value\nRF4,2019-01,x,1\n")
    first = archive_file(src, settings, original_name=src.name, submitter="RF4", received_at=WHEN)
    again = archive_file(src.read_bytes(), settings, original_name="copy.csv", received_at=WHEN)
    sha = first.sha256
    assert first.created and not again.created
    assert first.local_path is None and first.location.startswith("memory://")
    fs = fsspec.filesystem("memory")
    assert fs.cat_file(first.location) == src.read_bytes()
    assert archive_meta(settings, sha)["original_name"] == "rf4__jan.csv"
    assert sorted(a["original_name"] for a in arrivals(settings, sha)) == [
        "copy.csv",
        "rf4__jan.csv",
    ]
    assert not settings.archive_dir.exists()
