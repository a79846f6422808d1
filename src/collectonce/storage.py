"""Where files live: a local folder by default, any fsspec URL (s3://, az://, memory://) at scale.

The archive and the landing folder go through this one interface, so the same code runs against
a laptop folder or an object store. Tables use Delta Lake, which reads the same URLs natively.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem


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
        return self.fs.cat_file(self._full(key))

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write atomically: readers see the old object or the new one, never half of one."""
        target = self._full(key)
        if self.is_local:
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return
        # Object stores commit a PUT whole; a failed upload leaves no object.
        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(target, data)

    def list(self, prefix: str = "") -> list[str]:
        """Keys (relative to the root) of the files under a prefix."""
        base = self._full(prefix) if prefix else self.root
        if not self.fs.exists(base):
            return []
        found = self.fs.find(base)
        return sorted(p[len(self.root) + 1 :] if p.startswith(self.root) else p for p in found)

    def move(self, key: str, dest_key: str) -> None:
        dest = self._full(dest_key)
        self.fs.makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
        self.fs.mv(self._full(key), dest)

    def download(self, key: str, dest: Path) -> Path:
        """A local copy of an object, for readers that need a real file."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.fs.get_file(self._full(key), str(dest))
        return dest


def storage_for(location: str | Path) -> Storage:
    """A Storage for a local path or a URL."""
    text = str(location)
    if "://" not in text:
        text = Path(text).expanduser().resolve().as_posix()
    return Storage(text)
