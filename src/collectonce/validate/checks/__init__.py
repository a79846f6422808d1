"""The rule families: one module each, holding its checks and, beside them, its messages (what
is wrong with the row and how to fix it).
"""

from collectonce.validate.checks import catalogue, flags, keys, metrics, scope, wide
from collectonce.validate.wording import Writer

#: The message writer of every rule, by rule name.
WRITERS: dict[str, Writer] = {
    **catalogue.WRITERS,
    **metrics.WRITERS,
    **scope.WRITERS,
    **keys.WRITERS,
    **wide.WRITERS,
    **flags.WRITERS,
}

__all__ = ["WRITERS", "catalogue", "flags", "keys", "metrics", "scope", "wide"]
