"""Generate the contracts in schemas/ from the catalogue: nothing is written twice by hand."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from collectonce.catalog.loader import Catalog
from collectonce.catalog.models import CatalogInfo, Metric, Request, Requester, Targets
from collectonce.contracts import ALL_SCHEMAS, schema_to_json

Generator = Callable[[Catalog], dict[str, str]]


def _dump(obj: object) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"


def catalog_json_schemas(_: Catalog) -> dict[str, str]:
    """JSON Schemas of each catalogue file kind, for editors and reviewers."""
    kinds = {
        "metric": Metric,
        "request": Request,
        "requester": Requester,
        "targets": Targets,
        "catalog": CatalogInfo,
    }
    out = {}
    for name, model in kinds.items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"collectonce {name} file"
        out[f"catalog/{name}.schema.json"] = _dump(schema)
    return out


def arrow_schemas(_: Catalog) -> dict[str, str]:
    return {f"arrow/{name}.json": _dump(schema_to_json(s)) for name, s in ALL_SCHEMAS.items()}


def _extra_generators() -> list[Generator]:
    """Generators owned by other stages (validation suites, the API description)."""
    found: list[Generator] = []
    for module, attr in (
        ("collectonce.validate.suites", "suite_files"),
        ("collectonce.api.app", "openapi_files"),
    ):
        try:
            mod = __import__(module, fromlist=[attr])
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue
            raise
        if hasattr(mod, attr):
            found.append(getattr(mod, attr))
    return found


def generate_contracts(catalog: Catalog) -> dict[str, str]:
    """Every generated file, keyed by its path relative to schemas/."""
    files: dict[str, str] = {}
    for gen in [catalog_json_schemas, arrow_schemas, *_extra_generators()]:
        files.update(gen(catalog))
    return dict(sorted(files.items()))


def stale_contracts(files: dict[str, str], out: Path) -> list[str]:
    stale = []
    for name, text in files.items():
        path = out / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def write_contracts(files: dict[str, str], out: Path) -> list[str]:
    written = []
    for name in stale_contracts(files, out):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[name], encoding="utf-8")
        written.append(name)
    return written
