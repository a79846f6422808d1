"""The type checker's ignore list (pyproject.toml) leaves validate, feedback and api checked,
and names only paths that exist, so no entry outlives the module it excused."""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[3]
CHECKED = ("src/collectonce/validate", "src/collectonce/feedback", "src/collectonce/api")


def _ignored() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        config = tomllib.load(f)["tool"]["basedpyright"]
    return list(config.get("ignore", []))


def _overlaps(entry: str, package: str) -> bool:
    """The entry is the package, lies inside it, or holds it."""
    a, b = PurePosixPath(entry.rstrip("/")), PurePosixPath(package)
    return a == b or b in a.parents or a in b.parents


def test_validate_feedback_and_api_are_not_ignored() -> None:
    hits = [(e, p) for e in _ignored() for p in CHECKED if _overlaps(e, p)]
    assert not hits, f"ignored by the type checker: {hits}"


def test_every_ignore_entry_names_an_existing_path() -> None:
    missing = [e for e in _ignored() if not (ROOT / e).exists()]
    assert not missing, f"ignore entries naming no file or folder: {missing}"


def test_overlap_covers_files_folders_and_their_parents() -> None:
    package = "src/collectonce/feedback"
    assert _overlaps("src/collectonce/feedback/rebuild.py", package)
    assert _overlaps("src/collectonce/feedback", package)
    assert _overlaps("src", package)
    assert not _overlaps("src/collectonce/feedback_old", package)
    assert not _overlaps("src/collectonce/ingest/shapes", package)
