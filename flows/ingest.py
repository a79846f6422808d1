"""Flows that take provider files in: one file, or every new file in the landing folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run, task_run

from flows.common import (
    IO_RETRIES,
    BadParameters,
    markdown_artifact,
    open_catalog,
    open_settings,
    record_failure,
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


def _ingest_run_name() -> str:
    path = Path(str(flow_run.parameters.get("path", "file")))
    who = flow_run.parameters.get("as_provider") or "data team"
    return f"ingest {who} {path.stem}"


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


@flow(name="ingest_submission", flow_run_name=_ingest_run_name, log_prints=True)
def ingest_submission(
    path: str,
    as_provider: str | None = None,
    submitter: str = "data_team",
    dry_run: bool = False,
    catalog_dir: str | None = None,
    home: str | None = None,
) -> dict[str, Any]:
    """Archive, read, validate and store one provider file; publish its receipt."""
    if not Path(path).is_file():
        raise BadParameters(f"no file at {path}")
    catalog = open_catalog(catalog_dir)
    if as_provider and as_provider not in catalog.providers:
        raise BadParameters(f"unknown provider {as_provider}: use an ODS code from providers.csv")
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
    from collectonce.ingest.service import landing_files

    return landing_files(open_settings(home))


def _batch_run_name() -> str:
    names = task_run.parameters.get("names") or ["nothing"]
    more = f" and {len(names) - 1} more" if len(names) > 1 else ""
    return f"ingest {names[0]}{more}"


@task(name="ingest-landing-batch", task_run_name=_batch_run_name, **IO_RETRIES)
def ingest_batch_task(
    names: list[str], first_received: str, catalog_dir: str | None, home: str | None
) -> list[dict[str, Any]]:
    """Validate and store one batch of landing files (one task, on any worker)."""
    from collectonce.ingest.service import ingest_landing

    receipts = ingest_landing(
        open_catalog(catalog_dir),
        open_settings(home),
        names=names,
        now=dt.datetime.fromisoformat(first_received),
    )
    return [r.to_dict() for r in receipts]


def batches(names: list[str], size: int) -> list[list[str]]:
    """Landing files in batches of about `size`, in arrival order."""
    size = max(1, size)
    return [names[i : i + size] for i in range(0, len(names), size)]


@flow(name="watch_landing", flow_run_name="watch landing", log_prints=True)
def watch_landing(
    catalog_dir: str | None = None, home: str | None = None, files_per_task: int = 250
) -> list[dict[str, Any]]:
    """Pick up every new file in the landing folder, in batches that run side by side (on Dask
    when the flow is given a DaskTaskRunner). A failed batch does not stop the others; it leaves
    its files in the landing folder for the next run. Safe to re-run after a crash."""
    if files_per_task < 1:
        raise BadParameters("files_per_task must be at least 1")
    open_catalog(catalog_dir)  # fail fast on a missing catalogue
    names = list_landing_task(home)
    start = dt.datetime.now(dt.UTC)
    futures = []
    offset = 0
    for batch in batches(names, files_per_task):
        # Arrival times follow landing order across batches, whichever batch finishes first,
        # so a later revision always supersedes the file it revises.
        first = (start + dt.timedelta(microseconds=offset)).isoformat()
        futures.append((batch, ingest_batch_task.submit(batch, first, catalog_dir, home)))
        offset += len(batch)
    receipts: list[dict[str, Any]] = []
    failed: list[str] = []
    for batch, future in futures:
        state = future.wait() or future.state
        if state.is_completed():
            receipts.extend(future.result())
        else:
            failed.extend(batch)
            record_failure(f"ingest of {len(batch)} landing file(s)", str(state.message))
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
    get_run_logger().info("picked up %d file(s); %d failed", len(receipts), len(failed))
    if failed:
        raise RuntimeError(
            f"{len(failed)} landing file(s) were not ingested and stay in the landing folder "
            f"(first: {', '.join(failed[:5])}); see the failure artifact, then re-run"
        )
    return receipts
