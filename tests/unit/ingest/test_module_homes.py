"""The ingest packages keep the names other code imports, each defined in one home module."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

import collectonce

LIBRARY = Path(collectonce.__file__).resolve().parent


@pytest.mark.parametrize("package", ["shapes", "formats", "normalise"])
def test_every_name_the_package_offers_comes_from_one_of_its_modules(package: str) -> None:
    """It re-exports names (for callers of the old single module) without defining them again."""
    package = f"collectonce.ingest.{package}"
    module = importlib.import_module(package)
    assert module.__all__
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            home = value.__module__
            assert home.startswith(f"{package}."), f"{package}.{name} is defined in {home}"


@pytest.mark.parametrize("package", ["shapes", "formats", "normalise"])
def test_each_module_of_the_package_keeps_to_one_job_in_under_500_lines(package: str) -> None:
    for path in sorted((LIBRARY / "ingest" / package).glob("*.py")):
        lines = sum(1 for _ in path.open(encoding="utf-8"))
        assert lines < 500, f"ingest/{package}/{path.name} has {lines} lines"


def test_the_old_imports_still_work() -> None:
    from collectonce.ingest.formats import FileRejected, RawBatch, make_finding, open_source
    from collectonce.ingest.normalise import header_key, normalise_periods, parse_values
    from collectonce.ingest.shapes import CANONICAL_LONG, Converter, Resolver, detect_layout

    assert CANONICAL_LONG == "canonical_long"
    assert header_key(" Provider Code ") == "provider_code"
    assert Converter.__module__ == "collectonce.ingest.shapes.converter"
    assert Resolver.__module__ == "collectonce.ingest.shapes.targets"
    assert detect_layout.__module__ == "collectonce.ingest.shapes.layout"
    assert open_source.__module__ == "collectonce.ingest.formats.dispatch"
    assert {FileRejected.__module__, RawBatch.__module__, make_finding.__module__} == {
        "collectonce.ingest.formats.source"
    }
    assert normalise_periods.__module__ == "collectonce.ingest.normalise.periods"
    assert parse_values.__module__ == "collectonce.ingest.normalise.values"
