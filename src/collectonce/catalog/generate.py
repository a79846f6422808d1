"""Generate the contracts in schemas/ from the catalogue: nothing is written twice by hand."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from collectonce.catalog.layouts import layout_json_schema
from collectonce.catalog.loader import Catalog
from collectonce.catalog.models import (
    CatalogInfo,
    Levels,
    Metric,
    Provider,
    Request,
    Requester,
    Targets,
)
from collectonce.contracts import ALL_SCHEMAS, schema_to_json

Generator = Callable[[Catalog], dict[str, str]]


def _dump(obj: object) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"


class RequestersFile(BaseModel):
    """requesters.yaml: the bodies that ask providers for data."""

    model_config = ConfigDict(extra="forbid")

    requesters: list[Requester] = Field(min_length=1)


def catalog_json_schemas(_: Catalog) -> dict[str, str]:
    """JSON Schemas of each catalogue file as it is written, for editors and reviewers.

    `requester` describes one entry and `requesters` the whole requesters.yaml; `provider`
    describes one row of providers.csv (every cell is text).
    """
    kinds: dict[str, type[BaseModel]] = {
        "metric": Metric,
        "request": Request,
        "requester": Requester,
        "requesters": RequestersFile,
        "provider": Provider,
        "targets": Targets,
        "levels": Levels,
        "catalog": CatalogInfo,
    }
    out = {}
    for name, model in kinds.items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"collectonce {name} file"
        if name == "provider":
            schema["title"] = "collectonce providers.csv row"
        out[f"catalog/{name}.schema.json"] = _dump(schema)
    layout = layout_json_schema()
    layout["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    layout["title"] = "collectonce layout file"
    out["catalog/layout.schema.json"] = _dump(layout)
    return out


def arrow_schemas(_: Catalog) -> dict[str, str]:
    return {f"arrow/{name}.json": _dump(schema_to_json(s)) for name, s in ALL_SCHEMAS.items()}


def _extra_generators() -> list[Generator]:
    """Generators owned by other stages (validation suites, the API description)."""
    found: list[Generator] = []
    for module, attr in (
        ("collectonce.validate.suites", "suite_files"),
        ("collectonce.api.app", "openapi_files"),
        ("collectonce.dedupe.rules", "rules_schema_files"),
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


def orphan_contracts(files: dict[str, str], out: Path) -> list[str]:
    """Generated-looking files in `out` that nothing generates any more (e.g. a removed suite)."""
    if not out.is_dir():
        return []
    found = (p.relative_to(out).as_posix() for p in out.rglob("*.json") if p.is_file())
    return sorted(name for name in found if name not in files)


def stale_contracts(files: dict[str, str], out: Path) -> list[str]:
    """Files that are missing, differ from what the catalogue generates, or are orphans."""
    stale = []
    for name, text in files.items():
        path = out / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale + orphan_contracts(files, out)


def write_contracts(files: dict[str, str], out: Path) -> list[str]:
    """Write what changed and delete orphans; return the names touched."""
    written = []
    for name in stale_contracts(files, out):
        path = out / name
        if name not in files:
            path.unlink()
            written.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[name], encoding="utf-8")
        written.append(name)
    return written
