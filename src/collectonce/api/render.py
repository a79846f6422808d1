"""Answers as bytes: a frame rendered as JSON, CSV, Parquet or XLSX (whole and cacheable, or
streamed when large), and the HTTP response that carries it, gzipped for clients that accept it.
"""

from __future__ import annotations

import gzip
import tempfile
from collections.abc import Iterator
from io import BufferedReader, BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from collectonce.api.cache import Rendered
from collectonce.publish.exports import MEDIA_TYPES, iter_csv_chunks, iter_json_chunks, write_export

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog

#: Answers up to this many rows are rendered whole (and cached); larger ones stream.
STREAM_ABOVE_ROWS = 100_000
#: Whole JSON and CSV answers at least this big are also kept gzipped, for clients that accept it.
GZIP_ABOVE = 1024
#: A cached body is sent in pieces of this size, each waiting for the connection to drain, so
#: many clients pulling large answers at once share the server fairly.
SEND_PIECE = 256 * 1024


def render(
    df: pd.DataFrame,
    fmt: str,
    meta: dict[str, Any],
    stem: str,
    units: dict[str, str] | None = None,
    *,
    version: int | None = None,
) -> Rendered:
    """`df` in the format asked for: whole bytes up to ``STREAM_ABOVE_ROWS`` rows (JSON and
    CSV also gzipped once, here), a stream of chunks above."""
    rows = len(df)
    filename = None if fmt == "json" else f"{stem}.{fmt}"
    if fmt in ("json", "csv"):
        chunks = (
            iter_json_chunks(df, {**meta, "row_count": rows})
            if fmt == "json"
            else iter_csv_chunks(df)
        )
        if rows > STREAM_ABOVE_ROWS:
            return Rendered(MEDIA_TYPES[fmt], rows, chunks=chunks, filename=filename)
        body = b"".join(chunks)
        # compressed once here (text shrinks ~10x), then served to every client that accepts it
        packed = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_ABOVE else None
        return Rendered(
            MEDIA_TYPES[fmt], rows, body=body, filename=filename, gzipped=packed, version=version
        )
    if fmt == "xlsx" and rows > STREAM_ABOVE_ROWS:
        # A large workbook is written row by row to a temporary file (flat memory), then
        # streamed from it; held whole in memory it would cost about 1.4 KB per row.
        chunks = file_chunks(xlsx_file(df, meta, units))
        return Rendered(MEDIA_TYPES[fmt], rows, chunks=chunks, filename=filename)
    buffer = BytesIO()
    write_export(df, fmt, buffer, meta=meta, units=units)
    return Rendered(
        MEDIA_TYPES[fmt], rows, body=buffer.getvalue(), filename=filename, version=version
    )


def xlsx_file(
    df: pd.DataFrame, meta: dict[str, Any] | None = None, units: dict[str, str] | None = None
) -> BufferedReader:
    """`df` as an XLSX file written in constant memory, opened for reading and already deleted:
    the bytes live until the handle is closed, so nothing is left behind if a client goes."""
    with tempfile.TemporaryDirectory(prefix="collectonce-xlsx-") as folder:
        path = Path(folder) / "answer.xlsx"
        write_export(df, "xlsx", path, meta=meta, units=units)
        return path.open("rb")


def file_chunks(handle: BufferedReader, size: int = 1024 * 1024) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(size):
            yield chunk


def accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class BodyResponse(Response):
    """A whole body sent in pieces (see ``SEND_PIECE``): the same bytes and Content-Length as a
    plain ``Response``, without one large answer holding the connection's writes to itself."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = memoryview(self.body)
        if len(body) <= SEND_PIECE or scope.get("method") == "HEAD":
            await super().__call__(scope, receive, send)
            return
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        for start in range(0, len(body), SEND_PIECE):
            end = start + SEND_PIECE
            await send(
                {
                    "type": "http.response.body",
                    "body": body[start:end],  # a view of the cached bytes, not a copy
                    "more_body": end < len(body),
                }
            )


def respond(request: Request, rendered: Rendered, version: int) -> Response:
    """The HTTP answer for `rendered`: streamed, or the cached body (gzipped when the client
    accepts it and a gzipped copy exists)."""
    headers = {"X-Publication-Version": str(version), "Cache-Control": "private, no-store"}
    if rendered.filename:
        headers["Content-Disposition"] = f'attachment; filename="{rendered.filename}"'
    if rendered.chunks is not None:
        return StreamingResponse(rendered.chunks, media_type=rendered.media_type, headers=headers)
    body = rendered.body
    if rendered.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
        if accepts_gzip(request):
            headers["Content-Encoding"] = "gzip"
            body = rendered.gzipped
    return BodyResponse(body, media_type=rendered.media_type, headers=headers)


def units_of(catalog: Catalog) -> dict[str, str]:
    """Each metric's unit, so a workbook formats its values as counts or percentages."""
    return {code: metric.unit for code, metric in catalog.metrics.items()}


def stem(*parts: object) -> str:
    """A download's file name without its extension: the non-empty parts joined by ``_``."""
    return "_".join(str(p) for p in parts if p is not None)


def jsonable(obj: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN and infinities as null, the rest as text."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    return str(obj)
