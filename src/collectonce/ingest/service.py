"""Submit files: archive → read → validate → store → quarantine → report → receipt.

`submit_file` takes one file; `submit_files` takes many and validates them in one run (one Great
Expectations pass, one Delta commit), which is how a data team loads a thousand monthly files in
seconds; `ingest_landing` feeds it every new file of the landing folder.

Order of work, and why it is safe to run again after a crash at any point:

1. Size check, then the bytes are archived under their sha256 before anything reads them.
2. ``submission_id`` comes from the sha256 (and the provider submitting, if any). If a receipt
   already exists for these bytes (sent by the data team, or by this provider), the answer is
   that receipt with status ``duplicate`` and nothing else happens; identical bytes sent with
   and without ``--as`` are one submission. Except: a file that was *rejected* because of a
   fault on our side (rule ``read_failed``), or under another catalogue or reading engine than
   today's, is processed again under its first submission id (the receipt counts the attempts).
3. The file is read (``collectonce.ingest.readers``) and checked (``collectonce.validate``): every
   check that needs nothing but the file itself.
4. Under the data folder's lock (one run at a time from here): the receipt check again (another
   run may have received the same bytes meanwhile: then the answer is ``duplicate`` and nothing
   of this file is stored), then the checks against the values already held, and the accepted
   values are appended in one Delta commit, unless the table already holds values of that
   submission (a crash between commit and receipt): then nothing is appended again.
5. Rejected rows go to quarantine (those rejected while reading as they were sent, those
   rejected by validation as canonical values, each with the rules that rejected it), the HTML
   validation report is written, and the receipt is written last, still under the lock. No
   receipt means "not done": the next run does it all again, idempotently.

Steps 1–3 run side by side across runs (threads, processes, Dask workers): they are most of the
work. Steps 4–5 are serialised per data folder.

A file over ``max_upload_bytes`` is refused before archiving (it is never stored).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute

from collectonce.atomic import file_lock
from collectonce.catalog import Catalog
from collectonce.errors import IngestError
from collectonce.findings import Finding
from collectonce.ingest.background import Beside, prefetch
from collectonce.ingest.receipting import (
    ENGINE_VERSION,
    get_receipt,
    list_receipts,
    prior_receipt,
    resend_reason,
    submission_id_for,
    symlink_refusal,
)
from collectonce.ingest.receipting import duplicate_answer as _dup
from collectonce.ingest.receipting import finish_files as _finish_files
from collectonce.ingest.receipting import receipt_for as _receipt
from collectonce.settings import Settings
from collectonce.store.archive import ArchivedFile, archive_file, hash_file, sanitise_name
from collectonce.store.faults import fault_point
from collectonce.store.quarantine import REJECTED_ROWS, RejectedRows
from collectonce.store.receipts import Receipt, ReceiptIndex, write_receipt
from collectonce.validate.engine import RowBatch, ValidationRun

#: pyarrow.compute makes its kernels when pyarrow loads, so a type checker knows none by name.
pc: Any = _compute

__all__ = [
    "ENGINE_VERSION",
    "Receipt",
    "SubmitError",
    "get_receipt",
    "list_receipts",
    "prior_receipt",
    "resend_reason",
    "submission_id_for",
    "submit_file",
    "submit_files",
    "symlink_refusal",
]

#: Called as progress(stage, done, total) while a run goes on.
Progress = Callable[[str, int, int], None]


class SubmitError(IngestError, ValueError):
    """A usage problem (unknown provider, no such file): nothing was received."""


@dataclass
class _Job:
    index: int
    path: Path
    name: str
    sha256: str
    size: int
    submission_id: str
    received_at: dt.datetime
    archived: ArchivedFile | None = None
    too_large: bool = False
    duplicate_of: Receipt | None = None
    same_as: int | None = None  # an earlier job of this run with identical bytes
    file_index: int | None = None
    #: A rejected receipt of these bytes that is processed again, and why.
    resending: Receipt | None = None
    resend_reason: str | None = None

    def judge(self, prior: Receipt | None, catalog: Catalog) -> None:
        """Duplicate of `prior`, or a resend of it, or (no prior) new."""
        self.duplicate_of = None
        if prior is None:
            return
        reason = resend_reason(prior, catalog)
        if reason is None:
            self.duplicate_of = prior
        elif self.resending is None or prior.attempt > self.resending.attempt:
            self.resending, self.resend_reason = prior, reason
            self.submission_id = prior.submission_id


def submit_file(
    path: Path,
    catalog: Catalog,
    settings: Settings,
    *,
    submitter: str = "data_team",
    as_provider: str | None = None,
    dry_run: bool = False,
    original_name: str | None = None,
    now: dt.datetime | None = None,
) -> Receipt:
    """Receive one file and return its receipt (see the module docstring)."""
    return submit_files(
        [Path(path)],
        catalog,
        settings,
        submitter=submitter,
        as_provider=as_provider,
        dry_run=dry_run,
        original_names=[original_name] if original_name is not None else None,
        now=now,
    )[0]


def submit_files(
    paths: Sequence[Path],
    catalog: Catalog,
    settings: Settings,
    *,
    submitter: str = "data_team",
    as_provider: str | None = None,
    dry_run: bool = False,
    original_names: Sequence[str | None] | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> list[Receipt]:
    """Receive many files in one run; one receipt per file, in the order given."""
    if as_provider is not None and as_provider not in catalog.providers:
        raise SubmitError(
            f"unknown provider {as_provider!r}: use an ODS code from the catalogue's providers.csv"
        )
    paths = [Path(p) for p in paths]
    for path in paths:
        if (refusal := symlink_refusal(path)) is not None:
            raise SubmitError(refusal)
        if not path.is_file():
            raise SubmitError(f"no such file: {path.name}")
    base = _utc(now or dt.datetime.now(dt.UTC))
    tick = progress or (lambda stage, done, total: None)
    prepared = _prepare(
        paths, catalog, settings, submitter, as_provider, dry_run, original_names, base, tick
    )
    try:
        if dry_run:
            return _conclude(prepared, catalog, settings, submitter, as_provider, True, tick)
        with _exclusive(settings):
            return _conclude(prepared, catalog, settings, submitter, as_provider, False, tick)
    finally:
        prepared.run.close()


@contextlib.contextmanager
def _exclusive(settings: Settings) -> Iterator[None]:
    """One run at a time per data folder checks against what is stored and stores (two runs
    storing the same file at once would otherwise both store it). The lock dies with its
    process."""
    with file_lock(settings.root / ".submit.lock"):
        yield


@dataclass
class _Prepared:
    """A run read and checked, before anything is compared with what is stored."""

    jobs: list[_Job]
    run: ValidationRun
    #: The providers of the rows read (whose history is needed).
    providers: list[str]


def _prepare(
    paths: list[Path],
    catalog: Catalog,
    settings: Settings,
    submitter: str,
    as_provider: str | None,
    dry_run: bool,
    original_names: Sequence[str | None] | None,
    base: dt.datetime,
    tick: Progress,
) -> _Prepared:
    """Archive, read and check every new file: nothing here depends on what is stored (the
    archive is content-addressed and idempotent), so runs do it side by side."""
    from collectonce.ingest.readers import iter_submission_batches

    jobs = _receive(
        paths, catalog, settings, submitter, as_provider, dry_run, original_names, base, tick
    )
    todo = [j for j in jobs if j.duplicate_of is None and j.same_as is None]
    run = ValidationRun(
        catalog,
        today=base.date(),
        outlier_threshold=settings.outlier_mad_threshold,
        spill_rows=settings.batch_rows,
    )
    if settings.data_docs and not dry_run:
        from collectonce.validate.data_docs import DocsRecorder

        run.on_gx_result = DocsRecorder()
    try:
        for done, job in enumerate(todo, start=1):
            file = run.add_file(job.name, as_provider=as_provider)
            job.file_index = file.index
            if job.too_large:
                run.add_batch(file, None, file_error=_too_large(job, settings))
            else:
                source = (job.archived.local_path if job.archived else None) or job.path
                for batch in iter_submission_batches(
                    source, catalog, settings, original_name=job.name
                ):
                    run.add_batch(
                        file,
                        batch.table,
                        rows_read=batch.rows_read,
                        rows_skipped=batch.rows_skipped,
                        template=batch.template,
                        findings=batch.findings,
                        file_error=batch.file_error,
                        error_rows=batch.error_rows,
                        rejected=batch.rejected,
                    )
            tick("read", done, len(todo))
        providers = run.provider_codes
        pa.default_memory_pool().release_unused()  # the read buffers, before checking
        run.check()
    except BaseException:
        run.close()
        raise
    return _Prepared(jobs, run, providers)


def _conclude(
    prepared: _Prepared,
    catalog: Catalog,
    settings: Settings,
    submitter: str,
    as_provider: str | None,
    dry_run: bool,
    tick: Progress,
) -> list[Receipt]:
    """Check against what is stored, store, quarantine, report and write the receipts (under
    the data folder's lock, except in a dry run)."""
    from collectonce.store.submissions import (
        current_values,
        submission_ids,
        unreceipted_submissions,
    )

    jobs, run = prepared.jobs, prepared.run
    todo = [j for j in jobs if j.duplicate_of is None and j.same_as is None]
    # Another run may have received the same bytes since they were archived.
    index = ReceiptIndex(settings)
    for job in todo:
        job.judge(prior_receipt(settings, job.sha256, as_provider, index), catalog)
    withdrawn = {
        j.file_index for j in todo if j.duplicate_of is not None and j.file_index is not None
    }
    todo = [j for j in todo if j.duplicate_of is None]
    sids = [j.submission_id for j in todo]
    stored = submission_ids(settings) if todo else set()
    committed = stored & set(sids)
    # Values stored without a receipt (this run's, stored before a crash, or another file's
    # whose run died) are not held: they are not publishable, so nothing is compared with them.
    unheld = committed | unreceipted_submissions(settings, stored)
    history = (
        current_values(settings, exclude_submissions=unheld, providers=prepared.providers)
        if todo
        else None
    )
    results = run.finish(history, withdrawn=withdrawn)
    tick("validate", len(todo), len(todo))
    if not dry_run:
        from collectonce.store.quarantine import set_aside

        for job in todo:
            if job.resending is not None:
                set_aside(settings, job.submission_id, job.resending.attempt)
    # The validation results are saved while the values are stored; receipts wait for both.
    docs = None
    if not dry_run and todo and run.on_gx_result is not None:
        docs = Beside(lambda: _data_docs(run, catalog, settings, sids), "collectonce-gx-results")
    try:
        quarantined = _store(run, todo, settings, catalog, submitter, committed, dry_run)
        if not dry_run:
            fault_point("submit:stored")
        tick("store", len(todo), len(todo))
    finally:
        if docs is not None:
            docs.join()

    receipts: dict[int, Receipt] = {}
    by_file = {r.index: r for r in results}
    for job in todo:
        assert job.file_index is not None
        result = by_file[job.file_index]
        receipt = _receipt(job, result, submitter, as_provider, dry_run, catalog, settings)
        if not dry_run:
            receipt = _finish_files(receipt, job, settings, catalog, quarantined)
            fault_point("submit:before_receipt")
            write_receipt(settings, receipt)
            fault_point("submit:receipt_written")
        receipts[job.index] = receipt
    for job in jobs:
        if job.duplicate_of is not None:
            receipts[job.index] = _dup(job.duplicate_of, job, dry_run)
        elif job.same_as is not None:
            receipts[job.index] = _dup(receipts[job.same_as], job, dry_run)
    return [receipts[j.index] for j in jobs]


def _data_docs(run: ValidationRun, catalog: Catalog, settings: Settings, sids: list[str]) -> None:
    """This run's Great Expectations results, kept for the Data Docs its receipts link to. A
    failure here is logged and never loses a submission."""
    from collectonce.validate.data_docs import DocsRecorder, store_results

    recorder = run.on_gx_result
    if not isinstance(recorder, DocsRecorder):
        return
    try:
        store_results(catalog, settings, recorder, sids)
    except Exception:
        logging.getLogger("collectonce.ingest").exception("cannot store the validation results")


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _receive(
    paths: list[Path],
    catalog: Catalog,
    settings: Settings,
    submitter: str,
    as_provider: str | None,
    dry_run: bool,
    original_names: Sequence[str | None] | None,
    base: dt.datetime,
    tick: Progress,
) -> list[_Job]:
    """Size check, archive (unless a dry run), duplicate check."""
    jobs: list[_Job] = []
    first_of: dict[str, int] = {}
    index = ReceiptIndex(settings)
    for i, path in enumerate(paths):
        given = original_names[i] if original_names and i < len(original_names) else None
        name = sanitise_name(given if given is not None else path.name)
        received_at = base + dt.timedelta(microseconds=i)
        size = path.stat().st_size
        too_large = size > settings.max_upload_bytes
        archived = None
        if dry_run or too_large:
            sha, size = hash_file(path)
        else:
            archived = archive_file(
                path,
                settings,
                original_name=name,
                submitter=submitter,
                received_at=received_at,
            )
            sha, size = archived.sha256, archived.size
            fault_point("submit:archived")
        sid = submission_id_for(sha, as_provider)
        job = _Job(i, path, name, sha, size, sid, received_at, archived, too_large)
        job.judge(prior_receipt(settings, sha, as_provider, index), catalog)
        if job.duplicate_of is None and sha in first_of:
            job.same_as = first_of[sha]
        first_of.setdefault(sha, i)
        jobs.append(job)
        tick("archive", i + 1, len(paths))
    return jobs


def _too_large(job: _Job, settings: Settings) -> Finding:
    from collectonce.ingest.formats import size_text

    return Finding(
        file=job.name,
        row=None,
        column=None,
        metric=None,
        rule="file_too_large",
        severity="error",
        message=(
            f"The file is {size_text(job.size)}, over the {size_text(settings.max_upload_bytes)} "
            "limit. Split it into smaller files (for example one per month) and send each."
        ),
    )


def _store(
    run: ValidationRun,
    jobs: list[_Job],
    settings: Settings,
    catalog: Catalog,
    submitter: str,
    committed: set[str],
    dry_run: bool,
) -> dict[int, Path]:
    """One Delta commit for every value to store; rejected rows to quarantine. Per-file paths
    of rejected-rows files are returned."""
    from collectonce.store.submissions import WRITE_SCHEMA, append_values

    if dry_run:
        return {}
    by_file = {j.file_index: j for j in jobs}
    n_files = max(len(run.files), 1)
    skip = np.ones(n_files, dtype=bool)  # files of no job here store nothing
    sid, sha, template = [""] * n_files, [""] * n_files, [""] * n_files
    received = [job.received_at for job in jobs[:1]] * n_files
    for index, job in by_file.items():
        assert index is not None
        skip[index] = job.submission_id in committed
        sid[index] = job.submission_id
        sha[index] = job.sha256
        template[index] = run.files[index].template
        received[index] = job.received_at
    per_file = {
        "submission_id": pa.array(sid, pa.string()),
        "file_sha256": pa.array(sha, pa.string()),
        "source_template": pa.array(template, pa.string()),
        "submitted_by": pa.array([submitter] * n_files, pa.string()),
    }
    received_at = pa.array(received, pa.timestamp("us", tz="UTC"))
    writers: dict[int, RejectedRows] = {}
    reasons = {
        index: _ReadReasons(run.files[index].read_findings)
        for index in by_file
        if index is not None
    }
    for index, job in by_file.items():
        assert index is not None
        file = run.files[index]
        if file.read_rejected:
            writer = writers.setdefault(
                index, RejectedRows(settings, job.submission_id, schema=REJECTED_ROWS)
            )
            for table in file.read_rejected:
                writer.write(_sent_rows(table, reasons[index]))

    def batches() -> Iterator[pa.RecordBatch]:
        for rb in run.iter_batches():
            if rb.rejected.any():
                _quarantine_rows(rb, writers, by_file, settings, reasons)
            keep = rb.store & ~skip[rb.file]
            if not keep.any():
                continue
            idx = pa.array(np.flatnonzero(keep))
            rows = rb.table if keep.all() else rb.table.take(idx)
            files = pa.array(rb.file[np.flatnonzero(keep)].astype(np.int32))
            columns: dict[str, pa.Array] = {
                name: pa.DictionaryArray.from_arrays(files, values)
                for name, values in per_file.items()
            }
            columns["received_at"] = received_at.take(files)
            columns["warnings"] = rb.warnings if keep.all() else rb.warnings.take(idx)
            for name in ("source_row", "provider_code", "period", "metric_id", "value"):
                columns[name] = rows[name].combine_chunks()
            for name in ("value_status", "comment"):
                columns[name] = rows[name].combine_chunks()
            yield pa.RecordBatch.from_arrays(
                [columns[f.name] for f in WRITE_SCHEMA], schema=WRITE_SCHEMA
            )

    to_store = run.store_count(skip)
    if to_store:
        append_values(
            settings, prefetch(batches(), depth=1, name="collectonce-store"), schema=WRITE_SCHEMA
        )
    else:
        for _ in batches():
            pass
    return {index: path for index, w in writers.items() if (path := w.close()) is not None}


class _ReadReasons:
    """The rules that rejected each row of a file while it was read (for a row not listed in
    the findings, or a file that could not be read to the end, the rules of the file's findings
    that name no row)."""

    def __init__(self, findings: list[Finding]) -> None:
        by_row: dict[int, set[str]] = {}
        unlisted: set[str] = set()
        for f in findings:
            if f.severity != "error":
                continue
            if f.row is None:
                unlisted.add(f.rule)  # "N more rows have this problem": rows not listed
            else:
                by_row.setdefault(f.row, set()).add(f.rule)
        self.by_row = {row: ";".join(sorted(rules)) for row, rules in by_row.items()}
        self.unlisted = ";".join(sorted(unlisted)) or None

    def of(self, row: int) -> str | None:
        return self.by_row.get(row, self.unlisted)


def _sent_rows(table: pa.Table, reasons: _ReadReasons) -> pa.Table:
    """Rows rejected while reading (``source_row``, ``sent``) with the rules that rejected them."""
    rows = table["source_row"].to_pylist()
    return table.append_column(
        "rejected_by", pa.array([reasons.of(int(r)) for r in rows], pa.string())
    )


def _quarantine_rows(
    rb: RowBatch,
    writers: dict[int, RejectedRows],
    by_file: dict[int | None, _Job],
    settings: Settings,
    reasons: dict[int, _ReadReasons],
) -> None:
    idx = np.flatnonzero(rb.rejected)
    files = rb.file[idx]
    for f in np.unique(files):
        job = by_file.get(int(f))
        if job is None:
            continue
        mine = idx[files == f]
        rules = rb.reasons.take(pa.array(mine)).cast(pa.string())
        if rules.null_count and int(f) in reasons:
            # Values of a row rejected while reading (another cell of it was unreadable): the
            # reading rules are why.
            rows = rb.table["source_row"].take(pa.array(mine)).to_pylist()
            read = pa.array([reasons[int(f)].of(int(r)) for r in rows], pa.string())
            rules = pc.if_else(pc.is_null(rules), read, rules)
        table = rb.table.take(pa.array(mine)).append_column("rejected_by", rules)
        writer = writers.get(int(f))
        if writer is None:
            writer = RejectedRows(settings, job.submission_id, schema=REJECTED_ROWS)
            writers[int(f)] = writer
        writer.write(table)
