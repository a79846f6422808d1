"""What a submission answers: its id, the receipt its bytes already have, and the receipt itself.

A receipt is written last (see `collectonce.ingest.service`): these helpers build it from one
file's validation result, keep the quarantine's findings and manifest beside it, and answer a
duplicate with the receipt the bytes already have.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Protocol

from collectonce import __version__
from collectonce.catalog import Catalog
from collectonce.findings import sort_findings
from collectonce.ingest.readers import READ_FAILED
from collectonce.settings import Settings
from collectonce.store.archive import ArchivedFile
from collectonce.store.receipts import (
    EarlierAttempt,
    Receipt,
    ReceiptIndex,
    all_receipts,
    read_receipt,
)
from collectonce.validate.engine import FileResult

__all__ = [
    "ENGINE_VERSION",
    "ReceivedFile",
    "duplicate_answer",
    "finish_files",
    "get_receipt",
    "list_receipts",
    "prior_receipt",
    "receipt_for",
    "resend_reason",
    "status_of",
    "submission_id_for",
    "symlink_refusal",
]

#: The version of the reading and checking engine, recorded on every receipt. A file rejected
#: under an older engine is processed again when it is sent again; an accepted file is not.
#:
#: The rule: raise the suffix (``+intake.N`` -> ``+intake.N+1``) in the same change whenever
#: reading or checking can turn a rejection into an acceptance, that is any change to
#: ``ingest/readers.py``, ``formats/``, ``shapes/``, ``normalise/``,
#: ``published_ae.py``, ``department_types.py`` or ``validate/rules.py``, ``suites.py``,
#: ``engine.py``, ``gx_runner.py`` that reads or accepts more than before. Leave it alone
#: for changes to messages, speed or layout only. It is set by hand, not derived from a hash
#: of the sources, so that a refactor or a reworded message does not reprocess every
#: rejected file; a release raises it anyway through the package version.
ENGINE_VERSION = f"{__version__}+intake.3"


class ReceivedFile(Protocol):
    """One file of a run, as far as its receipt needs it."""

    submission_id: str
    #: The bytes: their hash, the name they were sent under, their size and arrival.
    sha256: str
    name: str
    size: int
    received_at: dt.datetime
    #: Where they are: as given, and in the archive (a rejected file is kept in quarantine).
    path: Path
    archived: ArchivedFile | None
    #: The file's place in the validation run (whose rejected rows are in quarantine).
    file_index: int | None
    #: A rejected receipt of these bytes that is processed again, and why.
    resending: Receipt | None
    resend_reason: str | None


def submission_id_for(sha256: str, as_provider: str | None = None) -> str:
    """``sub_`` + the first 16 hex digits of the sha256 (+ ``_ODS`` when a provider submits)."""
    base = f"sub_{sha256[:16]}"
    return f"{base}_{as_provider}" if as_provider else base


def prior_receipt(
    settings: Settings,
    sha256: str,
    as_provider: str | None,
    index: ReceiptIndex | None = None,
) -> Receipt | None:
    """The receipt these bytes already have, if any: the one of this sender, else the data
    team's, else (for the data team) a provider's. Another provider's is not this sender's."""
    own = submission_id_for(sha256, as_provider)
    found = [
        r
        for r in (index or ReceiptIndex(settings)).for_bytes(sha256)
        if r.submission_id == own or r.as_provider is None or as_provider is None
    ]
    if not found:
        return None
    return min(found, key=lambda r: (r.submission_id != own, r.as_provider is not None))


def resend_reason(prior: Receipt, catalog: Catalog) -> str | None:
    """Why a rejected file sent again is processed again (None: it is a duplicate)."""
    if prior.status != "rejected":
        return None
    if any(f.rule == READ_FAILED for f in prior.findings):
        return "it was rejected because of a fault on our side"
    if prior.engine_version != ENGINE_VERSION:
        return (
            "it was rejected by an earlier version of the reader "
            f"({prior.engine_version or 'not recorded'}; now {ENGINE_VERSION})"
        )
    if prior.catalog_fingerprint != catalog.fingerprint:
        return (
            f"it was rejected under another catalogue ({prior.catalog_version or 'not recorded'}"
            f"; now {catalog.version})"
        )
    return None


def get_receipt(settings: Settings, submission_id: str) -> Receipt | None:
    return read_receipt(settings, submission_id)


def list_receipts(settings: Settings, provider: str | None = None) -> list[Receipt]:
    """Receipts, oldest first; for a provider, those it sent or that carry its rows."""
    receipts = all_receipts(settings)
    if provider is None:
        return receipts
    return [r for r in receipts if r.as_provider == provider or provider in r.providers]


def status_of(result: FileResult) -> str:
    if result.file_error is not None or result.rows_accepted <= 0:
        return "rejected"
    if result.rows_rejected > 0:
        return "partially_accepted"
    if any(f.severity == "warning" for f in result.findings):
        return "accepted_with_warnings"
    return "accepted"


def receipt_for(
    job: ReceivedFile,
    result: FileResult,
    submitter: str,
    as_provider: str | None,
    dry_run: bool,
    catalog: Catalog,
    settings: Settings,
) -> Receipt:
    report = settings.reports_dir / "validation" / f"{job.submission_id}.html"
    return Receipt(
        submission_id=job.submission_id,
        status=status_of(result),
        rows_read=result.rows_read,
        rows_accepted=result.rows_accepted,
        rows_rejected=result.rows_rejected,
        rows_skipped=result.rows_skipped,
        findings=sort_findings(result.findings),
        file_sha256=job.sha256,
        original_name=job.name,
        submitted_by=submitter,
        received_at=job.received_at,
        template=result.template,
        providers=result.providers,
        periods=result.periods,
        report=None if dry_run else str(report),
        dry_run=dry_run,
        as_provider=as_provider,
        size_bytes=job.size,
        values_stored=0 if dry_run else result.values_stored,
        values_unchanged=result.values_unchanged,
        values_revised=result.values_revised,
        values_duplicate=result.values_duplicate,
        archive=None if job.archived is None else job.archived.location,
        catalog_version=catalog.version,
        catalog_fingerprint=catalog.fingerprint,
        engine_version=ENGINE_VERSION,
        attempt=1 if job.resending is None else job.resending.attempt + 1,
        resent_because=job.resend_reason,
        earlier=[]
        if job.resending is None
        else [*job.resending.earlier, _earlier_attempt(job.resending)],
    )


def _earlier_attempt(receipt: Receipt) -> EarlierAttempt:
    """An earlier attempt, as a receipt that was processed again keeps it."""
    return EarlierAttempt(
        attempt=receipt.attempt,
        status=receipt.status,
        received_at=receipt.received_at.isoformat(),
        original_name=receipt.original_name,
        engine_version=receipt.engine_version,
        catalog_version=receipt.catalog_version,
        errors=[f"{f.rule}: {f.message}" for f in receipt.findings if f.severity == "error"][:20],
    )


def finish_files(
    receipt: Receipt,
    job: ReceivedFile,
    settings: Settings,
    catalog: Catalog,
    quarantined: dict[int, Path],
) -> Receipt:
    """Quarantine findings and manifest, then the HTML report (the receipt comes after)."""
    from dataclasses import replace

    from collectonce.store.quarantine import (
        keep_file,
        quarantine_path,
        write_findings,
        write_manifest,
    )
    from collectonce.validate.report import write_report

    if receipt.rows_rejected > 0 or receipt.status == "rejected":
        directory = quarantine_path(settings, receipt.submission_id)
        directory.mkdir(parents=True, exist_ok=True)
        write_findings(settings, receipt.submission_id, receipt.findings)
        if receipt.status == "rejected" and job.archived is not None:
            kept = job.archived.local_path or job.path
            keep_file(settings, receipt.submission_id, kept, job.name)
        write_manifest(
            settings,
            receipt.submission_id,
            {
                "submission_id": receipt.submission_id,
                "status": receipt.status,
                "original_name": receipt.original_name,
                "file_sha256": receipt.file_sha256,
                "archive": receipt.archive,
                "received_at": receipt.received_at.isoformat(),
                "submitted_by": receipt.submitted_by,
                "rows_read": receipt.rows_read,
                "rows_rejected": receipt.rows_rejected,
                "rejected_rows_file": (
                    str(quarantined[job.file_index]) if job.file_index in quarantined else None
                ),
            },
        )
        receipt = replace(receipt, quarantine=str(directory))
    write_report(settings, receipt, catalog)
    return receipt


def duplicate_answer(original: Receipt, job: ReceivedFile, dry_run: bool) -> Receipt:
    from dataclasses import replace

    answer = original.as_duplicate(job.received_at)
    return replace(answer, dry_run=dry_run) if dry_run else answer


def symlink_refusal(path: Path) -> str | None:
    """Why a file given by path is refused (a symbolic link), or None."""
    if not path.is_symlink():
        return None
    return (
        f"{path.name} is a symbolic link, which is not submitted (the landing folder refuses "
        "links too): submit the file it points to, or a copy of it"
    )
