"""Errors of the roll-up stage; each message is one plain-English line saying what to do."""

from __future__ import annotations


class RollupError(ValueError):
    """A roll-up cannot be given."""


class NotAggregable(RollupError):
    """The metric declares `aggregation: none`: it is never summed or averaged."""


class UnknownLevel(RollupError, LookupError):
    """No such level, region or metric in the catalogue."""
