"""What every flow shares: loading the catalogue and settings, retries, artifacts, checks."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from deltalake.exceptions import CommitFailedError
from prefect import task
from prefect.artifacts import MarkdownArtifact, create_markdown_artifact, create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from collectonce.catalog import Catalog, load_catalog
from collectonce.errors import FlowError
from collectonce.settings import Settings, get_settings
from collectonce.suggest import close_matches

T = TypeVar("T")


#: File system errors that will not pass by waiting: a missing file, a folder, no permission.
LASTING_OS_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


def is_transient(exc: BaseException) -> bool:
    """An error that may pass on its own: a file system or object store hiccup, or a table
    commit race. A bug, bad data or a missing or unreadable file is not, and would only fail
    again more slowly."""
    if isinstance(exc, LASTING_OS_ERRORS):
        return False
    if isinstance(exc, (OSError, TimeoutError, ConnectionError)):
        return True
    return isinstance(exc, CommitFailedError)  # another writer committed first


def transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's retry condition: retry only what `is_transient`."""
    try:
        state.result()
    except Exception as exc:
        return is_transient(exc)
    return False


#: Retries with backoff for tasks that touch files or tables.
IO_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": transient,
}


class BadParameters(FlowError, ValueError):
    """A deployment was run with parameters that cannot work; the message says why."""


@lru_cache(maxsize=8)
def _catalog(path: str, stamp: float) -> Catalog:
    return load_catalog(Path(path))


def open_catalog(catalog_dir: str | None) -> Catalog:
    """The catalogue, reloaded only when a file in it changes."""
    path = Path(catalog_dir or get_settings().catalog).resolve()
    if not path.is_dir():
        raise BadParameters(
            f"catalogue folder {path} does not exist: pass catalog_dir, the catalog/ folder of "
            "the project (relative paths are read from the worker's working folder)"
        )
    stamp = max((p.stat().st_mtime for p in path.rglob("*") if p.is_file()), default=0.0)
    return _catalog(str(path), stamp)


def open_settings(home: str | None = None) -> Settings:
    return get_settings(home=Path(home) if home else None)


def _suggest(unknown: str, known: Sequence[str]) -> str:
    """`RF5 (did you mean RF4 or RFF or RFR?)`: close codes, those sharing the longest start
    first (ODS codes share their organisation's prefix)."""
    shown = close_matches(unknown.upper(), known, limit=3, prefer_shared_start=True)
    return f"{unknown} (did you mean {' or '.join(shown)}?)" if shown else unknown


def check_providers(catalog: Catalog, providers: list[str] | None) -> list[str] | None:
    """Fail fast on unknown providers."""
    if providers is None:
        return None
    unknown = sorted(set(providers) - set(catalog.providers))
    if unknown:
        named = ", ".join(_suggest(code, sorted(catalog.providers)) for code in unknown)
        raise BadParameters(
            f"unknown provider code(s) {named}: pass ODS codes listed in the catalogue's "
            "providers.csv, or leave providers empty for every provider"
        )
    return list(providers)


def check_period(
    period: str | None, *, name: str = "period", today: dt.date | None = None
) -> str | None:
    """Fail fast on a malformed or future period."""
    if period is None:
        return None
    this_month = (today or dt.date.today()).replace(day=1)
    try:
        month = dt.date.fromisoformat(f"{period}-01")
    except ValueError:
        raise BadParameters(
            f"{name} {period!r} is not a month: pass YYYY-MM, e.g. {this_month:%Y-%m}"
        ) from None
    if month > this_month:
        raise BadParameters(
            f"{name} {period} is in the future, so no data can be due for it yet: pass "
            f"{this_month:%Y-%m} or earlier"
        )
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


def failure_markdown(flow_name: str, run_name: str, parameters: dict[str, Any], why: str) -> str:
    """What a data team reads when a run fails: what, why, with what, and what to do."""
    bad_parameters = "BadParameters" in why or "Validation of flow parameters" in why
    todo = (
        "Run the deployment again with the parameters the message asks for."
        if bad_parameters
        else "Fix the cause and re-run the deployment: every step is idempotent, a file already "
        "received is answered as a duplicate and no value is stored twice."
    )
    shown = "\n".join(f"- `{k}` = `{v!r}`" for k, v in sorted(parameters.items())) or "- none"
    return (
        f"## {flow_name} failed: {run_name}\n\n**Why:** {why}\n\n**Parameters:**\n{shown}\n\n"
        f"**What to do:** {todo}\n"
    )


def on_flow_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """A flow's failure hook: a `failure` artifact on the failed run, beside its state message."""
    why = str(state.message or state.name)
    MarkdownArtifact(
        key="failure",
        markdown=failure_markdown(flow.name, flow_run.name, dict(flow_run.parameters or {}), why),
        description=f"{flow.name} failed",
        flow_run_id=flow_run.id,
    ).create()


