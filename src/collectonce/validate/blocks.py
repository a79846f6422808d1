"""Per-row work in blocks of rows, so that a run of ten million values needs no ten-million
entry temporaries.

A check such as "a count with a fraction" is a few element-wise steps over every row; done over
whole columns, each step makes a new array as long as the run (80 MB for ten million float64),
and arrays that large are mapped fresh from the system each time and faulted in page by page.
Done a block at a time, the temporaries are a few megabytes and the allocator reuses them; what
is kept is the positions of the rows found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

#: Rows per block: the temporaries of one block stay in the allocator's reusable heap.
BLOCK_ROWS = 1 << 19


def blocks(n: int, size: int | None = None) -> Iterator[slice]:
    """Consecutive slices covering rows 0 … n-1, each at most `size` (`BLOCK_ROWS`) long."""
    size = max(1, size or BLOCK_ROWS)
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def row_positions(
    n: int, test: Callable[[slice], np.ndarray], size: int | None = None
) -> np.ndarray:
    """The rows (ascending positions) for which `test`, applied block by block, is true."""
    found = [np.flatnonzero(test(rows)) + rows.start for rows in blocks(n, size)]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.intp)
