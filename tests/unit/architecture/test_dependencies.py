"""The runtime dependencies are what the library needs; the tests' tools stay in the dev extra."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_DEV_ONLY = {"httpx": "httpx", "pytest": "pytest", "selenium": "selenium", "polars": "polars"}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_library_does_not_import_what_only_the_tests_need() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _requirement_names(project["dependencies"])
    dev = _requirement_names(project["optional-dependencies"]["dev"])
    for dist, module in _DEV_ONLY.items():
        assert dist not in runtime and dist in dev, dist
        pattern = re.compile(rf"^\s*(import|from)\s+{module}\b", re.M)
        users = [
            str(path.relative_to(ROOT))
            for path in (ROOT / "src").rglob("*.py")
            if pattern.search(path.read_text(encoding="utf-8"))
        ]
        assert not users, f"{module} is imported by the library: {users}"


def test_every_constraint_only_pin_says_why() -> None:
    """A pin that the library never imports is there for another package; the line before it
    says which and why."""
    lines = (ROOT / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    for name in ("sqlalchemy", "fastapi>", "prefect-dask", "uvloop", "httptools", "duckdb-ext"):
        at = next(i for i, line in enumerate(lines) if line.strip().startswith(f'"{name}'))
        above = at - 1
        while lines[above].strip().startswith('"'):  # one comment may cover a group of pins
            above -= 1
        assert lines[above].strip().startswith("#"), f"{name} has no comment saying why"
