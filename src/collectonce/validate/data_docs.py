"""Great Expectations as its users know it: a file-backed context, Checkpoints and Data Docs.

Under ``COLLECTONCE_HOME/gx_project/gx/`` lives an ordinary GX project
(``great_expectations.yml``): the catalogue's suites (``canonical_rows`` for the long rows,
``provider_period`` for the provider × period pivot), a pandas data source with one dataframe
asset per suite, a validation definition and one Checkpoint per shape
(``collectonce_canonical_rows``, ``collectonce_provider_period``) whose action updates the Data
Docs. A data team can open it with ``gx.get_context(project_root_dir=...)`` on
``COLLECTONCE_HOME/gx_project`` and run a checkpoint on any frame.

Submissions are validated on the fast path (`gx_runner`: one cached context, the expectations in
the shape the ingest benchmark needs). Each run's validation results are then stored in this
project's validation results store, without validating again, and rendered as Data Docs pages
when first opened from the receipt (rendering costs more than validating a small file). The
pages are made to work offline: Bootstrap's stylesheet is served from the package, and every
other asset GX would fetch from a CDN (scripts, fonts, a logo that reports the project's id) is
removed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectonce.atomic import file_lock
from collectonce.catalog import Catalog
from collectonce.settings import Settings
from collectonce.validate.gx_import import load_gx

BOOTSTRAP_CSS = Path(__file__).resolve().parent / "static" / "bootstrap.min.css"
_CONTEXTS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()
_REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I)
_REMOTE_LINK = re.compile(r"<link[^>]*\bhref=\"https?://[^\"]*\"[^>]*/?>", re.I)
_REMOTE_IMG = re.compile(r"<img[^>]*\bsrc=\"https?://[^\"]*\"[^>]*/?>", re.I)
_REMOTE_URL = re.compile(r"url\(['\"]?https?://[^)]*\)", re.I)
_BOOTSTRAP = re.compile(
    r"<link[^>]*bootstrapcdn\.com/bootstrap/[^\"]*/css/bootstrap\.min\.css[^>]*>"
)


def project_dir(settings: Settings) -> Path:
    """The GX project folder (``gx/`` is made inside it)."""
    return settings.path("gx_project")


def site_dir(settings: Settings) -> Path:
    return project_dir(settings) / "gx" / "uncommitted" / "data_docs" / "local_site"


def _index_dir(settings: Settings) -> Path:
    return project_dir(settings) / "submissions"


def checkpoint_name(suite: str) -> str:
    return f"collectonce_{suite}"


@contextlib.contextmanager
def _project_lock(settings: Settings) -> Iterator[None]:
    """One writer of the GX project at a time, across processes."""
    with file_lock(project_dir(settings) / ".lock"):
        yield


def file_context(catalog: Catalog, settings: Settings) -> Any:
    """The file-backed GX context of this data folder, with the catalogue's suites, validation
    definitions and checkpoints in it (added or updated once per process and catalogue)."""
    key = (str(project_dir(settings)), f"{catalog.root}:{catalog.fingerprint}")
    with _LOCK:
        found = _CONTEXTS.get(key)
        if found is not None:
            return found
        with _project_lock(settings):
            context = _open_project(catalog, settings)
        _CONTEXTS[key] = context
        return context


def _set_up_for(catalog: Catalog) -> str:
    return f"{catalog.root}:{catalog.fingerprint}"


def _marker(settings: Settings) -> Path:
    """Names the catalogue whose suites, checkpoints and assets the project was last set up
    with (written once that set-up is saved)."""
    return project_dir(settings) / "gx" / "uncommitted" / "collectonce_catalog.txt"


def _results_store(catalog: Catalog, settings: Settings) -> Any:
    """The project's validation results store. Once the project is set up for this catalogue
    (by any process), the store is opened on its own: a new process storing a small file's
    results then skips loading the whole file-backed context (about a second)."""
    gx_dir = project_dir(settings) / "gx"
    key = (str(project_dir(settings)), _set_up_for(catalog))
    with _LOCK:
        known = key in _CONTEXTS
    try:
        ready = (gx_dir / "great_expectations.yml").is_file() and _marker(settings).read_text(
            encoding="utf-8"
        ) == _set_up_for(catalog)
    except OSError:
        ready = False
    if known or not ready:
        return file_context(catalog, settings).validation_results_store
    load_gx()
    from great_expectations.data_context.store.validation_results_store import (
        ValidationResultsStore,
    )

    return ValidationResultsStore(
        store_backend={
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(gx_dir / "uncommitted" / "validations"),
        }
    )


def _open_project(catalog: Catalog, settings: Settings) -> Any:
    gx = load_gx()
    from great_expectations.checkpoint.actions import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from collectonce.validate.suites import build_suites

    context = gx.get_context(mode="file", project_root_dir=str(project_dir(settings)))
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    with contextlib.suppress(Exception):
        context.variables.save()
    source = context.data_sources.add_or_update_pandas("collectonce")
    existing_assets = {a.name for a in source.assets}
    for name, suite in build_suites(catalog).items():
        asset = (
            source.get_asset(name) if name in existing_assets else source.add_dataframe_asset(name)
        )
        batch_name = f"{name}_whole"
        batch = next(
            (b for b in asset.batch_definitions if b.name == batch_name), None
        ) or asset.add_batch_definition_whole_dataframe(batch_name)
        saved = context.suites.add_or_update(suite)
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"validate_{name}", data=batch, suite=saved)
        )
        context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=checkpoint_name(name),
                validation_definitions=[definition],
                actions=[UpdateDataDocsAction(name="update_data_docs")],
                result_format={"result_format": "BASIC"},
            )
        )
    _marker(settings).parent.mkdir(parents=True, exist_ok=True)
    _marker(settings).write_text(_set_up_for(catalog), encoding="utf-8")
    return context


@dataclass
class DocsRecorder:
    """Collects the validation results of one validation run, to be stored and rendered as
    Data Docs once the run is decided (see `build_data_docs`)."""

    run_name: str = field(
        default_factory=lambda: (
            "val_" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "_" + secrets.token_hex(3)
        )
    )
    results: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, suite: str, result: Any) -> None:
        with self.lock:
            self.results.append((suite, result))


def store_results(
    catalog: Catalog, settings: Settings, recorder: DocsRecorder, submission_ids: list[str]
) -> list[str]:
    """Store the run's validation results in the GX project (its validation results store) and
    note them for each submission; the Data Docs pages they will have (relative to the site).
    Pages are rendered when first opened (`render_pages`), so storing costs little."""
    if not recorder.results:
        return []
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    store = _results_store(catalog, settings)
    run_time = dt.datetime.now(dt.UTC)
    keys = []
    with _project_lock(settings):
        for position, (suite, result) in enumerate(recorder.results):
            identifier = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite),
                run_id=RunIdentifier(run_name=recorder.run_name, run_time=run_time),
                batch_identifier=f"{suite}-{position + 1}",
            )
            store.set(identifier, result)
            keys.append(list(identifier.to_tuple()))
    pages = [_page_of(k) for k in keys]
    note = {"run": recorder.run_name, "pages": pages, "keys": keys, "files": len(submission_ids)}
    folder = _index_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    for submission_id in submission_ids:
        (folder / f"{submission_id}.json").write_text(json.dumps(note), encoding="utf-8")
    return pages


def render_pages(catalog: Catalog, settings: Settings, note: dict[str, Any]) -> None:
    """Render (once) the Data Docs pages of a noted run, the suites' pages and the index, and
    make them work offline."""
    site = site_dir(settings)
    missing = [
        k for k, p in zip(note["keys"], note["pages"], strict=True) if not (site / p).is_file()
    ]
    if not missing:
        return
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = file_context(catalog, settings)
    wanted: list[Any] = [ValidationResultIdentifier.from_tuple(tuple(k)) for k in missing]
    suites = {k[0] for k in missing}
    wanted += [
        ExpectationSuiteIdentifier(name=name)
        for name in suites
        if not (site / "expectations" / f"{name}.html").is_file()
    ]
    with _project_lock(settings):
        context.build_data_docs(resource_identifiers=wanted)
        for page in [*(p for p in note["pages"]), "index.html"]:
            offline_page(site / page)
        for name in suites:
            offline_page(site / "expectations" / f"{name}.html")
        _install_bootstrap(settings)


def _page_of(key: list[str]) -> str:
    suite, run_name, run_time, batch = key
    return f"validations/{suite}/{run_name}/{run_time}/{batch}.html"


def offline_page(path: Path) -> None:
    """Rewrite a Data Docs page so it loads nothing from elsewhere."""
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    depth = len(path.relative_to(_site_root(path)).parts) - 1
    local = "../" * depth + "static/styles/bootstrap.min.css"
    text = _BOOTSTRAP.sub(f'<link rel="stylesheet" href="{local}">', text)
    text = _REMOTE_SCRIPT.sub("", text)
    text = _REMOTE_LINK.sub("", text)
    text = _REMOTE_IMG.sub("", text)
    text = _REMOTE_URL.sub("none", text)
    path.write_text(text, encoding="utf-8")


def _site_root(path: Path) -> Path:
    for parent in path.parents:
        if parent.name == "local_site":
            return parent
    return path.parent


def _install_bootstrap(settings: Settings) -> None:
    target = site_dir(settings) / "static" / "styles" / "bootstrap.min.css"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(BOOTSTRAP_CSS.read_bytes())


def data_docs_note(settings: Settings, submission_id: str) -> dict[str, Any] | None:
    """The Data Docs pages of a submission's validation run, when built."""
    if not submission_id or "/" in submission_id or "\\" in submission_id:
        return None
    path = _index_dir(settings) / f"{submission_id}.json"
    try:
        note = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) and note.get("pages") and note.get("keys") else None


def data_docs_file(settings: Settings, relative: str) -> Path | None:
    """A file of the Data Docs site by its relative path; None outside the site."""
    root = site_dir(settings).resolve()
    target = (root / relative).resolve()
    if root not in target.parents or not target.is_file():
        return None
    return target
