"""Great Expectations' per-expectation keyword lookups, with the configuration built once a call.

An expectation's ``configuration`` property builds a new ``ExpectationConfiguration`` from the
pydantic model (``.dict()``, then a new object) each time it is read. GX 1.x reads it once per
keyword in ``_get_domain_kwargs``, ``_get_success_kwargs`` and ``_get_runtime_kwargs``, and
calls those several times per expectation while it plans the metrics: about 1,600 builds for
one 50-value file against the catalogue's suites, half of the time GX takes to check it.

`install` replaces those three methods on ``Expectation`` with versions that read the
configuration once per call and then look every keyword up in it: the same values, in the same
order, with the same defaults and warning, as the originals. Nothing is cached between calls,
so an expectation changed between two calls is seen as it is. They are installed only on the
GX releases whose originals they were compared with (`TESTED`); on any other release GX's own
methods stay, and validation is just slower. ``tests/unit/validate/test_gx_kwargs.py`` checks,
for every expectation in the catalogue's suites, that both give the same answers.
"""

from __future__ import annotations

import threading
from typing import Any

#: GX releases (major.minor) whose three methods these replace with the same behaviour.
TESTED = ("1.24",)

_LOCK = threading.Lock()
_installed: list[bool] = []


def _default(expectation: Any, key: str) -> Any:
    return expectation._get_default_value(key)


def _domain(expectation: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {key: kwargs.get(key, _default(expectation, key)) for key in expectation.domain_keys}


def _success(expectation: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    found = {key: kwargs.get(key, _default(expectation, key)) for key in expectation.success_keys}
    found.update(_domain(expectation, kwargs))
    return found


def _one(expectation: Any, kwargs: dict[str, Any], key: str) -> Any:
    """``Expectation._get_success_kwarg(key)`` with the configuration's keywords in hand."""
    if key in kwargs:
        return kwargs[key]
    known = expectation.__fields__.get(key)
    if known is not None:
        return known.default if not known.required else None
    from great_expectations.expectations.expectation import logger

    logger.warning(
        f'_get_success_kwarg called with key "{key}", '
        f"but it is not a known field of {type(expectation).__name__}"
    )
    return None


def get_domain_kwargs(self: Any) -> dict[str, Any]:
    return _domain(self, self.configuration.kwargs)


def get_success_kwargs(self: Any) -> dict[str, Any]:
    return _success(self, self.configuration.kwargs)


def get_runtime_kwargs(self: Any, runtime_configuration: dict[str, Any] | None = None) -> dict:
    from great_expectations.expectations.expectation_configuration import parse_result_format

    runtime_configuration = runtime_configuration or {}
    kwargs = self.configuration.kwargs
    found = _success(self, kwargs)
    runtime = {
        key: runtime_configuration.get(key, _one(self, kwargs, key)) for key in self.runtime_keys
    }
    runtime.update(found)
    runtime["result_format"] = parse_result_format(runtime["result_format"])
    return runtime


#: The methods replaced, by name, and GX's own (kept for the tests that compare them).
REPLACEMENTS = {
    "_get_domain_kwargs": get_domain_kwargs,
    "_get_success_kwargs": get_success_kwargs,
    "_get_runtime_kwargs": get_runtime_kwargs,
}
ORIGINALS: dict[str, Any] = {}


def applies_to(version: str) -> bool:
    """True for a GX release these methods were compared with."""
    return ".".join(version.split(".")[:2]) in TESTED


def install() -> bool:
    """Put the three methods on GX's ``Expectation`` (once); False on an untested release."""
    import great_expectations
    from great_expectations.expectations.expectation import Expectation

    with _LOCK:
        if _installed:
            return _installed[0]
        done = applies_to(great_expectations.__version__)
        if done:
            for name, replacement in REPLACEMENTS.items():
                ORIGINALS[name] = getattr(Expectation, name)
                setattr(Expectation, name, replacement)
        _installed.append(done)
        return done
