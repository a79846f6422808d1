"""Flows that take provider files in: one file, or every new file in the landing folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run, task_run

from flows.common import (
    FLOW_OPTIONS,
    IO_RETRIES,
    BadParameters,
    check_providers,
    default_task_runner,
    markdown_artifact,
    open_catalog,
    open_settings,
    record_failure,
    run_isolated,
    submit,
    table_artifact,
)


def receipt_markdown(receipt: dict[str, Any]) -> str:
    lines = [
        f"## Receipt {receipt['submission_id']}: {receipt['status']}",
        "",
        f"- file: `{receipt.get('original_name', '')}` (sha256 `{receipt['file_sha256'][:12]}…`)",
        f"- rows read {receipt['rows_read']}, accepted {receipt['rows_accepted']}, "
        f"rejected {receipt['rows_rejected']}",
    ]
    findings = receipt.get("findings", [])
    if findings:
        lines += [
            "",
            "| row | column | metric | rule | severity | message |",
            "|---|---|---|---|---|---|",
        ]
        for f in findings[:50]:
            msg = str(f.get("message", "")).replace("|", "\\|")
            lines.append(
                f"| {f.get('row') or ''} | {f.get('column') or ''} | {f.get('metric') or ''} "
                f"| {f.get('rule')} | {f.get('severity')} | {msg} |"
            )
        if len(findings) > 50:
            lines.append(f"\n…and {len(findings) - 50} more findings in the validation report.")
    return "\n".join(lines)


def ingest_run_name(path: str, as_provider: str | None) -> str:
    """`ingest RF4 2019-01` for RF4_2019-01.csv; the submitting provider first when it is not
    already in the name."""
    what = Path(path).stem.replace("_", " ").strip() or Path(path).name
    if as_provider and not what.startswith(as_provider):
        what = f"{as_provider} {what}"
    return f"ingest {what}"


def _ingest_run_name() -> str:
    params = flow_run.parameters
    return ingest_run_name(str(params.get("path", "file")), params.get("as_provider"))


@task(name="submit-file", **IO_RETRIES)
def submit_file_task(
    path: str,
    catalog_dir: str | None,
    home: str | None,
    as_provider: str | None,
    submitter: str,
    dry_run: bool,
) -> dict[str, Any]:
    from collectonce.ingest.service import submit_file

    catalog = open_catalog(catalog_dir)
    settings = open_settings(home)
    receipt = submit_file(
        Path(path),
        catalog,
        settings,
        submitter=submitter,
        as_provider=as_provider,
        dry_run=dry_run,
    )
    return receipt.to_dict()


@flow(name="ingest_submission", flow_run_name=_ingest_run_name, **FLOW_OPTIONS)
def ingest_submission(
    path: str,
    as_provider: str | None = None,
    submitter: str = "data_team",
    dry_run: bool = False,
    catalog_dir: str | None = None,
    home: str | None = None,
) -> dict[str, Any]:
    """Archive, read, validate and store one provider file; publish its receipt."""
    catalog = open_catalog(catalog_dir)
    if as_provider:
        check_providers(catalog, [as_provider])
    if not Path(path).is_file():
        raise BadParameters(
            f"no file at {path}: pass path, a file the worker can read (a relative path is read "
            "from the worker's working folder, the project folder)"
        )
    receipt = submit_file_task(
        path, catalog_dir, home, as_provider, submitter or "data_team", dry_run
    )
    markdown_artifact("receipt", receipt_markdown(receipt), f"Receipt for {Path(path).name}")
    get_run_logger().info(
        "%s: %s (%s of %s rows accepted)",
        Path(path).name,
        receipt["status"],
        receipt["rows_accepted"],
        receipt["rows_read"],
    )
    return receipt


@task(name="list-landing", **IO_RETRIES)
def list_landing_task(home: str | None) -> list[str]:
    """The files waiting; symbolic links (never picked up) are reported, with what to do."""
    from collectonce.ingest.landing import landing_files, refused_landing_entries

    settings = open_settings(home)
    refused = refused_landing_entries(settings)
    if refused:
        for entry in refused:
            get_run_logger().warning("refused: %s", entry.reason)
        markdown_artifact(
            "landing-refused",
            "\n".join(f"- {e.reason}" for e in refused),
            f"{len(refused)} entries of the landing folder are not picked up",
        )
    return landing_files(settings)


def landing_run_name(names: list[str]) -> str:
    """`ingest RF4_2019-01.csv and 249 more`: what a run or batch takes in, by file name."""
    if not names:
        return "ingest landing: nothing new"
    more = f" and {len(names) - 1} more" if len(names) > 1 else ""
    return f"ingest {names[0]}{more}"


def _batch_run_name() -> str:
    return landing_run_name(list(task_run.parameters.get("names") or []))


def _watch_run_name() -> str:
    """The landing folder's files as the run starts (a listing, no file is read)."""
    from collectonce.ingest.landing import landing_files

    try:
        names = landing_files(open_settings(flow_run.parameters.get("home")))
    except Exception:  # the run itself reports a missing or unreadable folder
        return "ingest landing"
    return landing_run_name(list(names))


