"""Errors of the roll-up stage; each message is one plain-English line saying what to do."""

from __future__ import annotations

from collectonce.errors import RollupError

__all__ = ["NotAggregable", "RollupError", "UnknownLevel"]


class NotAggregable(RollupError):
    """The metric declares `aggregation: none`: it is never summed or averaged."""


class UnknownLevel(RollupError, LookupError):
    """No such level, region or metric in the catalogue."""
