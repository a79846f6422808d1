"""Roll-ups: every level (provider → region → England) from one set of definitions.

Counts are summed; derived ratios are recomputed from the summed numerator and denominator;
metrics that cannot be added (medians, means, percentages sent without their counts) are
refused, never averaged. Each rolled-up value carries how many providers contributed and how
many were expected, and is flagged partial below the catalogue's coverage threshold.
"""

from collectonce.rollup.errors import NotAggregable, RollupError, UnknownLevel

__all__ = ["NotAggregable", "RollupError", "UnknownLevel"]
