"""JSON: an array of records (or one record per line), every value read as text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from collectonce.ingest.formats.source import (
    FileRejected,
    ReadLimits,
    Source,
    binary_rejection,
    finish_batch,
    make_finding,
)
from collectonce.ingest.normalise.text import cell_text
from collectonce.validate.findings import Finding


def open_json_source(path: Path, name: str, limits: ReadLimits) -> Source:
    """JSON: a list of records, ``{"rows": [...]}``, ``{"values": [...]}`` or JSON lines.

    Records are numbered from 1 in file order.
    """
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig", errors="replace")
    if "\x00" in text:
        raise binary_rejection("The file holds NUL bytes, so it is not JSON text.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        data = _json_lines(text, exc)
    except RecursionError as exc:
        raise FileRejected(
            "file_unreadable",
            "The JSON is nested too deeply to be a table. Send a list of flat records.",
        ) from exc
    records = data
    if isinstance(data, dict):
        for key in ("rows", "values", "data", "records"):
            if isinstance(data.get(key), list):
                records = data[key]
                break
        else:
            records = [data] if data else []
    if not isinstance(records, list):
        raise FileRejected(
            "file_unrecognised",
            'The JSON holds no list of records. Send a list of objects such as [{"provider_code":'
            ' "RF4", "period": "2019-01", "metric_id": "<catalogue code>", "value": 21289}].',
        )
    header: list[str] = []
    seen: set[str] = set()
    for record in records:
        if isinstance(record, dict):
            for key in record:
                if str(key) not in seen:
                    seen.add(str(key))
                    header.append(str(key))
    source = Source(name=name, format="json", header=header, header_row=0, batches=iter(()))
    findings: list[Finding] = []
    error_rows: list[int] = []
    error_text: list[str] = []
    columns: list[list[str | None]] = [[] for _ in header]
    numbers: list[int] = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            error_rows.append(number)
            error_text.append(json.dumps(record))
            findings.append(
                make_finding(
                    name,
                    "row_shape",
                    "This record is not an object of named fields. Write each record as "
                    '{"provider_code": ..., "period": ..., ...}.',
                    row=number,
                    value=json.dumps(record)[:200],
                )
            )
            continue
        if not record:
            continue
        for i, key in enumerate(header):
            columns[i].append(_json_cell(record.get(key)))
        numbers.append(number)
    cells = [pa.array(col, type=pa.string()) for col in columns]
    batch = finish_batch(cells, np.asarray(numbers, dtype=np.int64), source, False, limits)
    batch.findings = findings + batch.findings
    batch.error_rows = error_rows
    batch.error_text = error_text
    batch.rows_read += len(error_rows)
    source.batches = iter([batch])
    return source


def _json_lines(text: str, first_error: json.JSONDecodeError) -> list[object]:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        raise FileRejected(
            "file_unreadable",
            f"The JSON cannot be read: {first_error.msg} at line {first_error.lineno}, column "
            f"{first_error.colno}. Fix the JSON there (or send CSV).",
        )
    out: list[object] = []
    for number, line in enumerate(lines, start=1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise FileRejected(
                "file_unreadable",
                f"The JSON cannot be read: {exc.msg} on line {number}. Fix that line (or "
                "send CSV).",
            ) from exc
    return out


def _json_cell(value: object) -> str | None:
    if isinstance(value, dict | list):
        return json.dumps(value)
    text = cell_text(value)
    return None if text == "" else text
