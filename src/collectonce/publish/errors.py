"""Errors of the publish stage, typed so that the CLI and the API can map each to an answer."""

from __future__ import annotations

from collectonce.errors import PublishError

__all__ = [
    "BadParameter",
    "ExportTooLarge",
    "NothingToPublish",
    "PublishError",
    "ServedFromRollups",
    "UnknownProvider",
    "UnknownPublication",
    "UnknownRequest",
]


class BadParameter(PublishError, ValueError):
    """A parameter is malformed (a period that is not YYYY-MM, a path-like code). API: 422."""


class UnknownRequest(PublishError, LookupError):
    """No request with this code in the catalogue. API: 404."""


class UnknownProvider(PublishError, LookupError):
    """No provider with this ODS code in the catalogue. API: 404."""


class UnknownPublication(PublishError, ValueError):
    """No publication with this version (or nothing published yet). API: 404."""


class NothingToPublish(PublishError):
    """There are no accepted submissions to publish."""


class ExportTooLarge(PublishError, ValueError):
    """The rows do not fit the chosen format (XLSX holds 1,048,575 data rows at most)."""


class ServedFromRollups(PublishError, LookupError):
    """A request made at region or England level: its view is the roll-ups' to serve
    (`collectonce.rollup.publishing.render_request_view`)."""
