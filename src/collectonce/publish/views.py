"""Views: each request rendered from the unified table, in its own codes and frequency.

A view holds only what the request asks for (data minimisation): its mapped items, from the
metrics those items map to, for the providers that are its respondents. Unmapped items are
left out.

Periods and ranges
    ``period_from`` and ``period_to`` are months (``YYYY-MM``), both inclusive. For a quarterly
    or yearly request the range is widened to whole request periods, so ``2018-05`` to
    ``2018-07`` gives 2018/19 Q1 and 2018/19 Q2, each aggregated over all its months. Quarters
    and years are NHS financial ones (``2018/19 Q1`` = April to June 2018, ``2018/19`` = April
    2018 to March 2019) unless the request says ``year_start: january``, when they are calendar
    ones (``2018-Q1``, ``2018``). A view covers the request periods in the range for which the
    unified table holds any value of the request's metrics.

Aggregation (month → quarter or year), by the item's transform
    ``sum``, ``mean``, ``last``, ``max`` or ``min`` (``sum`` when the item names none), then
    multiplied by ``scale``. An item mapped to several metrics (``metrics: [a, b]``) is their
    sum for each month first. A metric the provider has never submitted in the publication
    counts as not applicable (a trust with no type 2 A&E unit); a month lacking a metric the
    provider does submit counts as missing.

Flags (one per row, the first that applies)
    ``missing``: a month of the period has no value, or a value reported blank. A sum is then
    null; ``mean``, ``max`` and ``min`` use the months reported; ``last`` is the final
    month's value if it was reported, else null. A respondent with nothing for the period
    gets a row with a null value.
    ``suppressed``: a month was suppressed (``*``); the same value rules as ``missing``.
    ``revised``: a value was changed after it was first received (revision > 1), including
    a late change to a locked period admitted by an exception.
    ``late``: a value arrived after *this request's* deadline: the end of the request period
    that holds it plus the request's ``due_days_after_period``, at 00:00 UTC (a deadline before
    collecting began, as for a back-filled history, makes nothing late).

The returned frame carries ``attrs["publication"]`` (the version it was read from). Its text
columns are categoricals (a view repeats a few codes and labels over many rows).
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from collectonce import nhs_periods
from collectonce.catalog import Catalog
from collectonce.catalog.models import CODE_RE, ODS_PATTERN, Request
from collectonce.publish import view_cells
from collectonce.publish.errors import (
    BadParameter,
    ServedFromRollups,
    UnknownProvider,
    UnknownRequest,
)
from collectonce.publish.periods import (
    MONTHS_IN,
    parse_range,
    period_end_month,
    period_start,
)
from collectonce.publish.snapshot import snapshot
from collectonce.publish.unified import STATUS_NAMES, collection_start
from collectonce.settings import Settings

__all__ = [
    "PROVIDER_COLUMNS",
    "VIEW_COLUMNS",
    "BadParameter",
    "UnknownProvider",
    "UnknownRequest",
    "provider_data",
    "render_view",
]

VIEW_COLUMNS = ["provider_code", "period", "item", "item_label", "metric", "value", "flag"]
PROVIDER_COLUMNS = [
    "provider_code",
    "period",
    "metric",
    "label",
    "unit",
    "value",
    "value_status",
    "is_derived",
    "revision",
    "is_late",
]
#: The values of a view's ``flag`` column (its categories, in this order).
FLAG_NAMES = ["", "missing", "suppressed", "revised", "late"]
ODS_RE = re.compile(ODS_PATTERN)


def _request(catalog: Catalog, request_code: str) -> Request:
    if not isinstance(request_code, str) or not CODE_RE.match(request_code):
        raise BadParameter(
            f"request code {str(request_code)[:80]!r} is not a code: use lower-case letters, "
            "digits and underscores"
        )
    request = catalog.requests.get(request_code)
    if request is None:
        raise UnknownRequest(f"there is no request {request_code!r} in the catalogue")
    return request


def _text(values: np.ndarray) -> pd.Series:
    """A text column kept as Python strings (no per-call conversion to another string type)."""
    return pd.Series(values, dtype=object, copy=False)


def _respondents(catalog: Catalog, request: Request) -> list[str]:
    """ODS codes of the providers that answer `request` (as `Catalog.requests_for` decides)."""
    if request.respondents == "all":
        return sorted(catalog.providers)
    groups = set(request.respondents)
    return sorted(p.ods_code for p in catalog.providers.values() if p.peer_group in groups)


def _category(labels: list[str], codes: np.ndarray) -> pd.Categorical:
    """The text column ``labels[codes]`` as a categorical: one string per distinct label, not
    per row (exports then write each label once)."""
    small, distinct = pd.factorize(np.array(labels, dtype=object))
    categories = pd.Index(np.asarray(distinct, dtype=object), dtype=object)
    return pd.Categorical.from_codes(small[codes], categories=categories)


def _empty_view(version: int | None = None, request: str = "") -> pd.DataFrame:
    empty = np.zeros(0, dtype=np.int64)
    out = pd.DataFrame({c: _category([], empty) for c in VIEW_COLUMNS})
    out["value"] = pd.Series(dtype=float)
    out.attrs.update(publication=version, request=request)
    return out


def _month_number(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _labels(months: np.ndarray, frequency: str, year_start: str = "april") -> np.ndarray:
    """Period labels for absolute month numbers (NHS quarters and years unless calendar)."""
    return nhs_periods.labels_for_months(months, frequency, year_start)


def render_view(
    catalog: Catalog,
    settings: Settings,
    request_code: str,
    period_from: str | None,
    period_to: str | None,
    as_of: int | None = None,
) -> pd.DataFrame:
    """The request `request_code` as its requester sees it (see the module docstring).

    Columns: provider_code, period (``YYYY-MM``; ``2018/19 Q1`` / ``2018/19``, or ``2018-Q1`` /
    ``2018`` for a calendar request), item (their code),
    item_label, metric (catalogue codes joined by "+"), value, flag; sorted by provider, period
    and the request's item order. Raises `BadParameter` (malformed code or period),
    `UnknownRequest`, or `UnknownPublication`.
    """
    request = _request(catalog, request_code)
    if request.level != "provider":  # served from the roll-ups, one layer up
        raise ServedFromRollups(
            f"request {request.code} is made at {request.level} level: its view is served from "
            "the roll-ups (collectonce.rollup.publishing.render_request_view)"
        )
    start, end = parse_range(period_from, period_to)
    freq, year_start = request.frequency, request.year_start
    size = MONTHS_IN[freq]
    lo = _month_number(period_start(start, freq, year_start)) if start else None
    hi = _month_number(period_end_month(end, freq, year_start)) + 1 if end else None
    snap = snapshot(settings, as_of)
    items = [it for it in request.items if it.is_mapped]
    respondents = _respondents(catalog, request)
    if not items or not respondents:
        return _empty_view(snap.version, request.code)
    cells = view_cells.scatter(snap, items, lo, hi, respondents, request, collection_start(catalog))
    if cells is None:
        return _empty_view(snap.version, request.code)
    grains = {code: m.grain.period for code, m in catalog.metrics.items()}
    agg = view_cells.aggregate(cells, items, grains, size)
    keep = np.flatnonzero(agg["has_data"])
    if not len(keep):
        return _empty_view(snap.version, request.code)
    value = agg["value"][:, keep, :]
    flag = agg["flag"][:, keep, :]
    n_p, n_b, n_i = value.shape
    labels = _labels(cells.first_month + keep * size, freq, year_start)
    rows = np.arange(n_p * n_b * n_i)
    item_of = rows % n_i
    out = pd.DataFrame(
        {
            "provider_code": _category(respondents, rows // (n_b * n_i)),
            "period": _category(labels.tolist(), rows // n_i % n_b),
            "item": _category([it.their_code for it in items], item_of),
            "item_label": _category([it.their_label for it in items], item_of),
            "metric": _category(["+".join(it.metric_codes) for it in items], item_of),
            "value": value.reshape(-1),
            "flag": _category(FLAG_NAMES, flag.reshape(-1)),
        }
    )
    out.attrs.update(publication=snap.version, request=request.code)
    return out


def provider_data(
    catalog: Catalog,
    settings: Settings,
    ods: str,
    period_from: str | None,
    period_to: str | None,
    as_of: int | None = None,
) -> pd.DataFrame:
    """One provider's own published data (every metric, derived included), by month.

    Columns: provider_code, period (``YYYY-MM``, the first month of a quarterly value), metric,
    label, unit, value, value_status, is_derived, revision, is_late; sorted by metric and
    period. Raises `BadParameter`, `UnknownProvider` or `UnknownPublication`.
    """
    if not isinstance(ods, str) or not ODS_RE.match(ods):
        raise BadParameter(f"{str(ods)[:80]!r} is not an ODS code (3 to 5 capitals or digits)")
    if ods not in catalog.providers:
        raise UnknownProvider(f"there is no provider {ods} in the catalogue")
    start, end = parse_range(period_from, period_to)
    snap = snapshot(settings, as_of)
    hits = np.flatnonzero(snap.providers == ods)
    rows = snap.provider_rows(int(hits[0])) if len(hits) else np.zeros(0, dtype=np.int64)
    if len(rows) and (start is not None or end is not None):
        months = snap.months[rows]
        keep = np.ones(len(rows), dtype=bool)
        if start is not None:
            keep &= months >= _month_number(start)
        if end is not None:
            keep &= months <= _month_number(end)
        rows = rows[keep]
    metric = snap.metric_names(rows)
    labels = {code: m.label for code, m in catalog.metrics.items()}
    units = {code: m.unit for code, m in catalog.metrics.items()}
    months = snap.months[rows].astype(np.int64)
    out = pd.DataFrame(
        {
            "provider_code": _text(np.full(len(rows), ods, dtype=object)),
            "period": _text(_labels(months, "month")),
            "metric": _text(metric),
            "label": _text(np.array([labels.get(m, "") for m in metric], dtype=object)),
            "unit": _text(np.array([units.get(m, "") for m in metric], dtype=object)),
            "value": snap.value[rows],
            "value_status": _text(STATUS_NAMES[snap.status[rows]]),
            "is_derived": snap.is_derived[rows],
            "revision": snap.revision[rows].astype(np.int64),
            "is_late": snap.is_late[rows],
        }
    )
    out.attrs.update(publication=snap.version, provider=ods)
    return out
