"""A received file is hard-linked into a local archive on the same filesystem (no bytes are
copied), and copied when it cannot be linked or linking is switched off."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

FIXTURES = Path(__file__).resolve().parents[1] / "validate" / "fixtures"
BYTES = b"provider_code,period,metric_id,value\nRF4,2019-01,ae_attendances_type1,10\n"


def test_a_file_on_the_same_filesystem_is_linked_read_only(settings, tmp_path: Path) -> None:
    """The archive entry is the received file itself (one inode), read-only, same bytes."""
    from collectonce.store.archive import archive_file

    src = tmp_path / "rf4__jan.csv"
    src.write_bytes(BYTES)
    entry = archive_file(src, settings, original_name=src.name)
    assert entry.local_path is not None
    assert entry.local_path.stat().st_ino == src.stat().st_ino
    assert entry.local_path.read_bytes() == BYTES
    assert entry.sha256 == hashlib.sha256(BYTES).hexdigest()
    assert not entry.local_path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    leftovers = [p for p in entry.local_path.parent.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_it_copies_when_the_filesystem_cannot_link(
    settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another device (or a filesystem without hard links): a copy, the file left alone."""
    from collectonce.store.archive import archive_file

    def cannot(*_args: object, **_kwargs: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cannot)
    src = tmp_path / "rf4__jan.csv"
    src.write_bytes(BYTES)
    mode = src.stat().st_mode
    entry = archive_file(src, settings, original_name=src.name)
    assert entry.local_path is not None
    assert entry.local_path.stat().st_ino != src.stat().st_ino
    assert entry.local_path.read_bytes() == BYTES
    assert src.stat().st_mode == mode


def test_linking_can_be_switched_off(tmp_path: Path) -> None:
    """COLLECTONCE_ARCHIVE_LINK=false copies every file."""
    from collectonce.settings import get_settings
    from collectonce.store.archive import archive_file

    settings = get_settings(home=tmp_path / "home", archive_link=False)
    src = tmp_path / "rf4__jan.csv"
    src.write_bytes(BYTES)
    entry = archive_file(src, settings, original_name=src.name)
    assert entry.local_path is not None
    assert entry.local_path.stat().st_ino != src.stat().st_ino
    assert entry.local_path.read_bytes() == BYTES


def test_collectonce_submit_links_the_file_into_the_archive(
    home: Path, catalog_min_dir: Path, tmp_path: Path
) -> None:
    """Through the CLI: the receipt's archive entry is the submitted file, and the values are
    stored as usual."""
    from collectonce.cli import app

    src = tmp_path / "rf4__broken_rows_mixed.csv"
    src.write_bytes((FIXTURES / src.name).read_bytes())
    result = CliRunner().invoke(
        app, ["submit", str(src), "--json", "--catalog", str(catalog_min_dir)]
    )
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.stdout)
    archived = Path(receipt["archive"])
    assert archived.is_relative_to(home)
    assert archived.stat().st_ino == src.stat().st_ino
    assert receipt["rows_accepted"] > 0
