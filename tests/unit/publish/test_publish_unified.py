"""Publishing the unified table: derived metrics, versions, time travel and open readers."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from publish_helpers import ADM, ATT, BRE, PERF, ae_rows, on_time, row, write_rows

from collectonce.publish.errors import NothingToPublish, UnknownPublication
from collectonce.publish.unified import (
    latest_version,
    list_publications,
    publish,
    read_unified,
    unified_path,
)

T0 = dt.datetime(2019, 4, 20, 12, 0, tzinfo=dt.UTC)


def value_of(df: pd.DataFrame, provider: str, period: str, metric: str) -> pd.Series:
    day = dt.date.fromisoformat(period + "-01")
    hit = df.loc[
        (df["provider_code"] == provider) & (df["period"] == day) & (df["metric_id"] == metric)
    ]
    assert len(hit) == 1, f"expected one {provider} {period} {metric} row, found {len(hit)}"
    return hit.iloc[0]


def test_derived_percentage_is_computed_from_the_catalogue_formula(
    catalog_min, settings, submit
) -> None:
    """It publishes the 4-hour percentage as (attendances − breaches) / attendances × 100."""
    submit(ae_rows())
    result = publish(catalog_min, settings, now=T0)
    assert result.created and result.version == 0
    df = read_unified(settings)
    perf = value_of(df, "RF4", "2019-01", PERF)
    assert perf["value"] == pytest.approx((16428 - 7363) / 16428 * 100, rel=1e-12)
    assert perf["value"] == pytest.approx(55.1801, abs=1e-4)
    assert perf["value_status"] == "reported"
    assert bool(perf["is_derived"]) is True
    assert perf["source_row"] is pd.NA or pd.isna(perf["source_row"])
    assert perf["submission_id"] == "sub-1"
    collected = value_of(df, "RF4", "2019-01", ATT)
    assert collected["value"] == 16428 and not collected["is_derived"]
    assert result.counts["derived"] == 12
    assert result.counts["collected"] == 36
    assert result.counts["rows"] == 48


def test_zero_denominator_gives_missing_not_an_error(catalog_min, settings, submit) -> None:
    """It publishes a derived value as missing (null) when the denominator is zero."""
    submit([row("RQM", "2019-01", ATT, 0), row("RQM", "2019-01", BRE, 0)])
    publish(catalog_min, settings)
    perf = value_of(read_unified(settings), "RQM", "2019-01", PERF)
    assert perf["value_status"] == "missing"
    assert pd.isna(perf["value"])


def test_suppressed_input_suppresses_the_derived_value(catalog_min, settings, submit) -> None:
    """It never computes a ratio from a suppressed count: the derived value is suppressed."""
    submit(
        [
            row("RQM", "2019-01", ATT, 120),
            row("RQM", "2019-01", BRE, None, status="suppressed"),
        ]
    )
    publish(catalog_min, settings)
    df = read_unified(settings)
    perf = value_of(df, "RQM", "2019-01", PERF)
    assert perf["value_status"] == "suppressed"
    assert pd.isna(perf["value"])
    assert value_of(df, "RQM", "2019-01", BRE)["value_status"] == "suppressed"


def test_absent_input_makes_the_derived_value_missing(catalog_min, settings, submit) -> None:
    """It marks the derived value missing when one input was never submitted."""
    submit([row("RQM", "2019-01", ATT, 19897)])
    publish(catalog_min, settings)
    perf = value_of(read_unified(settings), "RQM", "2019-01", PERF)
    assert perf["value_status"] == "missing" and pd.isna(perf["value"])


def test_all_types_performance_counts_a_department_type_never_sent_as_none(
    shipped_catalog, settings, submit
) -> None:
    """It computes all-types 4-hour performance for a trust without a type 2 department.

    RRK sends type 1 and type 3/4 figures only (January 2019): the type 2 pair it never sends
    adds nothing. A type sent without its breaches still leaves the value missing.
    """
    other_att, other_bre = "ae_attendances_other", "ae_breaches_4hr_other"
    submit(
        [
            row("RRK", "2019-01", ATT, 31935),
            row("RRK", "2019-01", BRE, 12502),
            row("RRK", "2019-01", other_att, 3089),
            row("RRK", "2019-01", other_bre, 73),
            row("RF4", "2019-01", ATT, 16428),
            row("RF4", "2019-01", BRE, 7363),
            row("RF4", "2019-01", other_att, 10424),
        ]
    )
    publish(shipped_catalog, settings)
    df = read_unified(settings)
    rrk = value_of(df, "RRK", "2019-01", "ae_4hr_performance_all")
    assert rrk["value_status"] == "reported"
    assert rrk["value"] == pytest.approx((31935 + 3089 - 12502 - 73) / (31935 + 3089) * 100)
    rf4 = value_of(df, "RF4", "2019-01", "ae_4hr_performance_all")
    assert rf4["value_status"] == "missing" and pd.isna(rf4["value"])
    assert value_of(df, "RF4", "2019-01", PERF)["value"] == pytest.approx(
        (16428 - 7363) / 16428 * 100
    )


def test_true_zero_is_published_as_reported_zero(catalog_min, settings, submit) -> None:
    """It keeps a true zero apart from missing: zero breaches gives 100 %."""
    submit([row("RQM", "2019-01", ATT, 200), row("RQM", "2019-01", BRE, 0)])
    publish(catalog_min, settings)
    df = read_unified(settings)
    assert value_of(df, "RQM", "2019-01", BRE)["value"] == 0
    assert value_of(df, "RQM", "2019-01", BRE)["value_status"] == "reported"
    assert value_of(df, "RQM", "2019-01", PERF)["value"] == 100


def test_republishing_unchanged_data_writes_no_new_version(catalog_min, settings, submit) -> None:
    """It publishes nothing new when nothing changed: same version, created False."""
    submit(ae_rows())
    first = publish(catalog_min, settings, now=T0)
    again = publish(catalog_min, settings, now=T0 + dt.timedelta(days=1))
    assert again.created is False
    assert again.version == first.version == 0
    assert again.content_hash == first.content_hash
    assert latest_version(settings) == 0
    assert len(list_publications(settings)) == 1


def test_a_revision_makes_a_new_version_and_as_of_reads_the_earlier_one(
    catalog_min, settings, submit
) -> None:
    """It keeps every publication readable: as_of=0 returns the figures before the revision."""
    submit(ae_rows())
    publish(catalog_min, settings, now=T0)
    submit([row("RF4", "2019-01", ATT, 16500, submission="sub-2", received=T0)])
    second = publish(catalog_min, settings, now=T0 + dt.timedelta(days=1))
    assert second.created and second.version == 1
    assert second.counts["revised"] >= 1
    before = value_of(read_unified(settings, as_of=0), "RF4", "2019-01", ATT)
    after = value_of(read_unified(settings), "RF4", "2019-01", ATT)
    assert before["value"] == 16428 and before["revision"] == 1
    assert after["value"] == 16500 and after["revision"] == 2
    assert after["submission_id"] == "sub-2"
    perf = value_of(read_unified(settings), "RF4", "2019-01", PERF)
    assert perf["value"] == pytest.approx((16500 - 7363) / 16500 * 100)
    assert perf["revision"] == 2


def test_publications_record_version_time_catalogue_and_counts(
    catalog_min, settings, submit
) -> None:
    """It lists each publication with its version, time, catalogue version and counts."""
    submit(ae_rows(providers=("RF4",)))
    publish(catalog_min, settings, now=T0)
    submit([row("RF4", "2019-02", BRE, 6000, submission="sub-2", received=T0)])
    publish(catalog_min, settings, now=T0 + dt.timedelta(hours=1))
    listed = list_publications(settings)
    assert [p["version"] for p in listed] == [0, 1]
    assert listed[0]["published_at"] == T0.isoformat()
    assert listed[0]["catalog_version"] == catalog_min.version
    assert listed[0]["counts"]["rows"] == 12
    assert listed[0]["counts"]["providers"] == 1
    assert len(listed[0]["content_hash"]) == 64
    assert listed[0]["content_hash"] != listed[1]["content_hash"]


def test_unknown_version_is_a_clear_value_error(catalog_min, settings, submit) -> None:
    """It refuses a version that was never published, saying which versions exist."""
    submit(ae_rows(providers=("RF4",)))
    publish(catalog_min, settings)
    with pytest.raises(UnknownPublication, match="0 to 0"):
        read_unified(settings, as_of=5)
    with pytest.raises(ValueError):
        read_unified(settings, as_of=-1)


def test_reading_before_any_publication_says_so(settings) -> None:
    """It says nothing has been published yet rather than failing obscurely."""
    with pytest.raises(UnknownPublication, match="nothing has been published"):
        read_unified(settings)
    assert latest_version(settings) is None
    assert list_publications(settings) == []


def test_publishing_with_no_submissions_is_refused(catalog_min, settings) -> None:
    """It refuses to publish an empty dataset."""
    with pytest.raises(NothingToPublish, match="no accepted submissions"):
        publish(catalog_min, settings)
    assert latest_version(settings) is None


def test_late_means_after_the_earliest_request_deadline(catalog_min, settings, submit) -> None:
    """It marks a value late when received after period end + the smallest due days.

    Attendances feed the commissioner's monthly return (due 10 days after the month), so
    January's are due by the end of 10 February. Breaches are used only by returns due 15
    (monthly) and 30 days after the quarter, so 15 February is the limit.
    """
    deadline_att = dt.datetime(2019, 2, 11, 0, 0, tzinfo=dt.UTC)
    deadline_bre = dt.datetime(2019, 2, 16, 0, 0, tzinfo=dt.UTC)
    submit(
        [
            row("RF4", "2019-01", ATT, 1, received=deadline_att - dt.timedelta(seconds=1)),
            row("R1H", "2019-01", ATT, 1, received=deadline_att),
            row("RF4", "2019-01", BRE, 1, received=deadline_bre - dt.timedelta(seconds=1)),
            row("R1H", "2019-01", BRE, 1, received=deadline_bre),
        ]
    )
    publish(catalog_min, settings)
    df = read_unified(settings)
    assert not value_of(df, "RF4", "2019-01", ATT)["is_late"]
    assert value_of(df, "R1H", "2019-01", ATT)["is_late"]
    assert not value_of(df, "RF4", "2019-01", BRE)["is_late"]
    assert value_of(df, "R1H", "2019-01", BRE)["is_late"]
    # a derived value is late when any of its inputs was
    assert value_of(df, "R1H", "2019-01", PERF)["is_late"]
    assert not value_of(df, "RF4", "2019-01", PERF)["is_late"]


def test_unknown_metric_rows_are_left_out_and_counted(catalog_min, settings, submit) -> None:
    """It publishes only catalogue metrics and counts what it left out."""
    submit([row("RF4", "2019-01", ATT, 5), row("RF4", "2019-01", "retired_thing", 7)])
    result = publish(catalog_min, settings)
    df = read_unified(settings)
    assert set(df["metric_id"]) == {ATT, PERF}
    assert result.counts["dropped_unknown_metric"] == 1


def test_duckdb_reads_every_publication_with_its_own_delta_reader(
    catalog_min, settings, submit
) -> None:
    """DuckDB's delta extension (installed with collectonce, nothing downloaded) reads the
    table: the latest publication and an earlier one by version."""
    from collectonce.publish.sql import connect, delta_extension_dir, uses_delta_reader

    assert delta_extension_dir() is not None
    submit(ae_rows())
    publish(catalog_min, settings, now=T0)
    submit([row("RF4", "2019-01", ATT, 17000, submission="s2", received=T0)])
    publish(catalog_min, settings, now=T0 + dt.timedelta(days=1))
    sql = (
        "select value from unified where provider_code = 'RF4' "
        "and metric_id = ? and period = DATE '2019-01-01'"
    )
    latest = connect(settings)
    assert uses_delta_reader(latest)
    assert latest.execute(sql, [ATT]).fetchall() == [(17000.0,)]
    assert latest.execute("select count(*) from unified").fetchone() == (48,)
    first = connect(settings, as_of=0)
    assert first.execute(sql, [ATT]).fetchall() == [(16428.0,)]
    with pytest.raises(UnknownPublication):
        connect(settings, as_of=2)


def test_query_command_runs_sql_over_a_publication(catalog_min, settings, submit) -> None:
    """`collectonce query` answers SQL as JSON or CSV, and explains a bad query in one line."""
    import json

    from typer.testing import CliRunner

    from collectonce.cli import app

    submit(ae_rows())
    publish(catalog_min, settings, now=T0)
    runner = CliRunner()
    sql = f"select provider_code, value from unified where metric_id = '{ATT}' order by 2 desc"
    out = runner.invoke(app, ["query", sql, "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)["rows"]
    assert rows[0] == {"provider_code": "RRK", "value": 32017.0}
    assert len(rows) == 12
    csv = runner.invoke(app, ["query", sql + " limit 1", "--format", "csv"])
    assert csv.stdout.splitlines() == ["provider_code,value", "RRK,32017"]
    bad = runner.invoke(app, ["query", "select nope from unified"])
    assert bad.exit_code == 2
    assert "the query failed" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, ["query", "select 1", "--as-of", "7"])
    assert missing.exit_code == 1 and "there is no publication 7" in missing.output


def test_polars_reads_every_publication_without_help(catalog_min, settings, submit) -> None:
    """It writes a Delta table that Polars reads with `read_delta`, latest and as of a version."""
    import polars as pl

    submit(ae_rows())
    publish(catalog_min, settings, now=T0)
    submit([row("RF4", "2019-01", ATT, 17000, submission="s2", received=T0)])
    publish(catalog_min, settings, now=T0 + dt.timedelta(days=1))
    path = str(unified_path(settings))

    def rf4_january(frame: pl.DataFrame) -> list[float]:
        hit = frame.filter(
            (pl.col("provider_code") == "RF4")
            & (pl.col("metric_id") == ATT)
            & (pl.col("period") == dt.date(2019, 1, 1))
        )
        return hit["value"].to_list()

    latest = pl.read_delta(path)
    assert latest.height == 48
    assert rf4_january(latest) == [17000.0]
    assert rf4_january(pl.read_delta(path, version=0)) == [16428.0]
    lazy = pl.scan_delta(path).filter(pl.col("is_derived")).select(pl.len()).collect()
    assert lazy.item() == 12


def test_admissions_and_lineage_survive_publication(catalog_min, settings, submit) -> None:
    """It keeps each collected value's submission, file hash, source row and receipt time."""
    submit(ae_rows(providers=("RF4",)))
    publish(catalog_min, settings)
    adm = value_of(read_unified(settings), "RF4", "2019-03", ADM)
    assert adm["value"] == 4703
    assert adm["submission_id"] == "sub-1"
    assert len(adm["file_sha256"]) == 64
    assert int(adm["source_row"]) > 1
    assert adm["received_at"] == pd.Timestamp(on_time("2019-03"))


def test_submissions_written_by_the_store_layer_are_used(catalog_min, settings) -> None:
    """It takes the latest received value per key when a key was submitted twice."""
    write_rows(settings, [row("RF4", "2019-01", ATT, 100, received=T0)])
    write_rows(
        settings,
        [row("RF4", "2019-01", ATT, 90, submission="s2", received=T0 + dt.timedelta(hours=1))],
    )
    publish(catalog_min, settings)
    got = value_of(read_unified(settings), "RF4", "2019-01", ATT)
    assert got["value"] == 90 and got["revision"] == 2
