"""How a run holds its rows: the files, compact per-row codes and keys, and the per-row arrays
that the checks, the history and the message writers share.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as _pc

from collectonce.contracts import VALUE_STATUSES
from collectonce.findings import Finding, Severity
from collectonce.nhs_periods import label_of
from collectonce.validate.gx_runner import Failure
from collectonce.validate.rules import KeyClashes

if TYPE_CHECKING:
    from collectonce.validate.history import Held
    from collectonce.validate.run import ValidationRun

pc: Any = _pc  # its kernels are made at load, unseen by a checker

#: A row's key: file index in the high bits, the row number a person sees in the low bits.
ROW_BITS = 40
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
DAY_OFFSET = 1 << 21
DAY_SPAN = 1 << 22
PROVIDER_SPAN = 1 << 20
STATUS_CODE = {s: i for i, s in enumerate(VALUE_STATUSES)}
REPORTED, SUPPRESSED, MISSING = (STATUS_CODE[s] for s in ("reported", "suppressed", "missing"))
OTHER_STATUS = len(VALUE_STATUSES)


def day_number(value: dt.date) -> int:
    return value.toordinal() - _EPOCH_ORDINAL


def from_day_number(days: int) -> dt.date:
    return dt.date.fromordinal(int(days) + _EPOCH_ORDINAL)


def period_label(value: dt.date, grain: str = "month") -> str:
    """How a period is written for people: 2019-01, 2018/19 Q4 (an NHS quarter), 2018/19 (a
    financial year, stored from 1 April) or 2019 (a calendar year, stored from 1 January)."""
    if grain == "quarter":
        return label_of(value, "quarter")
    if grain == "year":
        return f"{value.year}" if value.month == 1 else label_of(value, "year")
    return f"{value.year}-{value.month:02d}"


@dataclass
class FileInput:
    """One file in a run, as the run knows it."""

    index: int
    name: str
    as_provider: str | None = None
    template: str = "canonical_long"
    rows_read: int = 0
    rows_skipped: int = 0
    file_error: Finding | None = None
    read_findings: list[Finding] = field(default_factory=list)
    read_error_rows: list[np.ndarray] = field(default_factory=list)
    #: The rows rejected while reading, as they were sent (``source_row``, ``sent``).
    read_rejected: list[pa.Table] = field(default_factory=list)


@dataclass
class FileResult:
    """What validation decided about one file."""

    index: int
    name: str
    template: str
    rows_read: int
    rows_rejected: int
    findings: list[Finding]
    file_error: Finding | None
    providers: list[str]
    periods: list[str]
    values_stored: int = 0
    values_unchanged: int = 0
    values_revised: int = 0
    values_duplicate: int = 0
    #: Rows read but deliberately not stored (a published file's total row).
    rows_skipped: int = 0

    @property
    def rows_accepted(self) -> int:
        return max(0, self.rows_read - self.rows_rejected - self.rows_skipped)


@dataclass
class RowBatch:
    """Canonical rows streamed back with the run's decisions, one entry per row."""

    table: pa.Table
    file: np.ndarray  # file index
    store: np.ndarray  # bool: store this value
    rejected: np.ndarray  # bool: the row was rejected
    warnings: pa.Array  # the warning rules of each row, joined with ";" (dictionary, or null)
    reasons: pa.Array  # the error rules of each rejected row, joined with ";" (dictionary)


class TextCodes:
    """Text ↔ small integer, growing as new texts arrive."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.index: dict[str, int] = {}

    def code(self, text: str) -> int:
        found = self.index.get(text)
        if found is None:
            found = len(self.texts)
            self.index[text] = found
            self.texts.append(text)
        return found

    def encode(self, arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Codes of a string array (nulls become the empty string). A dictionary-encoded
        array is coded through its dictionaries: each distinct text once, not each row."""
        n = len(arr)
        if n and arr.null_count == n:
            return np.full(n, self.code(""), dtype=np.int32)
        if pa.types.is_dictionary(arr.type):
            chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
            parts = [self._encode_dictionary(c) for c in chunks]
            if not parts:
                return np.zeros(0, dtype=np.int32)
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        arr = pc.fill_null(arr, "") if arr.null_count else arr
        # One pass of Arrow's hashing, chunk by chunk (the chunks share one growing memo: the
        # last dictionary holds every text, in order of first appearance).
        encoded = arr.dictionary_encode()
        if isinstance(encoded, pa.ChunkedArray):
            chunks = encoded.chunks
            dictionary = max((c.dictionary for c in chunks), key=len, default=pa.array([]))
            indices = np.concatenate(
                [c.indices.to_numpy(zero_copy_only=False) for c in chunks]
                or [np.zeros(0, dtype=np.int32)]
            )
        else:
            dictionary = encoded.dictionary
            indices = encoded.indices.to_numpy(zero_copy_only=False)
        mapping = np.array([self.code(str(t)) for t in dictionary.to_pylist()], dtype=np.int32)
        if len(mapping) == 1:  # one value throughout (a long file's column)
            return np.full(n, mapping[0], dtype=np.int32)
        return mapping[indices] if len(mapping) else np.zeros(n, dtype=np.int32)

    def _encode_dictionary(self, chunk: pa.DictionaryArray) -> np.ndarray:
        texts = chunk.dictionary.cast(pa.string()).to_pylist()
        indices = chunk.indices
        if indices.null_count:  # null rows take the slot after the dictionary's texts
            indices = pc.fill_null(indices, len(texts))
        at = np.asarray(indices.to_numpy(zero_copy_only=False))
        # Only the texts some row uses get a code (a dictionary may hold others).
        used = np.bincount(at, minlength=len(texts) + 1) > 0
        mapping = np.full(len(texts) + 1, -1, dtype=np.int32)
        for i in np.flatnonzero(used).tolist():
            mapping[i] = self.code((texts[i] if i < len(texts) else None) or "")
        return mapping[at]


