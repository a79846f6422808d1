"""A column of per-row codes that grows batch by batch, in place.

A run is fed a million rows at a time and checks them all at once. Keeping each batch's array
and joining them at the end holds every row twice at that moment (the parts and the whole) and
writes the whole into fresh memory. A `GrowingColumn` instead extends one array as each batch
arrives (the allocator moves a large block without copying it), so the run holds each row once
and the whole column is ready when the checks start.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike


class GrowingColumn:
    """One column of per-row values, appended to batch by batch."""

    def __init__(self, dtype: DTypeLike) -> None:
        self._data = np.empty(0, dtype=dtype)

    def __len__(self) -> int:
        return len(self._data)

    def append(self, values: np.ndarray) -> None:
        """Add `values` (cast to the column's type) after the rows already held."""
        start = len(self._data)
        # The array owns its memory and no view of it has been handed out (see `take`).
        self._data.resize(start + len(values), refcheck=False)
        self._data[start:] = values

    def take(self) -> np.ndarray:
        """Every row appended so far, as one array; the column starts again empty."""
        data, self._data = self._data, np.empty(0, dtype=self._data.dtype)
        return data
