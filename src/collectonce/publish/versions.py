"""The published table on disk: where it lives and which versions it holds.

`collectonce.publish.unified` writes it; the locks, the SQL door and the readers open it here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collectonce.publish.errors import UnknownPublication
from collectonce.settings import Settings


def unified_path(settings: Settings) -> Path:
    return settings.tables_dir / "unified"


def _open(settings: Settings, version: int | None = None) -> Any:
    """The Delta table at `version` (latest when None); UnknownPublication when absent."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    path = unified_path(settings)
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise UnknownPublication(f"publication {version!r} is not a version number")
    try:
        table = DeltaTable(path)
    except TableNotFoundError:
        raise UnknownPublication(
            "nothing has been published yet: run `collectonce publish` first"
        ) from None
    if version is None:
        return table
    latest = table.version()
    if not 0 <= version <= latest:
        raise UnknownPublication(
            f"there is no publication {version}: published versions are 0 to {latest}"
        )
    try:
        return DeltaTable(path, version=version)
    except DeltaError as exc:  # e.g. its files were vacuumed
        raise UnknownPublication(f"publication {version} can no longer be read ({exc})") from None


def open_table(settings: Settings, as_of: int | None = None) -> Any:
    """The `deltalake.DeltaTable` of publication `as_of` (latest when None)."""
    return _open(settings, as_of)


def latest_version(settings: Settings) -> int | None:
    """The current publication's version, or None when nothing is published."""
    try:
        return int(_open(settings).version())
    except UnknownPublication:
        return None
