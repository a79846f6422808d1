"""What a pack is built from: the latest publication, the ingest stage's receipts, and the
roll-ups a provider's figures are shown beside."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from collectonce.feedback.assembly import receipt_dicts
from collectonce.feedback.errors import NoPublication

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog
    from collectonce.settings import Settings


def load_publication(
    settings: Settings,
    *,
    providers: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The latest published unified table (optionally only some providers or metrics) and the
    publication's version and date.

    Raises:
        NoPublication: nothing has been published yet.
    """
    try:
        from collectonce.publish import unified as published
    except ImportError as exc:  # the publish stage is not installed
        raise NoPublication() from exc
    version = published.latest_version(settings)
    if version is None:
        raise NoPublication()
    if (providers is not None or metrics is not None) and hasattr(published, "read_unified_table"):
        import pyarrow.compute as pc

        condition = None
        for column, wanted in (("provider_code", providers), ("metric_id", metrics)):
            if wanted is not None:
                term = pc.field(column).isin(list(wanted))
                condition = term if condition is None else condition & term
        unified = published.read_unified_table(settings, version, filter=condition).to_pandas()
    else:
        unified = published.read_unified(settings, as_of=version)
    info: dict[str, Any] = {"version": version, "published_at": None}
    if hasattr(published, "list_publications"):
        for pub in published.list_publications(settings):
            if pub.get("version") == version:
                info["published_at"] = pub.get("published_at")
    return unified, info


def load_receipts(settings: Settings, provider: str | None = None) -> list[dict[str, Any]]:
    """Receipts from the ingest stage (none when it is not installed)."""
    try:
        from collectonce.ingest.service import list_receipts
    except ImportError:
        return []
    return receipt_dicts(list_receipts(settings, provider=provider))


def with_levels(
    catalog: Catalog, settings: Settings, publication: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The publication's details plus its roll-ups (``levels``), so each pack can show its
    region's and England's figures beside its own."""
    info = dict(publication or {})
    version = info.get("version")
    if version is None:
        from collectonce.publish.unified import latest_version

        version = latest_version(settings)
    try:
        from collectonce.rollup.beside import level_figures
    except ImportError:  # the roll-up stage is not installed
        return info
    info["levels"] = level_figures(catalog, settings, version)
    return info