@task(name="ingest-landing-batch", task_run_name=_batch_run_name, **IO_RETRIES)
def ingest_batch_task(
    names: list[str], first_received: str, catalog_dir: str | None, home: str | None
) -> list[dict[str, Any]]:
    """Validate and store one batch of landing files (one task, on any worker)."""
    from collectonce.ingest.landing import ingest_landing

    receipts = ingest_landing(
        open_catalog(catalog_dir),
        open_settings(home),
        names=names,
        now=dt.datetime.fromisoformat(first_received),
    )
    return [r.to_dict() for r in receipts]


@flow(
    name="watch_landing",
    flow_run_name=_watch_run_name,
    task_runner=default_task_runner(),
    **FLOW_OPTIONS,
)
def watch_landing(
    catalog_dir: str | None = None,
    home: str | None = None,
    files_per_task: int = 250,
) -> list[dict[str, Any]]:
    """Pick up every new file in the landing folder, in batches that run side by side on the
    flow's task runner: threads, or Dask when COLLECTONCE_DASK_ADDRESS names a scheduler or the
    flow is given a DaskTaskRunner (`on_dask(watch_landing)`, `with_options`). A batch that
    fails is split until only the files that fail are left; they stay in the landing folder for
    the next run, the others land. Safe to re-run after a crash."""
    if files_per_task < 1:
        raise BadParameters("files_per_task must be at least 1: pass e.g. 250")
    open_catalog(catalog_dir)  # fail fast on a missing catalogue
    names = list_landing_task(home)
    start = dt.datetime.now(dt.UTC)
    # Arrival times follow landing order across batches, whichever batch finishes first (and
    # however a failed batch is split), so a later revision always supersedes what it revises.
    order = {name: i for i, name in enumerate(names)}

    def run(batch: list[str]) -> Any:
        first = (start + dt.timedelta(microseconds=order[batch[0]])).isoformat()
        return submit(
            ingest_batch_task,
            names=batch,
            first_received=first,
            catalog_dir=catalog_dir,
            home=home,
        )

    done, failures = run_isolated(run, names, files_per_task)
    receipts: list[dict[str, Any]] = [r for batch in done for r in batch]
    receipts.sort(key=lambda r: order.get(str(r.get("original_name")), len(order)))
    failed: list[str] = []
    for batch, error in failures:
        failed.extend(batch)
        record_failure(f"ingest of {', '.join(batch[:5])}{' …' if len(batch) > 5 else ''}", error)
    if receipts:
        table_artifact(
            "landing-receipts",
            [
                {
                    "file": r.get("original_name"),
                    "submission": r["submission_id"],
                    "status": r["status"],
                    "rows_read": r["rows_read"],
                    "rows_accepted": r["rows_accepted"],
                    "rows_rejected": r["rows_rejected"],
                    "findings": len(r.get("findings", [])),
                }
                for r in receipts
            ],
            f"{len(receipts)} files picked up from the landing folder",
        )
    statuses: dict[str, int] = {}
    for r in receipts:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(statuses.items()))
    get_run_logger().info(
        "picked up %d file(s)%s; %d failed",
        len(receipts),
        f" ({summary})" if summary else "",
        len(failed),
    )
    if failed:
        raise RuntimeError(
            f"{len(failed)} landing file(s) were not ingested and stay in the landing folder "
            f"({', '.join(failed[:5])}{' …' if len(failed) > 5 else ''}); the other "
            f"{len(receipts)} landed. See the failure artifact, fix the cause, then re-run"
        )
    return receipts
