"""How a figure reads to a person: thousands separators, a % sign for percentages, £ for money.

Every door (packs, charts, the overview, `collectonce rollup`, `collectonce spc`) writes a value
the same way; the metric, when known, says whether it is a count, a percentage or money.
"""

from __future__ import annotations

import math
from typing import Any, Protocol


class Measured(Protocol):
    """What `format_value` reads of a metric: its unit and value type."""

    @property
    def unit(self) -> str: ...

    @property
    def value_type(self) -> str: ...


def format_value(value: Any, metric: Measured | None = None) -> str:
    """A value as a person reads it: thousands separators, a % sign for percentages."""
    if value is None:
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return ""
    unit = metric.unit if metric else ""
    integer = metric is not None and metric.value_type == "integer" and unit != "percent"
    if (integer and abs(number - round(number)) < 1e-9) or abs(number) >= 1000:
        text = f"{number:,.0f}"
    elif unit in {"percent", "rate"} or abs(number) >= 10:
        text = f"{number:,.1f}"
    else:
        text = f"{number:,.2f}"
    if unit == "percent":
        return f"{text}%"
    if unit in {"gbp"}:
        return f"£{text}"
    if unit == "gbp_thousands":
        return f"£{text}k"
    return text
