"""Publishing and serving at every level: the doors (the command line, the API, the portal and
the flows) call these, one layer above the publish stage.

- `publish_all` publishes the unified table and hands the published frame to the roll-up, so
  the regional and England roll-ups are written with the publication, under the same lock.
- `render_request_view` serves a request's view: from the unified table for a request made of
  providers, from the roll-ups for one made at region or England level.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from collectonce.catalog import Catalog
from collectonce.publish import views
from collectonce.publish.unified import Publication, publish
from collectonce.settings import Settings


def publish_all(
    catalog: Catalog, settings: Settings, *, now: dt.datetime | None = None
) -> Publication:
    """Publish the current accepted values, then roll the new publication up to regions and
    England before the publish lock is released (see `collectonce.rollup.writer`)."""
    from collectonce.rollup import writer

    def roll_up(cat: Catalog, conf: Settings, version: int | None, frame: pd.DataFrame) -> None:
        writer.publish_levels(cat, conf, version, frame)

    return publish(catalog, settings, now=now, after_commit=roll_up)


def render_request_view(
    catalog: Catalog,
    settings: Settings,
    request_code: str,
    period_from: str | None,
    period_to: str | None,
    as_of: int | None = None,
) -> pd.DataFrame:
    """A request's view as its requester sees it, whatever level it is made at (see
    `collectonce.publish.views.render_view` and `collectonce.rollup.views`)."""
    request = catalog.requests.get(request_code)
    if request is not None and request.level != "provider":
        from collectonce.rollup.views import render_level_view

        return render_level_view(catalog, settings, request, period_from, period_to, as_of)
    return views.render_view(catalog, settings, request_code, period_from, period_to, as_of=as_of)
