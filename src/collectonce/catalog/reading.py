"""Reading one catalogue file: YAML that refuses duplicate keys, and pydantic validation whose
errors name the file, the field (with the item's code) and a fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from collectonce.catalog.errors import CatalogProblem
from collectonce.catalog.suggest import suggest_code
from collectonce.errors import CatalogError

#: libyaml's safe loader when available: ten times faster than the pure-Python one.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(CatalogError, yaml.YAMLError):
    """A key given twice in one mapping: YAML would silently keep the last one."""

    def __init__(self, key: str, mark: Any, first: Any) -> None:
        super().__init__(key)
        self.problem = (
            f"the key `{key}` appears twice in one mapping (first on line {first.line + 1})"
        )
        self.problem_mark = mark
        self.fix = f"keep one `{key}:` line and delete the other"


class _CatalogLoader(_YAML_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader, refusing duplicate keys and leaving impossible dates to the models."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[str, Any] = {}
        for key_node, _value in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in first:
                    raise _DuplicateKey(key_node.value, key_node.start_mark, first[key_node.value])
                first[key_node.value] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def construct_tolerant_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)  # e.g. 2016-13-01: the model names the field


_CatalogLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _CatalogLoader.construct_tolerant_timestamp
)

#: What `read_yaml` returns for a file it could not read or parse (already reported).
UNREADABLE: Any = object()

_FIXES = {
    "missing": "add the field",
    "extra_forbidden": "remove the field, or check its spelling against catalog/README.md",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use lower-case snake_case letters, digits and underscores",
    "date_from_datetime_parsing": "write the date as YYYY-MM-DD",
    "date_parsing": "write the date as YYYY-MM-DD",
    "float_parsing": "write a number",
    "int_parsing": "write a whole number",
    "bool_parsing": "write true or false",
    "too_short": "add at least one entry",
    "string_too_short": "write a longer, meaningful text",
    "greater_than": "write a positive number",
    "item_not_mapped": (
        "add `metric: <catalogue code>` (see `collectonce requests suggest`), or "
        '`unmapped_reason: "why the catalogue does not hold it"`'
    ),
    "item_mapped_twice": "keep one of them: an unmapped item has no metric",
    "expression_syntax": "write metric codes joined by + or -, e.g. `a + b - c`",
}


def read_yaml(
    path: Path, root: Path, problems: list[CatalogProblem], seen: dict[str, bytes] | None = None
) -> Any:
    """The parsed file, or UNREADABLE after reporting why it cannot be read or parsed."""
    rel = path.relative_to(root).as_posix()
    try:
        raw = path.read_bytes()
        if seen is not None:
            seen[rel] = raw
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(
            CatalogProblem(rel, "", "", f"cannot be read ({exc})", "save the file as UTF-8 text")
        )
        return UNREADABLE
    try:
        return yaml.load(text, Loader=_CatalogLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fix = getattr(exc, "fix", None) or (
            "check indentation and quoting at that position (quote values containing ': ')"
        )
        problems.append(CatalogProblem(rel, where, "", f"is not valid YAML: {reason}", fix))
        return UNREADABLE
    except Exception as exc:  # a catalogue file must never end in a traceback
        problems.append(
            CatalogProblem(
                rel, "", "", f"cannot be parsed ({exc})", "check the file against catalog/README.md"
            )
        )
        return UNREADABLE


M = TypeVar("M", bound=BaseModel)


def _location(loc: tuple[Any, ...], data: Any) -> str:
    """`items[3] (X1).metric` from pydantic's ("items", 3, "metric"), naming the item's code."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list | tuple) and part < len(node) else None
            if isinstance(node, dict) and node.get("their_code") not in (None, ""):
                out += f" ({node['their_code']})"
        else:
            out += f".{part}"
            node = node.get(part) if isinstance(node, dict) else None
    return out.lstrip(".")


def validate(
    model: type[M], data: Any, rel: str, problems: list[CatalogProblem], prefix: str = ""
) -> M | None:
    if data is UNREADABLE:
        return None
    if data is None and not prefix:
        problems.append(
            CatalogProblem(
                rel, "", "", "is empty", "write the fields described in catalog/README.md"
            )
        )
        return None
    if not isinstance(data, dict):
        problems.append(
            CatalogProblem(
                rel,
                prefix,
                type(data).__name__,
                "must be a mapping of field: value",
                "write one field per line as `name: value`",
            )
        )
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = _location(tuple(err["loc"]), data)
            field_name = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
            given = err.get("input")
            value = "" if err["type"] == "missing" or isinstance(given, dict) else repr(given)
            message = err["msg"].removeprefix("Value error, ")
            fix = _FIXES.get(err["type"], "correct the value")
            if err["type"] == "string_pattern_mismatch":
                pattern = str((err.get("ctx") or {}).get("pattern", ""))
                if "A-Z" in pattern:
                    message = "is not an ODS code"
                    fix = "use an ODS code: 3 to 6 upper-case letters and digits"
                else:
                    message = "is not a valid code"
                    fix = (
                        "use lower-case snake_case (letters, digits and underscores, starting "
                        f"with a letter), e.g. {suggest_code(given)}"
                    )
            if err["type"] == "literal_error":
                fix = f"use {message.removeprefix('Input should be ')}"
            problems.append(CatalogProblem(rel, field_name, value[:80], message, fix))
        return None
