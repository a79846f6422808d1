"""Typed settings. Every setting can be given as an environment variable prefixed COLLECTONCE_."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where collectonce keeps its state and the limits it enforces."""

    model_config = SettingsConfigDict(env_prefix="COLLECTONCE_", extra="ignore")

    home: Path = Field(
        default=Path(".collectonce"),
        description="The data folder: archive, tables, tokens, receipts and the audit log.",
    )
    catalog: Path = Field(default=Path("catalog"), description="The catalogue folder.")
    max_upload_bytes: int = Field(
        default=50 * 1024 * 1024, description="Files larger than this are rejected whole."
    )
    max_uncompressed_bytes: int = Field(
        default=200 * 1024 * 1024,
        description="Workbooks that expand beyond this are rejected as possible zip bombs.",
    )
    max_field_chars: int = Field(
        default=10_000, description="Text cells longer than this are truncated with a finding."
    )
    archive_url: str | None = Field(
        default=None,
        description="Where received files are archived: a folder or an fsspec URL (s3://, az://);"
        " unset means archive/ in the data folder.",
    )
    landing_url: str | None = Field(
        default=None,
        description="The landing folder providers drop files into: a folder or an fsspec URL;"
        " unset means landing/ in the data folder.",
    )
    dask_address: str | None = Field(
        default=None, description="A Dask scheduler address; unset means a local cluster."
    )
    dask_workers: int = Field(default=2, description="Workers for the local Dask cluster.")
    batch_rows: int = Field(default=1_000_000, description="Rows per streamed ingest batch.")
    archive_link: bool = Field(
        default=True,
        description="Hard-link a received file into a local archive on the same filesystem"
        " instead of copying it (the file becomes read-only: it is the archived copy).",
    )
    data_docs: bool = Field(
        default=True,
        description="Render Great Expectations Data Docs of every validation (gx_project/).",
    )
    outlier_mad_threshold: float = Field(
        default=6.0, description="Warn when a value is this many scaled MADs from its history."
    )
    response_cache_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=0,
        description="The API keeps serialised answers in memory up to this many bytes, so a"
        " repeat pull is a memory copy; 0 turns the cache off.",
    )
    keep_alive_seconds: int = Field(
        default=75,
        ge=1,
        description="`collectonce serve` keeps an idle HTTP connection open this long. Longer"
        " than the pools of HTTP clients (httpx: 5 s) and proxies (nginx: 60 s), so the server"
        " never closes a connection just as a client sends a request on it.",
    )
    upload_processes: int = Field(
        default_factory=lambda: min(2, os.cpu_count() or 1),
        ge=0,
        description="`collectonce serve` checks uploads in this many worker processes, so pulls"
        " never wait on the checking; 0 checks them in the server's own threads.",
    )

    worker: Literal["auto", "use", "off"] = Field(
        default="auto",
        description="`collectonce submit` and the validation worker (`collectonce worker start`):"
        " `auto` sends the file to a running worker, else checks it in the command itself and"
        " then starts a worker for the next one; `use` never starts one; `off` never uses one.",
    )
    worker_idle_seconds: float = Field(
        default=600.0,
        gt=0,
        description="The validation worker exits after this many seconds without a request.",
    )

    @cached_property
    def root(self) -> Path:
        return self.home.expanduser().resolve()

    def path(self, *parts: str) -> Path:
        """A path inside the data folder (created on demand for directories)."""
        return self.root.joinpath(*parts)

    @property
    def archive_dir(self) -> Path:
        return self.path("archive")

    @property
    def tables_dir(self) -> Path:
        return self.path("tables")

    @property
    def receipts_dir(self) -> Path:
        return self.path("receipts")

    @property
    def quarantine_dir(self) -> Path:
        return self.path("quarantine")

    @property
    def landing_dir(self) -> Path:
        return self.path("landing")

    @property
    def reports_dir(self) -> Path:
        return self.path("reports")

    @property
    def packs_dir(self) -> Path:
        return self.path("packs")

    @property
    def tokens_file(self) -> Path:
        return self.path("tokens.json")

    @property
    def audit_log(self) -> Path:
        return self.path("audit.jsonl")


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (e.g. from CLI options)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
