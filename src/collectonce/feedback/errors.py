"""What can go wrong when a pack is made, each a plain-English line."""

from __future__ import annotations

from collectonce.errors import FeedbackError


class PackError(FeedbackError, ValueError):
    """A pack cannot be built; the message is one plain-English line."""


class UnknownProvider(PackError):
    """The ODS code is not a provider in the catalogue."""


class UnknownMetric(PackError):
    """The metric code is not in the catalogue."""


class NoPublication(PackError):
    """Nothing has been published yet, so there is no data to give back."""

    def __init__(
        self, message: str = "nothing has been published yet: run `collectonce publish` first"
    ) -> None:
        super().__init__(message)
