"""Every error the library raises on purpose shares `CollectonceError`, and none is told apart
by its class name written as a string."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import collectonce
from collectonce.errors import CollectonceError

ROOT = Path(__file__).resolve().parents[3]


def _library_modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(collectonce.__path__, "collectonce.")
        if not m.name.endswith("__main__")
    )


def test_every_error_class_in_the_library_shares_one_base() -> None:
    strays = []
    for name in _library_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not issubclass(cls, BaseException):
                continue
            if not issubclass(cls, CollectonceError):
                strays.append(f"{name}.{cls.__qualname__}")
    assert not strays, f"errors outside CollectonceError: {strays}"


def test_familiar_handlers_still_match() -> None:
    from collectonce.feedback.pack import UnknownProvider
    from collectonce.ingest.service import SubmitError
    from collectonce.publish.errors import PublishError, UnknownRequest
    from collectonce.rollup.errors import NotAggregable

    assert issubclass(UnknownProvider, ValueError)
    assert issubclass(SubmitError, ValueError)
    assert issubclass(UnknownRequest, LookupError) and issubclass(UnknownRequest, PublishError)
    assert issubclass(NotAggregable, ValueError)


_BY_NAME = re.compile(
    r"""(__name__\s*==\s*["'][A-Za-z]*(Error|Exception)|["'][A-Za-z]+(Error|Exception)["']\s+in\s)"""
)


@pytest.mark.parametrize("folder", ["src", "flows"])
def test_no_error_is_matched_by_its_name_as_a_string(folder: str) -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _BY_NAME.search(line)
    ]
    assert not hits, hits
