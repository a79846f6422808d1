"""Arrow schemas of the tables every stage shares. Generated into schemas/ for review."""

from __future__ import annotations

import pyarrow as pa

#: How a value arrived: a number (zero included), the small-number suppression marker, or blank.
VALUE_STATUSES = ("reported", "suppressed", "missing")

#: One canonical row as read from a provider's file, before validation.
CANONICAL_ROWS = pa.schema(
    [
        pa.field("provider_code", pa.string(), nullable=False),
        pa.field("period", pa.date32(), nullable=False),
        pa.field("metric_id", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("value_status", pa.string(), nullable=False),
        pa.field("comment", pa.string()),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("source_column", pa.string()),
    ],
    metadata={"description": "Canonical long rows: one value per provider, period and metric."},
)

#: The submissions table: every accepted value of every version, with its lineage.
SUBMISSION_VALUES = pa.schema(
    [
        pa.field("submission_id", pa.string(), nullable=False),
        pa.field("file_sha256", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("source_template", pa.string(), nullable=False),
        pa.field("provider_code", pa.string(), nullable=False),
        pa.field("period", pa.date32(), nullable=False),
        pa.field("metric_id", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("value_status", pa.string(), nullable=False),
        pa.field("comment", pa.string()),
        pa.field("warnings", pa.string()),
        pa.field("submitted_by", pa.string(), nullable=False),
        pa.field("received_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ],
    metadata={"description": "Every accepted value, every revision, with lineage."},
)

#: The unified table: one current value per provider, period and metric, derived included.
UNIFIED = pa.schema(
    [
        pa.field("provider_code", pa.string(), nullable=False),
        pa.field("period", pa.date32(), nullable=False),
        pa.field("metric_id", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("value_status", pa.string(), nullable=False),
        pa.field("is_derived", pa.bool_(), nullable=False),
        pa.field("is_late", pa.bool_(), nullable=False),
        pa.field("revision", pa.int32(), nullable=False),
        pa.field("submission_id", pa.string()),
        pa.field("file_sha256", pa.string()),
        pa.field("source_row", pa.int64()),
        pa.field("received_at", pa.timestamp("us", tz="UTC")),
        pa.field("comment", pa.string()),
    ],
    metadata={"description": "One published value per provider x period x metric."},
)

#: Roll-ups: one value per level (region, england) x code x period x metric, with coverage.
LEVELS = pa.schema(
    [
        pa.field("level", pa.string(), nullable=False),
        pa.field("code", pa.string(), nullable=False),
        pa.field("period", pa.date32(), nullable=False),
        pa.field("metric_id", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("numerator", pa.float64()),
        pa.field("denominator", pa.float64()),
        pa.field("providers", pa.int32(), nullable=False),
        pa.field("providers_expected", pa.int32(), nullable=False),
        pa.field("partial", pa.bool_(), nullable=False),
    ],
    metadata={"description": "Roll-ups of one publication to regions and England."},
)

ALL_SCHEMAS: dict[str, pa.Schema] = {
    "canonical_rows": CANONICAL_ROWS,
    "submission_values": SUBMISSION_VALUES,
    "unified": UNIFIED,
    "levels": LEVELS,
}


def schema_to_json(schema: pa.Schema) -> dict[str, object]:
    """A reviewable JSON description of an Arrow schema."""
    meta = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    return {
        "description": meta.get("description", ""),
        "fields": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
    }


def with_dictionaries(schema: pa.Schema, names: tuple[str, ...]) -> pa.Schema:
    """`schema` with the text columns in `names` dictionary-encoded (int32 indices), as batches
    are handed to the Parquet writer, which stores them as plain text."""
    return pa.schema(
        [
            pa.field(f.name, pa.dictionary(pa.int32(), pa.string()), nullable=f.nullable)
            if f.name in names
            else f
            for f in schema
        ],
        metadata=schema.metadata,
    )


#: The text columns of canonical rows that repeat a few values over many rows.
CODED_COLUMNS = ("provider_code", "metric_id", "value_status", "source_column")
#: Canonical rows as the readers give them and a validation run keeps them: `CANONICAL_ROWS`
#: with the columns of `CODED_COLUMNS` dictionary-encoded, so each distinct text is normalised,
#: checked and coded once instead of once per row.
CODED_ROWS = with_dictionaries(CANONICAL_ROWS, CODED_COLUMNS)
