"""Import Great Expectations without paying for the parts collectonce never runs.

Importing ``great_expectations`` registers every expectation it ships, and one of them (the
KL-divergence expectation, with its Vega chart renderer) imports ``scipy.stats`` and ``altair``
at module level: about a third of GX's import time, spent before a 50-value file can be checked.
The catalogue's suites use neither. `load_gx` puts a stand-in for each of those modules in
``sys.modules`` first; the stand-in imports the real module the first time anything asks it
for an attribute (or a submodule), so code that does use them still gets the real thing.

GX also imports SQLAlchemy, when it is installed, to offer SQL data sources; collectonce checks
pandas frames only. While GX is imported, and only when nothing in the process has imported
SQLAlchemy yet, `load_gx` tells Python it is absent (GX then leaves its SQL data sources out, as
it does wherever SQLAlchemy is not installed); afterwards SQLAlchemy imports normally for
anything else in the process (the Prefect server, for one).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any, cast

#: Modules that GX imports at start-up only for expectations and renderers the catalogue never
#: uses; each is imported for real on first use.
DEFERRED = ("scipy.stats", "altair")
#: Optional back-ends GX looks for at start-up and collectonce never asks it to use: hidden while
#: GX is imported, unless already imported.
HIDDEN = ("sqlalchemy",)

_LOCK = threading.RLock()


class _Deferred(types.ModuleType):
    """A module that stands in for `__name__` until one of its attributes is wanted."""

    def __getattr__(self, attr: str) -> Any:
        with _LOCK:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        return getattr(real, attr)


def _defer(name: str) -> None:
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    stand_in = _Deferred(name)
    stand_in.__spec__ = spec
    stand_in.__file__ = spec.origin
    sys.modules[name] = stand_in


def load_gx() -> types.ModuleType:
    """``great_expectations``, imported with `DEFERRED` modules loaded only when used."""
    if "great_expectations" not in sys.modules:
        with _LOCK:
            for name in DEFERRED:
                _defer(name)
            modules = cast(dict[str, Any], sys.modules)
            hidden = [name for name in HIDDEN if name not in modules]
            for name in hidden:
                modules[name] = None  # Python's mark for "not installed"
            try:
                import great_expectations  # here, with the modules above deferred or hidden
            finally:
                for name in hidden:
                    if name in modules and modules[name] is None:
                        del modules[name]
    import great_expectations

    return great_expectations


def is_deferred(name: str) -> bool:
    """True while `name` is still a stand-in (nothing has used it yet)."""
    return isinstance(sys.modules.get(name), _Deferred)
