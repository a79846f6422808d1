"""The one way `collectonce submit` hands a file in: to a warm validation worker, or here.

`submit` sends the request to the data folder's validation worker (started by an earlier
submission, or by `collectonce worker start`) when ``COLLECTONCE_WORKER`` allows it and one
answers; the worker runs `ingest`, the very function this process would run (archive first,
read, validate, store, receipt), with a catalogue and Great Expectations context it keeps warm.
Anything else (no worker, a worker error, a refused or stale socket, a worker of another build)
is done here by the same `ingest`, so no file is ever lost: a submission the worker began and
did not finish is finished by the re-run, and nothing is stored twice.

Importing this module costs nothing: the ingest machinery is imported when a file is ingested
here, never when the worker does it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectonce.errors import IngestError
from collectonce.settings import Settings

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog
    from collectonce.store.receipts import Receipt

#: Opens the catalogue folder given on the command line (the CLI prints its problems and
#: exits; the worker keeps the catalogues it has read).
CatalogOpener = Callable[[Path], "Catalog"]


class Refused(IngestError, ValueError):
    """A usage error (no such file, a symbolic link, an unknown provider): nothing received."""


@dataclass(frozen=True)
class SubmitRequest:
    """One `collectonce submit`, as typed: paths relative to `cwd`."""

    file: str
    catalog: str
    as_provider: str | None = None
    dry_run: bool = False
    cwd: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmitRequest:
        as_provider = data.get("as_provider")
        return cls(
            file=str(data["file"]),
            catalog=str(data["catalog"]),
            as_provider=None if as_provider is None else str(as_provider),
            dry_run=bool(data.get("dry_run")),
            cwd=str(data.get("cwd") or ""),
        )


def ingest(request: SubmitRequest, settings: Settings, open_catalog: CatalogOpener) -> Receipt:
    """Receive the file of one `collectonce submit` and return its receipt.

    Raises:
        Refused: a usage error; nothing was received.
        OSError: the submission could not be stored.
    """
    from collectonce.ingest.service import SubmitError, submit_file, symlink_refusal

    path = Path(request.file)
    if (refusal := symlink_refusal(path)) is not None:
        raise Refused(refusal)
    if not path.is_file():
        raise Refused(f"no such file: {request.file}")
    catalog_dir = Path(request.catalog)
    cat = open_catalog(catalog_dir)
    as_provider = request.as_provider
    if as_provider is not None:
        as_provider = as_provider.strip().upper()
        if as_provider not in cat.providers:
            raise Refused(
                f"unknown provider {as_provider!r} for --as: use an ODS code from "
                f"{catalog_dir / 'providers.csv'}"
            )
    try:
        return submit_file(
            path,
            cat,
            settings,
            submitter=as_provider or "data_team",
            as_provider=as_provider,
            dry_run=request.dry_run,
        )
    except SubmitError as exc:
        raise Refused(str(exc)) from exc


def submit(request: SubmitRequest, settings: Settings, open_catalog: CatalogOpener) -> Receipt:
    """`ingest` the file through the data folder's worker when there is one, else here.

    With ``COLLECTONCE_WORKER=auto`` (the default), a submission that found no worker (or a
    stale one) starts one once its own file is done, so the next submission is served warm,
    unless `worker_link.MOST_WORKERS` of this user's workers already run (for other data
    folders).
    """
    if settings.worker == "off":
        return ingest(request, settings, open_catalog)
    from collectonce.ingest import worker_link

    answer = worker_link.submit(settings, request)
    if answer is not None and isinstance(answer.get("receipt"), dict):
        from collectonce.store.receipts import Receipt

        return Receipt.from_dict(answer["receipt"])
    if answer is not None and answer.get("refused"):
        raise Refused(str(answer["refused"]))
    start = settings.worker == "auto" and (answer is None or bool(answer.get("stale")))
    receipt = ingest(request, settings, open_catalog)
    if start and worker_link.available() and worker_link.room_for_another():
        # The receipt stands whatever happens; without a worker the next file is done here too.
        with contextlib.suppress(OSError):
            worker_link.start_detached(settings, request.catalog)
    return receipt


def request_for(
    file: str, catalog: Path, *, as_provider: str | None = None, dry_run: bool = False
) -> SubmitRequest:
    """The request of a `collectonce submit` typed in this process's working directory."""
    return SubmitRequest(
        file=file,
        catalog=str(catalog),
        as_provider=as_provider,
        dry_run=dry_run,
        cwd=os.getcwd(),
    )
