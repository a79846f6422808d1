"""The catalogue: models, loader and checks.

The names below are imported on first use (PEP 562), so importing a sub-module (the
command-line helpers, the errors) does not load the YAML reader and the models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collectonce.catalog.catalogue import Catalog
    from collectonce.catalog.errors import CatalogInvalid, CatalogProblem
    from collectonce.catalog.loader import load_catalog

__all__ = ["Catalog", "CatalogInvalid", "CatalogProblem", "load_catalog"]

_HOMES = {
    "Catalog": "collectonce.catalog.catalogue",
    "load_catalog": "collectonce.catalog.loader",
    "CatalogInvalid": "collectonce.catalog.errors",
    "CatalogProblem": "collectonce.catalog.errors",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
