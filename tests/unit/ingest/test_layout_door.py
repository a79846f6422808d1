"""Each layout the ingest recognises, sent through the front door (`submit_file`): the receipt
says which layout it was read as, what happened to every row, and what was warned about."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from collectonce.ingest.service import submit_file

SUBMISSIONS = Path(__file__).resolve().parents[2] / "fixtures" / "submissions"
NOW = dt.datetime(2019, 7, 10, 9, 0, tzinfo=dt.UTC)
JAN_FEB = ["2019-01", "2019-02"]

#: (file, catalogue) -> (template, status, rows read, accepted, rejected, skipped, values
#: stored, periods, findings as (rule, severity, row, column)).
LAYOUTS = {
    ("rf4__canonical_long.csv", "min"): (
        "canonical_long", "accepted", 6, 6, 0, 0, 6, JAN_FEB, []
    ),
    ("rf4__canonical_wide.csv", "min"): (
        "canonical_wide", "accepted_with_warnings", 2, 2, 0, 0, 6, JAN_FEB,
        [
            ("metric_derived", "warning", None, "ae_4hr_performance_type1"),
            ("unknown_column", "warning", None, "type"),
        ],
    ),
    ("rf4__nhse_ae_monthly_wide.csv", "min"): (
        "nhse_ae_monthly", "accepted", 3, 3, 0, 0, 9, [*JAN_FEB, "2019-03"], []
    ),
    ("rf4__rows_wrapper_wide.json", "min"): (
        "nhse_ae_monthly", "accepted", 1, 1, 0, 0, 3, ["2019-03"], []
    ),
    ("rf4__icb_quality_monthly_long.csv", "min"): (
        "icb_quality_monthly", "accepted_with_warnings", 3, 3, 0, 0, 2, ["2019-01"],
        [("item_not_stored", "warning", 3, "item_code")],
    ),
    ("rf4__ae_by_type_title_rows_reordered.csv", "min"): (
        "nhse_ae_by_department_type", "accepted_with_warnings", 4, 4, 0, 0, 3, ["2017-03"],
        [
            ("item_not_stored", "warning", None, "Attendances"),
            ("item_not_stored", "warning", None, "Attendances"),
            ("item_not_stored", "warning", None, "Breaches"),
            ("item_not_stored", "warning", None, "Breaches"),
        ],
    ),
    ("rf4__ae_by_type_title_rows_reordered.csv", "shipped"): (
        "nhse_ae_by_department_type", "accepted", 4, 4, 0, 0, 7, ["2017-03"], []
    ),
    ("rf4__nhse_published_monthly_ae.csv", "shipped"): (
        "nhse_ae_published_monthly", "accepted_with_warnings", 2, 1, 0, 1, 10, ["2019-01"],
        [("item_not_stored", "warning", 3, "Org Code")],
    ),
    ("rf4__nhse_published_monthly_ae_current_headings_title_block.xlsx", "shipped"): (
        "nhse_ae_published_monthly", "accepted_with_warnings", 2, 1, 0, 1, 10, ["2019-01"],
        [("item_not_stored", "warning", 7, "Org name")],
    ),
}  # fmt: skip


@pytest.mark.parametrize(("name", "which"), list(LAYOUTS), ids=lambda v: str(v))
def test_each_layout_gives_its_receipt(name, which, catalog_min, shipped_catalog, settings):
    """It reads every recognised layout into the same receipt it always gave."""
    catalog = catalog_min if which == "min" else shipped_catalog
    receipt = submit_file(SUBMISSIONS / name, catalog, settings, now=NOW)
    template, status, read, accepted, rejected, skipped, stored, periods, findings = LAYOUTS[
        (name, which)
    ]
    assert (receipt.template, receipt.status) == (template, status)
    assert (receipt.rows_read, receipt.rows_accepted, receipt.rows_rejected) == (
        read,
        accepted,
        rejected,
    )
    assert (receipt.rows_skipped, receipt.values_stored) == (skipped, stored)
    assert (receipt.providers, receipt.periods) == (["RF4"], periods)
    assert sorted((f.rule, f.severity, f.row, f.column) for f in receipt.findings) == sorted(
        findings, key=lambda f: (f[0], f[1], f[2] or 0, f[3])
    )


def test_figures_a_catalogue_does_not_collect_are_named_once_each(catalog_min, settings):
    """A published file's columns that a smaller catalogue does not collect are warned about
    once each, with the fix (none), and the rest of the file is stored."""
    name = "rf4__nhse_published_monthly_ae.csv"
    receipt = submit_file(SUBMISSIONS / name, catalog_min, settings, now=NOW)
    assert (receipt.template, receipt.status) == (
        "nhse_ae_published_monthly",
        "accepted_with_warnings",
    )
    assert (receipt.rows_accepted, receipt.rows_skipped, receipt.values_stored) == (1, 1, 3)
    columns = [f for f in receipt.findings if f.row is None]
    assert len(columns) == len({f.column for f in columns}) == 7
    assert all(f.message.endswith("were ignored. Nothing to fix.") for f in columns)
    assert "Other emergency admissions" in {f.column for f in columns}


def test_department_types_a_catalogue_maps_to_no_metric_are_named(catalog_min, settings):
    """The by-type layout warns for each department type and measure that is not stored."""
    name = "rf4__ae_by_type_title_rows_reordered.csv"
    receipt = submit_file(SUBMISSIONS / name, catalog_min, settings, now=NOW)
    assert sorted(f.message.split(" are not stored")[0] for f in receipt.findings) == [
        "Attendances of department type 2",
        "Attendances of department type other",
        "Breaches of department type 2",
        "Breaches of department type other",
    ]


def test_a_layout_metric_this_catalogue_does_not_collect_is_warned_about(
    catalog_min_dir, settings, tmp_path
):
    """When a catalogue's layout file gives figures to a metric it does not collect (here one
    it computes), both A&E layouts warn once, name the metric and store the rest."""
    from collectonce.catalog import load_catalog

    folder = tmp_path / "catalog"
    shutil.copytree(catalog_min_dir, folder)
    by_type = folder / "layouts" / "nhse_ae_by_department_type.yaml"
    text = by_type.read_text()
    mapped = "      type_1: ae_attendances_type1\n"
    by_type.write_text(text.replace(mapped, mapped + "      type_2: ae_4hr_performance_type1\n"))
    published = folder / "layouts" / "nhse_ae_published_monthly.yaml"
    published.write_text(
        published.read_text()
        + "  ae_4hr_performance_type1:\n    - {required: [attendances_type2]}\n"
    )
    catalog = load_catalog(folder)
    not_collected = ", which this catalogue does not collect; those figures were ignored."

    name = "rf4__ae_by_type_title_rows_reordered.csv"
    receipt = submit_file(SUBMISSIONS / name, catalog, settings, now=NOW)
    assert (receipt.status, receipt.values_stored) == ("accepted_with_warnings", 3)
    (warning,) = [f for f in receipt.findings if f.metric == "ae_4hr_performance_type1"]
    assert (warning.rule, warning.severity, warning.column) == (
        "item_not_stored",
        "warning",
        "Attendances",
    )
    assert warning.message == (
        "Attendances of department type 2 map to ae_4hr_performance_type1"
        + not_collected
        + " Nothing to fix."
    )

    name = "rf4__nhse_published_monthly_ae.csv"
    receipt = submit_file(SUBMISSIONS / name, catalog, settings, now=NOW)
    assert (receipt.status, receipt.values_stored) == ("accepted_with_warnings", 3)
    (warning,) = [f for f in receipt.findings if f.metric == "ae_4hr_performance_type1"]
    assert (warning.rule, warning.column) == ("item_not_stored", "Number of A&E attendances Type 2")
    assert warning.message == (
        "'Number of A&E attendances Type 2' maps to ae_4hr_performance_type1"
        + not_collected
        + " Nothing to fix."
    )
