"""Where files live: a local folder by default, any fsspec URL (s3://, az://, memory://) at scale.

The archive and the landing folder go through this one interface, so the same code runs against
a laptop folder or an object store. Tables use Delta Lake, which reads the same URLs natively.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from collectonce.atomic import fsync_dir, write_bytes_atomic
from collectonce.settings import Settings


@dataclass(frozen=True)
class Storage:
    """A folder addressed by URL. Writes are all-or-nothing; listings are sorted."""

    url: str

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        fs, _ = fsspec.core.url_to_fs(self.url)
        return fs

    @property
    def root(self) -> str:
        _, path = fsspec.core.url_to_fs(self.url)
        return path.rstrip("/")

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def _full(self, key: str) -> str:
        clean = key.replace("\\", "/").lstrip("/")
        if any(part in {"..", ""} for part in clean.split("/")):
            raise ValueError(f"unsafe storage key {key!r}")
        return f"{self.root}/{clean}"

    def exists(self, key: str) -> bool:
        return self.fs.exists(self._full(key))

    def read_bytes(self, key: str) -> bytes:
        data = self.fs.cat_file(self._full(key))
        return data.encode() if isinstance(data, str) else data

    def write_bytes(self, key: str, data: bytes, *, read_only: bool = False) -> None:
        """Write atomically: readers see the old object or the new one, never half of one."""
        target = self._full(key)
        if self.is_local:
            write_bytes_atomic(Path(target), data, mode=0o444 if read_only else None)
            return
        # Object stores commit a PUT whole; a failed upload leaves no object.
        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(target, data)

    def put_file(
        self, key: str, source: Path, *, read_only: bool = False, link: bool = False
    ) -> None:
        """Copy a local file in, streamed and all-or-nothing like `write_bytes`. With `link`, a
        local store hard-links the file instead when it is on the same filesystem (no bytes are
        copied; the file and the stored object are then one, read-only with `read_only`), and
        copies it otherwise."""
        target = self._full(key)
        if self.is_local:
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            if link and _link_in(Path(source), path, read_only):
                return
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle, Path(source).open("rb") as src:
                    shutil.copyfileobj(src, handle, 1024 * 1024)
                    handle.flush()
                    os.fsync(handle.fileno())
                if read_only:
                    os.chmod(tmp, 0o444)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            fsync_dir(path.parent)
            return
        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        self.fs.put_file(str(source), target)

    def local_path(self, key: str) -> Path | None:
        """The file's path when the store is a local folder (None on an object store)."""
        return Path(self._full(key)) if self.is_local else None

    def location(self, key: str) -> str:
        """Where an object lives, as a path (local) or a URL (object store)."""
        full = self._full(key) if key else self.root
        return full if self.is_local else self.fs.unstrip_protocol(full)

    def list(self, prefix: str = "") -> list[str]:
        """Keys (relative to the root) of the files under a prefix."""
        base = self._full(prefix) if prefix else self.root
        if not self.fs.exists(base):
            return []
        found = self.fs.find(base)
        return sorted(p[len(self.root) + 1 :] if p.startswith(self.root) else p for p in found)

    def files(self, prefix: str = "") -> list[tuple[str, float]]:
        """The files directly under a prefix (not in sub-folders), with their modified times."""
        base = self._full(prefix) if prefix else self.root
        if not self.fs.isdir(base):
            return []
        found = []
        for info in self.fs.ls(base, detail=True):
            if info.get("type") != "file":
                continue
            name = str(info["name"]).rstrip("/")
            key = name[len(self.root) + 1 :] if name.startswith(self.root + "/") else name
            found.append((key, _modified(info)))
        return sorted(found)

    def move(self, key: str, dest_key: str) -> None:
        dest = self._full(dest_key)
        self.fs.makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
        self.fs.mv(self._full(key), dest)

    def download(self, key: str, dest: Path) -> Path:
        """A local copy of an object, for readers that need a real file."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.fs.get_file(self._full(key), str(dest))
        return dest


def _link_in(source: Path, path: Path, read_only: bool) -> bool:
    """Hard-link `source` to `path` all-or-nothing (link to a temporary name, make it durable,
    rename); False when the filesystem cannot (another device, no hard links), so the caller
    copies."""
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}"
    try:
        os.link(source, tmp)
    except OSError:
        return False
    try:
        if read_only:
            os.chmod(tmp, 0o444)
    except OSError:  # another user's file: it cannot be made read-only, so it is copied
        tmp.unlink(missing_ok=True)
        return False
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return True


def _modified(info: dict[str, object]) -> float:
    """Seconds since the epoch when an object was last written (0 when the store does not say)."""
    for field in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(field)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, dt.datetime):
            return value.timestamp()
    return 0.0


def storage_for(location: str | Path) -> Storage:
    """A Storage for a local path or a URL."""
    text = str(location)
    if "://" not in text:
        text = Path(text).expanduser().resolve().as_posix()
    return Storage(text)


def archive_store(settings: Settings) -> Storage:
    """The archive of received files (the data folder's archive/ unless a URL is set)."""
    return storage_for(settings.archive_url or settings.archive_dir)


def landing_store(settings: Settings) -> Storage:
    """The landing folder (the data folder's landing/ unless a URL is set)."""
    return storage_for(settings.landing_url or settings.landing_dir)
