"""Making Data Count XmR charts ("plot the dots"), vectorised across many series.

The rules are those of the R package NHSRplotthedots v0.2.2:

* Limits per group (series x rebase group): ``mean`` of the values, moving ranges
  ``|diff(y)|``, their mean ``amr``; with ``screen_outliers`` the moving ranges that are not
  strictly below ``3.267 * amr`` are dropped once and ``amr`` is recomputed. Process limits are
  ``mean +/- 2.66 * amr`` and the 2-sigma zone edges ``mean +/- (2 * 2.66 / 3) * amr``.
  ``fix_after_n_points`` computes the mean and limits from the first *n* rows of each group.
* Special cause: a point strictly outside the limits; 7 or more consecutive points on the same
  side of the mean (a point on the mean breaks the run); 7 or more points strictly rising or
  strictly falling; 2 of 3 consecutive points in the outer zone (close to, but not beyond, a
  limit) with all 3 on the same side of the mean. Precedence of the label: outside > trend >
  2-in-3 > run. Runs, trends and windows never cross a series or a rebase.
* ``point_type`` orients the label by the improvement direction; ``summarise_spc`` turns the
  last point into the variation icon and compares the target with the latest limits for the
  assurance icon.

Missing values (NaN) are not covered by the R package, which expects series without gaps.
This module keeps every input row and treats a missing value as follows:

* The row stays in the output with the limits of its group; its ``relative_to_mean``,
  ``outside_limits``, ``close_to_limits``, ``special_cause_flag``, ``special_cause_type`` and
  ``point_type`` are null.
* The mean ignores it. A moving range needs both neighbours, so the two moving ranges that
  touch a gap are missing (as R's ``diff`` gives), and no moving range bridges a gap.
* It breaks runs, trends and 2-in-3 windows, as a point on the mean breaks a run.
* ``fix_after_n_points`` and the trial-limits warning count rows, missing or not, as R does.

Groups whose limits cannot be computed get null limits, as in R: fewer than 2 usable
values, or (with screening) every moving range zero, since no range is then strictly below
``3.267 * 0`` and the screened mean of no ranges is NaN. Their points are common cause unless
a run or trend rule applies. Without screening, equal values give zero-width limits.

Means (of the values and of the moving ranges) are computed as R's ``mean()`` does: an
extended-precision sum in row order, divided by the count, plus the mean of the residuals.
A plain double-precision sum can differ in the last bit, and that bit decides whether a value
sits exactly on the mean (which breaks a run) or exactly on a limit.

The package holds one job per module: `inputs` (constants, and a frame's columns as arrays),
`order` (many series sorted into one layout), `rules` (the special-cause rules on arrays), `xmr`
(limits and `compute_spc`), `assurance` (`summarise_spc`: the variation and assurance icons)
and `series` (rows of the unified table or of the roll-ups made ready for SPC, and SPC for all
of them at once: `prepare_series`, `run_spc`). The per-point loop the engine is checked
against lives with the tests, as the reference it is.
"""

from __future__ import annotations

from collectonce.feedback.spc.assurance import classify_assurance, summarise_spc
from collectonce.feedback.spc.inputs import (
    ASSURANCE_TYPES,
    DIRECTION_CATEGORIES,
    DIRECTIONS,
    LIMIT,
    LIMIT_CLOSE,
    MIN_FIX_AFTER_N_POINTS,
    POINT_TYPES,
    RUN_POINTS,
    SCREEN_FACTOR,
    SHORT_GROUP_THRESHOLD,
    SPECIAL_CAUSE_TYPES,
    VARIATION_ICONS,
    DateLike,
    DirectionSpec,
    RebaseSpec,
    TargetSpec,
    direction_code,
)
from collectonce.feedback.spc.xmr import compute_spc

__all__ = [
    "ASSURANCE_TYPES",
    "DIRECTIONS",
    "DIRECTION_CATEGORIES",
    "LIMIT",
    "LIMIT_CLOSE",
    "MIN_FIX_AFTER_N_POINTS",
    "POINT_TYPES",
    "RUN_POINTS",
    "SCREEN_FACTOR",
    "SHORT_GROUP_THRESHOLD",
    "SPECIAL_CAUSE_TYPES",
    "VARIATION_ICONS",
    "DateLike",
    "DirectionSpec",
    "RebaseSpec",
    "TargetSpec",
    "classify_assurance",
    "compute_spc",
    "direction_code",
    "summarise_spc",
]