@dataclass
class Listed:
    """Rows to list for one rule, before messages are written."""

    rule: str
    severity: Severity
    positions: np.ndarray
    column: str | None = None


@dataclass
class RowCodes:
    """A run's rows as compact arrays, one entry per canonical value, in the order added."""

    row: np.ndarray  # int64: the row number a person sees in the file
    group: np.ndarray  # int32: the row's file × provider × period
    metric: np.ndarray  # int32: code of its metric_id text (`ValidationRun._metrics`)
    status: np.ndarray  # int16: code of its value_status text (`ValidationRun._statuses`)
    value: np.ndarray  # float64: NaN where there is no number
    column: np.ndarray  # int32: code of its source column (`ValidationRun._columns`)


@dataclass
class Decisions:
    """What `ValidationRun.finish` decided, one entry per canonical value."""

    store: np.ndarray  # bool: store this value
    rejected: np.ndarray  # bool: its source row was rejected
    file: np.ndarray  # the file index


class Context:
    """Per-row arrays shared by the checks and the message writer.

    The row's file, provider, period (day number) and key follow from its file × provider ×
    period group; each is worked out the first time a check asks for it (a clean bulk load
    asks for few of them). In a run of one file, `file_of` is a read-only broadcast of its
    index and `key` is the source row itself, so neither takes memory per row.
    """

    def __init__(
        self,
        run: ValidationRun,
        r: RowCodes,
        groups: GroupCodes,
        mpos: np.ndarray,
        status: np.ndarray,
    ) -> None:
        self.run = run
        self.r = r
        self.groups = groups
        self.mpos = mpos
        self.status = status
        self.clashes: KeyClashes | None = None
        self.wide = np.zeros((0, 0))
        self.from_store = np.zeros((0, 0), dtype=bool)
        self.wide_failures: list[Failure] = []
        self.clash_rows: dict[int, list[int]] = {}
        #: Per flagged row: median, low, high and periods of its history.
        self.outlier: dict[int, tuple[float, float, float, int]] = {}
        self.held: Held | None = None

    def cells_of(self, rows: slice) -> np.ndarray:
        """The cell of each row of a block: its group × collected metric, numbered
        ``group * metrics + metric position`` (-1 for a row of no collected metric)."""
        mpos = self.mpos[rows]
        cell = self.r.group[rows].astype(np.int64)
        cell *= max(len(self.run.metric_codes), 1)
        cell += mpos
        cell[mpos < 0] = -1
        return cell

    @functools.cached_property
    def cell(self) -> np.ndarray:
        """The cell of every row (see `cells_of`)."""
        return self.cells_of(slice(None))

    @functools.cached_property
    def file_of(self) -> np.ndarray:
        """The file index of each row."""
        only = self.groups.only_file
        if only is not None:
            return np.broadcast_to(np.int32(only), (len(self.r.group),))
        return self.groups.file[self.r.group]

    @functools.cached_property
    def provider(self) -> np.ndarray:
        """The provider code of each row."""
        return self.groups.provider[self.r.group]

    @functools.cached_property
    def day(self) -> np.ndarray:
        """The period of each row, as days since 1970-01-01."""
        return self.groups.day[self.r.group]

    @functools.cached_property
    def key(self) -> np.ndarray:
        """Each row's key: file index in the high bits, source row in the low bits."""
        only = self.groups.only_file
        if only == 0:
            return self.r.row
        if only is not None:
            return self.r.row | (np.int64(only) << ROW_BITS)
        return (self.file_of.astype(np.int64) << ROW_BITS) | self.r.row


@dataclass(frozen=True)
class GroupCodes:
    """A run's file × provider × period groups: the file, provider code and period of each."""

    file: np.ndarray  # int32
    provider: np.ndarray  # int32
    day: np.ndarray  # int32: days since 1970-01-01

    @functools.cached_property
    def only_file(self) -> int | None:
        """The file of every group, when they all belong to one file."""
        if not len(self.file):
            return 0
        first = int(self.file[0])
        return first if bool((self.file == first).all()) else None


@dataclass
class Checked:
    """What `ValidationRun.check` found, for `finish`."""

    ctx: Context
    group_file: np.ndarray
    #: Errors and warnings so far, in the order findings are listed; the provider × period
    #: suite's errors go in at `errors_at`.
    errors: list[Listed] = field(default_factory=list)
    warnings: list[Listed] = field(default_factory=list)
    errors_at: int = 0
    has_cell: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: Rows that take part in the provider × period suite.
    wide_cells: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: The provider × period pivot of the run's own reported values, and its metrics that
    #: take part in a cross-metric rule.
    own: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    partners: list[int] = field(default_factory=list)
    wide_failures: list[Failure] = field(default_factory=list)
