"""Flows that take provider files in: one file, or every new file in the landing folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from flows.common import (
    IO_RETRIES,
    BadParameters,
    markdown_artifact,
    open_catalog,
    open_settings,
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


@task(name="ingest-landing", **IO_RETRIES)
def ingest_landing_task(catalog_dir: str | None, home: str | None) -> list[dict[str, Any]]:
    from collectonce.ingest.service import ingest_landing

    return [r.to_dict() for r in ingest_landing(open_catalog(catalog_dir), open_settings(home))]


@flow(name="watch_landing", flow_run_name="watch landing", log_prints=True)
def watch_landing(catalog_dir: str | None = None, home: str | None = None) -> list[dict[str, Any]]:
    """Pick up every new file in the landing folder. Safe to re-run after a crash."""
    receipts = ingest_landing_task(catalog_dir, home)
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
    get_run_logger().info("picked up %d file(s)", len(receipts))
    return receipts
