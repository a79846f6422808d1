"""Locked periods hold back late changes unless an exception is granted."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from publish_helpers import ATT, BRE, PERF, ae_rows, row

from collectonce.publish.errors import BadParameter
from collectonce.publish.locks import (
    grant_exception,
    is_locked,
    late_changes,
    load_locks,
    lock_periods,
)
from collectonce.publish.unified import publish, read_unified
from collectonce.publish.views import render_view

T_PUBLISH = dt.datetime(2019, 4, 20, tzinfo=dt.UTC)
T_LOCK = dt.datetime(2019, 4, 21, tzinfo=dt.UTC)
T_LATE = dt.datetime(2019, 5, 2, tzinfo=dt.UTC)


def published_value(settings, provider: str, period: str, metric: str) -> pd.Series:
    df = read_unified(settings)
    day = dt.date.fromisoformat(period + "-01")
    hit = df.loc[
        (df["provider_code"] == provider) & (df["period"] == day) & (df["metric_id"] == metric)
    ]
    assert len(hit) == 1
    return hit.iloc[0]


@pytest.fixture
def locked(catalog_min, settings, submit):
    """Q1 2019 published, then periods up to March 2019 locked."""
    submit(ae_rows(providers=("RF4", "RRK")))
    publish(catalog_min, settings, now=T_PUBLISH)
    lock_periods(settings, up_to="2019-03", by="analyst", now=T_LOCK)
    return settings


def test_lock_covers_every_period_up_to_the_month(settings) -> None:
    """It locks periods starting in or before the month, and not later ones."""
    lock_periods(settings, up_to="2019-03", by="analyst", now=T_LOCK)
    assert is_locked(settings, "2019-03") and is_locked(settings, "2016-04")
    assert is_locked(settings, dt.date(2019, 1, 1))
    assert not is_locked(settings, "2019-04")


def test_locking_again_is_idempotent(settings) -> None:
    """It keeps the first lock when an existing lock already covers the month."""
    first = lock_periods(settings, up_to="2019-03", by="analyst", now=T_LOCK)
    again = lock_periods(settings, up_to="2019-01", by="someone", now=T_LATE)
    assert first.created and not again.created
    assert again.locked_at == T_LOCK
    assert len(load_locks(settings).locks) == 1


def test_change_to_a_locked_period_is_held_back(catalog_min, locked, submit) -> None:
    """It keeps publishing the locked figure and lists the held-back change."""
    submit([row("RF4", "2019-02", ATT, 15000, submission="late-1", received=T_LATE)])
    result = publish(catalog_min, locked)
    assert result.created is False  # nothing publishable changed
    assert published_value(locked, "RF4", "2019-02", ATT)["value"] == 14569
    changes = late_changes(locked)
    assert len(changes) == 1
    change = changes.iloc[0]
    assert change["decision"] == "held_back"
    assert change["provider_code"] == "RF4"
    assert change["locked_value"] == 14569 and change["new_value"] == 15000
    assert change["submission_id"] == "late-1"


def test_new_value_for_a_locked_period_is_held_back_too(catalog_min, locked, submit) -> None:
    """It holds back a value that did not exist when the period was locked."""
    submit([row("R1H", "2019-01", ATT, 28273, submission="late-2", received=T_LATE)])
    publish(catalog_min, locked)
    df = read_unified(locked)
    assert "R1H" not in set(df["provider_code"])
    changes = late_changes(locked)
    assert changes.iloc[0]["decision"] == "held_back"
    assert pd.isna(changes.iloc[0]["locked_value"])


def test_unlocked_periods_still_publish_normally(catalog_min, locked, submit) -> None:
    """It publishes April's values: only locked periods are held back."""
    submit([row("RF4", "2019-04", ATT, 15500, submission="april", received=T_LATE)])
    result = publish(catalog_min, locked)
    assert result.created
    assert published_value(locked, "RF4", "2019-04", ATT)["value"] == 15500
    assert late_changes(locked).empty


def test_exception_admits_the_change_as_a_revision(catalog_min, locked, submit) -> None:
    """It publishes an excepted late change with revision 2 and the view flags it revised."""
    submit([row("RF4", "2019-02", BRE, 6000, submission="late-3", received=T_LATE)])
    grant_exception(locked, "RF4", "2019-02", "coding error found by audit", by="regulator")
    result = publish(catalog_min, locked)
    assert result.created and result.version == 1
    value = published_value(locked, "RF4", "2019-02", BRE)
    assert value["value"] == 6000 and value["revision"] == 2
    perf = published_value(locked, "RF4", "2019-02", PERF)
    assert perf["value"] == pytest.approx((14569 - 6000) / 14569 * 100)
    assert late_changes(locked).iloc[0]["decision"] == "admitted"
    view = render_view(catalog_min, locked, "nhse_ae_monthly", "2019-02", "2019-02")
    hit = view.loc[(view["provider_code"] == "RF4") & (view["item"] == "A2")].iloc[0]
    assert hit["flag"] == "revised" and hit["value"] == 6000
    # the exception is for RF4 only: RRK's late change stays held back
    submit([row("RRK", "2019-02", BRE, 1, submission="late-4", received=T_LATE)])
    publish(catalog_min, locked)
    assert published_value(locked, "RRK", "2019-02", BRE)["value"] == 11376


def test_resubmitting_the_same_value_changes_nothing(catalog_min, locked, submit) -> None:
    """It treats an identical resubmission to a locked period as no change at all."""
    submit([row("RF4", "2019-01", ATT, 16428, submission="same", received=T_LATE)])
    assert publish(catalog_min, locked).created is False
    assert late_changes(locked).empty
    assert published_value(locked, "RF4", "2019-01", ATT)["revision"] == 1


def test_exception_refusals(locked, settings) -> None:
    """It refuses exceptions for unlocked periods, bad codes and missing reasons."""
    with pytest.raises(BadParameter, match="not locked"):
        grant_exception(locked, "RF4", "2019-04", "a good reason", by="regulator")
    with pytest.raises(BadParameter, match="ODS code"):
        grant_exception(locked, "../x", "2019-02", "a good reason", by="regulator")
    with pytest.raises(BadParameter, match="reason"):
        grant_exception(locked, "RF4", "2019-02", "  ", by="regulator")
    with pytest.raises(BadParameter, match="YYYY-MM"):
        lock_periods(settings, up_to="March", by="analyst")
    with pytest.raises(BadParameter, match="who"):
        lock_periods(settings, up_to="2019-03", by="")


def test_damaged_locks_file_is_reported(settings) -> None:
    """It says the locks file is damaged instead of publishing with no locks."""
    settings.root.mkdir(parents=True, exist_ok=True)
    (settings.root / "locks.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(BadParameter, match="damaged"):
        load_locks(settings)