#: Keyword arguments every collectonce flow is declared with.
FLOW_OPTIONS: dict[str, Any] = {
    "log_prints": True,
    "on_failure": [on_flow_failure],
    "on_crashed": [on_flow_failure],
}


def table_artifact(key: str, rows: list[dict[str, Any]], description: str) -> None:
    clean = [{k: ("" if v is None else v) for k, v in row.items()} for row in rows]
    create_table_artifact(key=key, table=clean, description=description)


def markdown_artifact(key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(key=key, markdown=markdown, description=description)


# --------------------------------------------------------------------------- running side by side


def task_runner_for(use_dask: bool, address: str | None, workers: int) -> Any:
    """Dask when asked (a scheduler address, or a local cluster); threads otherwise."""
    if not (use_dask or address):
        return ThreadPoolTaskRunner(max_workers=2)
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True}
    )


def default_task_runner() -> Any:
    """The task runner a flow is declared with: Dask when the environment names a scheduler
    (COLLECTONCE_DASK_ADDRESS, as on a worker of a Dask installation), threads otherwise. A
    deployment's flow run is a new process, so the worker's environment decides."""
    settings = get_settings()
    return task_runner_for(False, settings.dask_address, settings.dask_workers)


F = TypeVar("F")


def on_dask(flow_: F, *, address: str | None = None, workers: int | None = None) -> F:
    """`flow_` with its tasks on Dask: the scheduler at `address` (or COLLECTONCE_DASK_ADDRESS),
    else a local cluster of `workers` processes (COLLECTONCE_DASK_WORKERS). The runner is set
    with `with_options`, never built inside a flow."""
    settings = get_settings()
    runner = task_runner_for(
        True, address or settings.dask_address, workers or settings.dask_workers
    )
    return flow_.with_options(task_runner=runner)  # type: ignore[attr-defined,no-any-return]


Submit = Callable[..., Any]


def submit(task_: Any, **parameters: Any) -> Any:
    """Submit a task to the flow's own task runner (threads or Dask, as the flow was given)."""
    return task_.submit(**parameters)


@contextlib.contextmanager
def concurrency_limit(name: str, limit: int = 1) -> Iterator[None]:
    """Hold a slot of the Prefect global concurrency limit `name` (created with `limit` slots
    when missing), so writers to one Delta table never commit at once, across flow runs,
    workers and machines."""
    from prefect.concurrency.sync import concurrency

    _ensure_limit(name, limit)
    with concurrency(name, occupy=1, strict=True):
        yield


def _ensure_limit(name: str, limit: int) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=limit, active=True)
                )


#: The global concurrency limit that serialises writers of the unified Delta table.
UNIFIED_WRITERS = "delta-unified-writers"


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """`items` in order, in lists of at most `size`."""
    size = max(1, size)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _failure(future: Any) -> BaseException | None:
    """The exception of a finished future that failed, or None when it completed."""
    future.wait()
    state = future.state
    if state.is_completed():
        return None
    try:
        error = future.result(raise_on_failure=False)
    except Exception as exc:  # the result itself could not be read
        error = exc
    if isinstance(error, BaseException):
        return error
    return RuntimeError(str(state.message or state.name))


def _text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def run_isolated(
    submit: Callable[[list[T]], Any], items: Sequence[T], size: int
) -> tuple[list[Any], list[tuple[list[T], str]]]:
    """Run `items` in chunks of `size`, side by side, so that one bad item fails only itself.

    A chunk that fails for a lasting reason (a bug or bad data) is split in halves and run
    again, down to single items. It is not split when the failure is transient (it outlived
    its retries, and would only fail again) or when both halves fail with the same error (the
    cause is not one item). Returns the result of every chunk that completed and, for each
    chunk that still failed, its items and the error.
    """
    pending = [[(chunk, submit(chunk))] for chunk in chunks(items, size)]
    results: list[Any] = []
    failed: list[tuple[list[T], str]] = []
    while pending:
        again = []
        for group in pending:
            outcomes = [(chunk, future, _failure(future)) for chunk, future in group]
            errors = {_text(e) for _, _, e in outcomes if e is not None}
            shared = len(group) > 1 and len(errors) == 1 and all(e for _, _, e in outcomes)
            for chunk, future, error in outcomes:
                if error is None:
                    results.append(future.result())
                elif len(chunk) > 1 and not shared and not is_transient(error):
                    half = len(chunk) // 2
                    again.append([(part, submit(part)) for part in (chunk[:half], chunk[half:])])
                else:
                    failed.append((chunk, _text(error)))
        pending = again
    return results, failed
