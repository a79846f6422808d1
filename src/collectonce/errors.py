"""Every error collectonce raises on purpose shares one base, `CollectonceError`.

Each stage has its own family below; a stage's concrete errors (an unknown provider, a file
that cannot be read, a query that is refused) subclass that family, and many also subclass the
built-in they have always been (`ValueError`, `LookupError`) so existing handlers still match.
Callers catch by class, never by a class name written as a string. This module imports nothing
from collectonce, so every layer may use it.
"""

from __future__ import annotations


class CollectonceError(Exception):
    """Base of every error collectonce raises on purpose; the message is plain English."""


class CatalogError(CollectonceError):
    """The metric catalogue (or a file that feeds it) cannot be used as it stands."""


class IngestError(CollectonceError):
    """A submission cannot be received or read."""


class ValidateError(CollectonceError):
    """A submission cannot be checked (a defect in the checking, never bad input)."""


class PublishError(CollectonceError):
    """Base class of every publish-stage error; the message is one plain-English line."""


class RollupError(CollectonceError, ValueError):
    """A roll-up cannot be given."""


class FeedbackError(CollectonceError):
    """A feedback pack, overview or SPC chart cannot be made."""


class BurdenError(CollectonceError):
    """A burden report or a provider's plan cannot be made."""


class DedupeError(CollectonceError):
    """A register, a rules file or an acceptance of a duplicate cluster cannot be used."""


class ApiError(CollectonceError):
    """A request to the API cannot be served as sent (a token, an upload)."""


class PortalError(CollectonceError):
    """A portal page cannot be shown as asked."""


class DemoError(CollectonceError):
    """The demo cannot run as asked."""


class FlowError(CollectonceError):
    """A flow or deployment cannot run with what it was given."""
