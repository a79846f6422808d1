"""What makes up a collectonce installation, assembled in one place.

The settings (from ``COLLECTONCE_*``), the stores they point at, the catalogue, and the modules
that add the `collectonce` commands. The command line, the flows and the server start here rather
than each wiring the parts together its own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from collectonce.settings import Settings, get_settings

if TYPE_CHECKING:  # imported when an installation is assembled, so `--help` reads neither
    from collectonce.catalog.loader import Catalog
    from collectonce.store.storage import Storage

#: Modules that add commands to `collectonce` through `register(app)`, in the order of the help.
#: Heavy imports stay inside the commands.
COMMAND_MODULES: tuple[str, ...] = (
    "collectonce.burden.cli",
    "collectonce.ingest.cli",
    "collectonce.ingest.worker_cli",
    "collectonce.rollup.publish_cli",
    "collectonce.publish.cli",
    "collectonce.api.cli",
    "collectonce.feedback.spc_cli",
    "collectonce.feedback.cli",
    "collectonce.feedback.rollup_cli",
    "collectonce.demo",
)


@dataclass(frozen=True)
class Definitions:
    """One installation: its settings, its catalogue and its file stores."""

    settings: Settings
    catalog: Catalog
    archive: Storage
    landing: Storage


def load_definitions(catalog_dir: Path | None = None, home: Path | None = None) -> Definitions:
    """Assemble the installation from the environment (arguments win over ``COLLECTONCE_*``).

    Raises:
        CatalogInvalid: the catalogue has problems; each is listed.
    """
    from collectonce.catalog.loader import load_catalog
    from collectonce.store.storage import archive_store, landing_store

    settings = get_settings(catalog=catalog_dir, home=home)
    return Definitions(
        settings=settings,
        catalog=load_catalog(settings.catalog),
        archive=archive_store(settings),
        landing=landing_store(settings),
    )
