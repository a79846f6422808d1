"""The registers beside the metric and request files: `requesters.yaml` and `providers.csv`."""

from __future__ import annotations

import csv
from pathlib import Path

from collectonce.catalog.errors import CatalogProblem
from collectonce.catalog.models import Provider, Requester
from collectonce.catalog.reading import UNREADABLE, read_yaml, validate


def load_requesters(
    root: Path, problems: list[CatalogProblem], seen: dict[str, bytes]
) -> dict[str, Requester]:
    path = root / "requesters.yaml"
    fix = "write `requesters:` then one `- {code: ..., name: ...}` line per requester"
    if not path.exists():
        problems.append(
            CatalogProblem("requesters.yaml", "", "", "is missing", f"add requesters.yaml: {fix}")
        )
        return {}
    raw = read_yaml(path, root, problems, seen)
    if raw is UNREADABLE:
        return {}
    entries = raw.get("requesters") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        problems.append(
            CatalogProblem(
                "requesters.yaml",
                "requesters",
                "" if entries is None else repr(entries)[:80],
                "must be a non-empty list of requesters",
                fix,
            )
        )
        return {}
    extra = sorted(str(k) for k in raw if k != "requesters")
    if extra:
        problems.append(
            CatalogProblem(
                "requesters.yaml",
                ", ".join(extra),
                "",
                "is not a known field",
                "remove it: the file holds only the `requesters:` list",
            )
        )
    requesters: dict[str, Requester] = {}
    for i, entry in enumerate(entries):
        model = validate(Requester, entry, "requesters.yaml", problems, f"requesters[{i}]")
        if model is None:
            continue
        if model.code in requesters:
            problems.append(
                CatalogProblem(
                    "requesters.yaml",
                    f"requesters[{i}].code",
                    model.code,
                    "duplicate requester code",
                    "give each requester a unique code",
                )
            )
        requesters[model.code] = model
    return requesters


PROVIDER_COLUMNS = ("ods_code", "name", "peer_group", "region", "icb")
_REQUIRED_PROVIDER_COLUMNS = ("ods_code", "peer_group")


def load_providers(root: Path, problems: list[CatalogProblem]) -> dict[str, Provider]:
    path = root / "providers.csv"
    providers: dict[str, Provider] = {}
    header_fix = f"start the file with the header {','.join(PROVIDER_COLUMNS)}"
    if not path.exists():
        problems.append(
            CatalogProblem(
                "providers.csv", "", "", "is missing", f"add providers.csv; {header_fix}"
            )
        )
        return providers
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(
            CatalogProblem(
                "providers.csv", "", "", f"cannot be read ({exc})", "save the file as UTF-8 CSV"
            )
        )
        return providers
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in reader.fieldnames or [] if c is not None]
    missing = [c for c in _REQUIRED_PROVIDER_COLUMNS if c not in columns]
    if missing:
        problems.append(
            CatalogProblem(
                "providers.csv",
                "header",
                ",".join(columns),
                f"lacks the column(s) {', '.join(missing)}",
                header_fix,
            )
        )
        return providers
    unknown = [c for c in columns if c not in PROVIDER_COLUMNS]
    if unknown:
        problems.append(
            CatalogProblem(
                "providers.csv",
                "header",
                ",".join(unknown),
                "has column(s) the catalogue does not use",
                f"remove them; the columns are {','.join(PROVIDER_COLUMNS)}",
            )
        )
    for line, row in enumerate(reader, start=2):
        clean = {
            k.strip(): (v or "").strip()
            for k, v in row.items()
            if k and k.strip() in PROVIDER_COLUMNS
        }
        model = validate(Provider, clean, "providers.csv", problems, f"row {line}")
        if model is None:
            continue
        if model.ods_code in providers:
            problems.append(
                CatalogProblem(
                    "providers.csv",
                    f"row {line}.ods_code",
                    model.ods_code,
                    "duplicate ODS code",
                    "list each provider once",
                )
            )
        providers[model.ods_code] = model
    return providers
