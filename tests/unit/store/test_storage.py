"""The same storage code works on a local folder and on another fsspec filesystem."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from collectonce.store.storage import storage_for


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "local":
        return storage_for(tmp_path / "store")
    return storage_for(f"memory://collectonce-{uuid.uuid4().hex}")


def test_round_trip_and_listing(store) -> None:
    """Bytes written come back; listings are sorted and relative."""
    store.write_bytes("archive/ab/abc", b"hello")
    store.write_bytes("archive/cd/cde", b"world")
    assert store.read_bytes("archive/ab/abc") == b"hello"
    assert store.exists("archive/cd/cde")
    assert store.list("archive") == ["archive/ab/abc", "archive/cd/cde"]


def test_overwrite_is_whole(store) -> None:
    """A rewrite replaces the object whole."""
    store.write_bytes("x/receipt.json", b"{}")
    store.write_bytes("x/receipt.json", b'{"status": "accepted"}')
    assert store.read_bytes("x/receipt.json") == b'{"status": "accepted"}'


def test_move_and_download(store, tmp_path: Path) -> None:
    """Landing files can be moved to processed/ and copied locally for reading."""
    store.write_bytes("landing/RF4_2019-01.csv", b"provider_code\n")
    store.move("landing/RF4_2019-01.csv", "landing/processed/RF4_2019-01.csv")
    assert not store.exists("landing/RF4_2019-01.csv")
    local = store.download("landing/processed/RF4_2019-01.csv", tmp_path / "copy.csv")
    assert local.read_bytes() == b"provider_code\n"


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/", "a//b"])
def test_path_like_keys_cannot_escape(store, key: str) -> None:
    """Keys that climb out of the store are refused."""
    with pytest.raises(ValueError):
        store.write_bytes(key, b"x")
