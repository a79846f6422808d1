"""The catalogue: models, loader and checks."""

from collectonce.catalog.catalogue import Catalog
from collectonce.catalog.errors import CatalogInvalid, CatalogProblem
from collectonce.catalog.loader import load_catalog

__all__ = ["Catalog", "CatalogInvalid", "CatalogProblem", "load_catalog"]
