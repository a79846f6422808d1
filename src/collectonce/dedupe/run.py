"""One call for every door: the catalogue's items, plus an outside register, through the engine."""

from __future__ import annotations

from pathlib import Path

from collectonce.catalog import Catalog
from collectonce.dedupe.engine import DedupeResult, run_dedupe
from collectonce.dedupe.items import DedupeItem, catalog_items, catalog_metrics
from collectonce.dedupe.register import read_register
from collectonce.dedupe.rules import load_rules


def analyse(catalog: Catalog, register: Path | str | None = None) -> DedupeResult:
    """Every item of every catalogue request, mapped or not, plus the register's items.

    A register row with the same request and item code as a catalogue item stands in for it
    (the register is the newer wording). Raises RulesInvalid or RegisterError.
    """
    rules = load_rules(catalog.root)
    items: list[DedupeItem] = catalog_items(catalog)
    warnings: list[str] = []
    if register is not None:
        reg = read_register(register)
        warnings.extend(reg.warnings)
        replaced = {i.key for i in reg.items}
        kept = [i for i in items if i.key not in replaced]
        if len(kept) != len(items):
            warnings.append(
                f"{len(items) - len(kept)} register row(s) have the request and item code of a "
                "catalogue item and were read in its place"
            )
        titles = {code: r.title for code, r in catalog.requests.items()}
        items = kept + [
            DedupeItem(**{**i.__dict__, "context": titles.get(i.request, i.request)})
            for i in reg.items
        ]
    names = {code: r.name for code, r in catalog.requesters.items()}
    return run_dedupe(
        items, catalog_metrics(catalog), rules, warnings=warnings, requester_names=names
    )
