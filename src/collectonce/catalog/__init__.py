"""The catalogue: models, loader and checks."""

from collectonce.catalog.errors import CatalogInvalid, CatalogProblem
from collectonce.catalog.loader import Catalog, load_catalog

__all__ = ["Catalog", "CatalogInvalid", "CatalogProblem", "load_catalog"]
