"""Receive a multipart upload as a stream, to a private temp file, with the size limit enforced
while reading (a too-large upload is refused before it is ever held whole)."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from collectonce.errors import ApiError

#: Room for multipart boundaries, part headers and small extra fields around the file.
ENVELOPE_BYTES = 64 * 1024
FILE_FIELD = "file"
_SUFFIX_RE = re.compile(r"^\.[a-z0-9]{1,8}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class UploadTooLarge(ApiError):
    """The upload is larger than the limit; the message says so in one line."""


class UploadInvalid(ApiError):
    """The request is not a usable multipart upload; the message says how to send one."""


@dataclass
class ReceivedFile:
    path: Path
    original_name: str
    size: int
    #: Small text fields sent beside the file (a web form's CSRF token), by name.
    fields: dict[str, str] = field(default_factory=dict)


def clean_filename(raw: str) -> str:
    """The base name of a client-supplied file name, without folders or control characters."""
    name = re.split(r"[\\/]", raw)[-1]
    name = _CONTROL_RE.sub("", name).strip().lstrip(".")
    return name[:200] or "upload"


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if _SUFFIX_RE.match(suffix) else ""


@dataclass
class _Collector:
    dest_dir: Path
    max_bytes: int
    header_name: bytes = b""
    header_value: bytes = b""
    disposition: bytes = b""
    in_file: bool = False
    file_fd: int | None = None
    received: ReceivedFile | None = None
    extra_bytes: int = 0
    parts: int = 0
    field_name: str | None = None
    fields: dict[str, bytes] = field(default_factory=dict)

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > 16:
            raise UploadInvalid("too many parts: send one file in a field named `file`")
        self.disposition = b""
        self.in_file = False
        self.field_name = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.strip().lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        name = options.get(b"name", b"").decode("latin-1")
        filename = options.get(b"filename")
        if filename is None and name and name != FILE_FIELD:
            self.field_name = name
            self.fields.setdefault(name, b"")
            return
        if name != FILE_FIELD or not filename or self.received is not None:
            return
        original = clean_filename(filename.decode("utf-8", errors="replace"))
        self.dest_dir.mkdir(parents=True, exist_ok=True)
        path = self.dest_dir / f"upload-{secrets.token_hex(8)}{_suffix(original)}"
        self.file_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.received = ReceivedFile(path=path, original_name=original, size=0)
        self.in_file = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self.in_file and self.received is not None and self.file_fd is not None:
            self.received.size += size
            if self.received.size > self.max_bytes:
                raise UploadTooLarge(_too_large(self.max_bytes))
            os.write(self.file_fd, data[start:end])
        else:
            self.extra_bytes += size
            if self.extra_bytes > ENVELOPE_BYTES:
                raise UploadInvalid("fields other than `file` are too large; send the file only")
            if self.field_name is not None:
                self.fields[self.field_name] += data[start:end]

    def on_part_end(self) -> None:
        if self.in_file and self.file_fd is not None:
            os.close(self.file_fd)
            self.file_fd = None
        self.in_file = False

    def cleanup(self) -> None:
        if self.file_fd is not None:
            os.close(self.file_fd)
            self.file_fd = None
        if self.received is not None:
            self.received.path.unlink(missing_ok=True)


def _too_large(limit: int) -> str:
    return (
        f"the upload is larger than the limit of {limit / 1024 / 1024:.0f} MB "
        f"({limit:,} bytes); split the file by period or provider"
    )


async def receive_upload(request: Request, dest_dir: Path, max_bytes: int) -> ReceivedFile:
    """Stream the request's multipart body; save the part named ``file`` under ``dest_dir``.

    Raises UploadTooLarge as soon as the file (or the whole body) passes the limit, and
    UploadInvalid for anything that is not one file in a multipart/form-data body. On failure
    nothing is left behind.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadInvalid("send the file as multipart/form-data in a field named `file`")
    limit = max_bytes + ENVELOPE_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge(_too_large(max_bytes))
    collector = _Collector(dest_dir=dest_dir, max_bytes=max_bytes)
    callbacks = {
        name: getattr(collector, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    try:
        try:
            parser = MultipartParser(params[b"boundary"], callbacks)  # type: ignore[arg-type]
        except (FormParserError, ValueError) as exc:
            raise UploadInvalid("the multipart boundary is not valid") from exc
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise UploadTooLarge(_too_large(max_bytes))
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise UploadInvalid("the multipart body is malformed") from exc
        try:
            parser.finalize()
        except FormParserError as exc:
            raise UploadInvalid("the multipart body is malformed") from exc
        if collector.received is None:
            raise UploadInvalid("no file found: send it in a multipart field named `file`")
        if collector.file_fd is not None:
            raise UploadInvalid("the multipart body ended in the middle of the file")
        collector.received.fields = {
            k: v.decode("utf-8", errors="replace") for k, v in collector.fields.items()
        }
        return collector.received
    except BaseException:
        collector.cleanup()
        raise
