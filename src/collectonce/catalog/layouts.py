"""The built-in file layouts mapped through the catalogue: which columns of a file in a published
layout make up which catalogue metric, as written in ``catalog/layouts/*.yaml``.

A layout file names the layout it describes (``layout:``), the headings each of its columns has
had over the years, and the metric each column (or sum of columns) is stored as. The ingest
readers hold only the reading logic; a data team adding a new wording of a heading edits the
YAML. A receipt and its lineage carry the layout's name; reports show its title.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from collectonce.catalog.errors import CatalogProblem
from collectonce.suggest import closest

#: NHS England's A&E statistics layout, one row per department type.
AE_BY_TYPE = "nhse_ae_by_department_type"
AE_BY_TYPE_TITLE = "NHS England A&E statistics layout (one row per department type)"

#: NHS England's published monthly A&E file, one row per organisation.
AE_PUBLISHED = "nhse_ae_published_monthly"
AE_PUBLISHED_TITLE = "NHS England's published monthly A&E file (one row per organisation)"

#: Each built-in layout's title, by name.
LAYOUT_TITLES: dict[str, str] = {
    AE_BY_TYPE: AE_BY_TYPE_TITLE,
    AE_PUBLISHED: AE_PUBLISHED_TITLE,
}

#: A department class as written in a layout file → as the reader names it.
DEPARTMENT_CLASSES: dict[str, str] = {"type_1": "1", "type_2": "2", "other": "other"}

Headings = list[str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Measure(_Strict):
    """One measure column of the by-department-type layout."""

    headings: Headings = Field(min_length=1, description="the headings the column is given")
    metrics: dict[Literal["type_1", "type_2", "other"], str] = Field(
        min_length=1,
        description="department class → the catalogue metric the measure is stored as; a "
        "metric named for several classes is their sum",
    )


class ByTypeLayout(_Strict):
    """``layout: nhse_ae_by_department_type``: one row per provider, month and department type."""

    layout: Literal["nhse_ae_by_department_type"]
    description: str = ""
    type_column: Headings = Field(min_length=1, description="headings of the department type")
    department_types: dict[
        Literal["type_1", "type_2", "type_3", "type_4", "other", "total"], Headings
    ] = Field(
        min_length=1,
        description="how each department type is written in the type column; `other` is "
        "types 3 and 4 together, `total` marks a total row (not stored)",
    )
    measures: dict[str, Measure] = Field(min_length=1)

    def type_words(self) -> dict[str, list[str]]:
        """Department type (``1``, ``2``, ``3``, ``4``, ``other``, ``total``) → its words."""
        return {name.removeprefix("type_"): words for name, words in self.department_types.items()}

    def metric_map(self) -> dict[tuple[str, str], str]:
        """(department class, measure) → catalogue metric."""
        return {
            (DEPARTMENT_CLASSES[klass], measure): code
            for measure, spec in self.measures.items()
            for klass, code in spec.metrics.items()
        }


class Sum(_Strict):
    """A metric as the sum of some columns: all of `required`, and those of `optional` present."""

    required: list[str] = Field(min_length=1)
    optional: list[str] = []


class PublishedLayout(_Strict):
    """``layout: nhse_ae_published_monthly``: one row per organisation and month."""

    layout: Literal["nhse_ae_published_monthly"]
    description: str = ""
    label_columns: Headings = Field(
        default=[], description="headings describing the organisation (read for total rows)"
    )
    total_rows: Headings = Field(
        default=[],
        description="what marks the national total row in the organisation, period or name column",
    )
    columns: dict[str, Headings] = Field(
        min_length=1, description="column name → every heading it has been published under"
    )
    metrics: dict[str, list[Sum]] = Field(
        min_length=1, description="catalogue metric → the ways the file gives it, preferred first"
    )


Layout = ByTypeLayout | PublishedLayout
#: Each layout's model, by the name its file gives under ``layout:``.
LAYOUT_MODELS: dict[str, type[ByTypeLayout] | type[PublishedLayout]] = {
    AE_BY_TYPE: ByTypeLayout,
    AE_PUBLISHED: PublishedLayout,
}


def layout_json_schema() -> dict[str, Any]:
    """The JSON Schema of a layout file: one of the layouts, told apart by ``layout:``."""
    adapter: TypeAdapter[Layout] = TypeAdapter(
        Annotated[ByTypeLayout | PublishedLayout, Field(discriminator="layout")]
    )
    return adapter.json_schema()


def _unknown_metric(rel: str, where: str, code: str, metrics: Collection[str]) -> CatalogProblem:
    close = closest(code, metrics)
    fix = f"did you mean `{close}`?" if close else "add the metric under catalog/metrics/"
    return CatalogProblem(rel, where, code, "is not a metric in the catalogue", fix)


def check_layout(layout: Layout, rel: str, metrics: Collection[str] | None) -> list[CatalogProblem]:
    """Every metric a layout stores is in the catalogue (`metrics`: the known codes; None when
    there are none to check against), and every column it adds up exists."""
    found: list[CatalogProblem] = []
    if isinstance(layout, ByTypeLayout):
        for measure, spec in layout.measures.items():
            for klass, code in spec.metrics.items():
                if metrics is not None and code not in metrics:
                    where = f"measures.{measure}.metrics.{klass}"
                    found.append(_unknown_metric(rel, where, code, metrics))
        return found
    for code, ways in layout.metrics.items():
        if metrics is not None and code not in metrics:
            found.append(_unknown_metric(rel, f"metrics.{code}", code, metrics))
        for i, way in enumerate(ways):
            for key in ("required", "optional"):
                for part in getattr(way, key):
                    if part in layout.columns:
                        continue
                    close = closest(part, layout.columns)
                    found.append(
                        CatalogProblem(
                            rel,
                            f"metrics.{code}[{i}].{key}",
                            part,
                            "is not one of the layout's columns",
                            f"did you mean `{close}`?"
                            if close
                            else "add it under `columns:` with its headings",
                        )
                    )
    return found


def load_layouts(
    root: Path,
    metrics: Collection[str] | None,
    problems: list[CatalogProblem],
    read: Callable[[Path], Any],
    validate: Callable[[type[BaseModel], Any, str], BaseModel | None],
) -> tuple[dict[str, Layout], dict[str, str]]:
    """Every layout under ``layouts/`` (by layout name) and the file each came from."""
    layouts: dict[str, Layout] = {}
    files: dict[str, str] = {}
    for path in sorted((root / "layouts").glob("*.yaml")):
        rel = path.relative_to(root).as_posix()
        data = read(path)
        name = data.get("layout") if isinstance(data, dict) else None
        model = LAYOUT_MODELS.get(str(name))
        if isinstance(data, dict) and model is None:
            close = closest(str(name), LAYOUT_MODELS) if name else None
            problems.append(
                CatalogProblem(
                    rel,
                    "layout",
                    "" if name is None else str(name),
                    "does not name a layout collectonce reads",
                    f"did you mean `{close}`?"
                    if close
                    else f"write `layout:` with one of {', '.join(LAYOUT_MODELS)}",
                )
            )
            continue
        layout = validate(model or ByTypeLayout, data, rel)
        if not isinstance(layout, ByTypeLayout | PublishedLayout):
            continue
        if layout.layout in layouts:
            problems.append(
                CatalogProblem(
                    rel,
                    "layout",
                    layout.layout,
                    f"describes a layout {files[layout.layout]} already describes",
                    "keep one file per layout",
                )
            )
            continue
        problems.extend(check_layout(layout, rel, metrics))
        layouts[layout.layout] = layout
        files[layout.layout] = rel
    return layouts, files


def by_type_layout(layouts: Mapping[str, Layout]) -> ByTypeLayout | None:
    found = layouts.get(AE_BY_TYPE)
    return found if isinstance(found, ByTypeLayout) else None


def published_layout(layouts: Mapping[str, Layout]) -> PublishedLayout | None:
    found = layouts.get(AE_PUBLISHED)
    return found if isinstance(found, PublishedLayout) else None
