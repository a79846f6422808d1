"""What every flow shares: loading the catalogue and settings, retries, artifacts, checks."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.tasks import exponential_backoff

from collectonce.catalog import Catalog, load_catalog
from collectonce.settings import Settings, get_settings


def transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry what may pass (a file system or object store hiccup, a table commit race), never a
    bug or bad data, which would only fail again more slowly."""
    try:
        state.result()
    except (OSError, TimeoutError, ConnectionError):
        return True
    except Exception as exc:
        return type(exc).__name__ == "CommitFailedError"  # another writer committed first
    return False


#: Retries with backoff for tasks that touch files or tables.
IO_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": transient,
}


class BadParameters(ValueError):
    """A deployment was run with parameters that cannot work; the message says why."""


@lru_cache(maxsize=8)
def _catalog(path: str, stamp: float) -> Catalog:
    return load_catalog(Path(path))


def open_catalog(catalog_dir: str | None) -> Catalog:
    """The catalogue, reloaded only when a file in it changes."""
    path = Path(catalog_dir or get_settings().catalog).resolve()
    if not path.is_dir():
        raise BadParameters(f"catalogue folder {path} does not exist; pass catalog_dir")
    stamp = max((p.stat().st_mtime for p in path.rglob("*") if p.is_file()), default=0.0)
    return _catalog(str(path), stamp)


def open_settings(home: str | None = None) -> Settings:
    return get_settings(home=Path(home) if home else None)


def check_providers(catalog: Catalog, providers: list[str] | None) -> list[str] | None:
    """Fail fast on unknown providers."""
    if providers is None:
        return None
    unknown = sorted(set(providers) - set(catalog.providers))
    if unknown:
        raise BadParameters(
            f"unknown provider code(s) {', '.join(unknown)}: use ODS codes from providers.csv"
        )
    return list(providers)


def check_period(period: str | None, *, today: dt.date | None = None) -> str | None:
    """Fail fast on a malformed or future period."""
    if period is None:
        return None
    try:
        month = dt.date.fromisoformat(f"{period}-01")
    except ValueError:
        raise BadParameters(f"period {period!r} is not YYYY-MM (e.g. 2019-01)") from None
    today = today or dt.date.today()
    if month > today.replace(day=1):
        raise BadParameters(f"period {period} is in the future; data cannot be due yet")
    return period


@task(name="record-failure")
def record_failure(what: str, error: str) -> None:
    """A failure artifact that a data team sees in the UI."""
    create_markdown_artifact(
        key="failure",
        markdown=f"## {what} failed\n\n```\n{error}\n```\n\nFix the cause and re-run; "
        "every step is idempotent.",
        description=f"{what} failed",
    )


def table_artifact(key: str, rows: list[dict[str, Any]], description: str) -> None:
    clean = [{k: ("" if v is None else v) for k, v in row.items()} for row in rows]
    create_table_artifact(key=key, table=clean, description=description)


def markdown_artifact(key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(key=key, markdown=markdown, description=description)
