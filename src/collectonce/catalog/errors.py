"""Catalogue problems, each naming the file, the field, the bad value and the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from collectonce.errors import CatalogError


@dataclass(frozen=True)
class CatalogProblem:
    file: str
    field: str
    value: str
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        value = f" (got {self.value})" if self.value else ""
        return f"{where}: {self.message}{value}. Fix: {self.fix}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class CatalogInvalid(CatalogError):
    """Raised when the catalogue cannot be used; carries every problem found."""

    def __init__(self, problems: list[CatalogProblem]):
        self.problems = problems
        super().__init__(f"{len(problems)} catalogue problem(s)")
