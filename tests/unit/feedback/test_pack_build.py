"""Packs built from the latest publication in the data folder, and rebuilt only on change."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from collectonce.contracts import UNIFIED
from collectonce.feedback import rebuild as pack_module
from collectonce.feedback.pack import (
    NoPublication,
    UnknownProvider,
    build_all_packs,
    build_pack_html,
    build_provider_pack,
    providers_needing_packs,
)

PROVIDERS = ("RF4", "RRK", "R1H", "RQM")


LATEST = {"RF4": 9000.0, "RRK": 9100.0, "R1H": 9200.0, "RQM": 9300.0}


def unified_table(shift: dict[tuple[str, int], float] | None = None) -> pd.DataFrame:
    """18 months of attendances and breaches for the four catalogue providers.

    The latest attendances are fixed so that RRK holds the acute_large peer median; `shift`
    adds to the attendances of (provider, month index).
    """
    rng = np.random.default_rng(3)
    periods = [(pd.Timestamp("2018-01-01") + pd.DateOffset(months=i)).date() for i in range(18)]
    frames = []
    for i, ods in enumerate(PROVIDERS):
        for metric, level in (("ae_attendances_type1", 9000), ("ae_breaches_4hr_type1", 1200)):
            values = (level + 100 * i + rng.normal(0, level * 0.03, 18)).round()
            if metric == "ae_attendances_type1":
                values[17] = LATEST[ods]
            for (who, month), delta in (shift or {}).items():
                if who == ods and metric == "ae_attendances_type1":
                    values[month] += delta
            frames.append(
                pd.DataFrame(
                    {
                        "provider_code": ods,
                        "period": periods,
                        "metric_id": metric,
                        "value": values,
                        "value_status": "reported",
                        "is_derived": False,
                        "is_late": False,
                        "revision": np.ones(18, dtype="int32"),
                        "submission_id": f"sub-{ods}",
                        "file_sha256": "a" * 64,
                        "source_row": np.arange(2, 20),
                        "received_at": pd.Timestamp("2019-07-01", tz="UTC"),
                        "comment": None,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def publish_frame(settings, frame: pd.DataFrame) -> None:
    """Commit `frame` as a new version of the unified Delta table."""
    from deltalake import write_deltalake

    table = pa.Table.from_pandas(frame, schema=UNIFIED, preserve_index=False)
    write_deltalake(str(settings.tables_dir / "unified"), table, mode="overwrite")


def test_pack_before_any_publication_says_to_publish_first(catalog_min, settings):
    """It refuses to build a pack before anything is published, naming the command to run."""
    with pytest.raises(NoPublication, match="collectonce publish"):
        build_provider_pack(catalog_min, settings, "RRK")


def test_provider_pack_is_written_into_the_data_folder(catalog_min, settings):
    """It writes HTML, XLSX and CSV under packs/ODS from the latest publication."""
    publish_frame(settings, unified_table())
    paths = build_provider_pack(catalog_min, settings, "rrk")

    assert set(paths) == {"html", "xlsx", "csv"}
    for path in paths.values():
        assert path.parent == settings.packs_dir / "RRK"
        assert path.stat().st_size > 0
    html = paths["html"].read_text(encoding="utf-8")
    assert "Version 0" in html
    assert not list((settings.packs_dir / "RRK").glob("*.tmp"))
    assert build_pack_html(catalog_min, settings, "RRK").startswith("<!DOCTYPE html>")


def test_provider_pack_can_go_to_another_folder(catalog_min, settings, tmp_path):
    """It writes the pack into --out when given, leaving the data folder alone."""
    publish_frame(settings, unified_table())
    paths = build_provider_pack(catalog_min, settings, "RRK", out_dir=tmp_path / "out")
    assert all(p.parent == tmp_path / "out" for p in paths.values())
    assert not (settings.packs_dir / "RRK").exists()


def test_unknown_provider_is_refused_before_reading(catalog_min, settings):
    """It refuses an unknown ODS code with a ValueError, even with nothing published."""
    with pytest.raises(UnknownProvider):
        build_provider_pack(catalog_min, settings, "ZZZ")
    with pytest.raises(ValueError, match="ZZZ"):
        build_all_packs(catalog_min, settings, ["ZZZ"], unified=unified_table())


def test_all_packs_are_rebuilt_only_when_a_providers_data_changes(catalog_min, settings):
    """It rebuilds only the providers whose figures changed since the last build."""
    publish_frame(settings, unified_table())
    assert build_all_packs(catalog_min, settings) == sorted(PROVIDERS)
    assert build_all_packs(catalog_min, settings) == []

    # an old month of RF4 changes: its own pack only (peers compare the latest month)
    publish_frame(settings, unified_table({("RF4", 2): 500.0}))
    assert build_all_packs(catalog_min, settings) == ["RF4"]

    # RQM's latest month changes: RQM is alone in its peer group, but England's latest figure,
    # shown in every pack beside the provider's own, moves with it
    publish_frame(settings, unified_table({("RF4", 2): 500.0, ("RQM", 17): 800.0}))
    assert build_all_packs(catalog_min, settings) == sorted(PROVIDERS)

    # RRK's latest month moves it from the peer median to the top: RF4's and R1H's packs
    # show a new median and rank, so they are rebuilt too (and RQM's, for England's figure)
    publish_frame(
        settings, unified_table({("RF4", 2): 500.0, ("RQM", 17): 800.0, ("RRK", 17): 400.0})
    )
    assert build_all_packs(catalog_min, settings) == sorted(PROVIDERS)

    assert build_all_packs(catalog_min, settings, changed_only=False) == sorted(PROVIDERS)
    index = json.loads((settings.packs_dir / "index.json").read_text())
    assert set(index["providers"]) == set(PROVIDERS)
    assert index["providers"]["RRK"]["publication_version"] == 3


def test_deleted_pack_files_are_rebuilt(catalog_min, settings):
    """It rebuilds a pack whose files went missing even when its data did not change."""
    publish_frame(settings, unified_table())
    build_all_packs(catalog_min, settings)
    (settings.packs_dir / "RRK" / "RRK_pack.xlsx").unlink()
    assert build_all_packs(catalog_min, settings) == ["RRK"]


def test_all_packs_run_spc_once_for_every_series(catalog_min, settings, monkeypatch):
    """It computes SPC for every provider's series in one vectorised call."""
    from collectonce.feedback import spc

    calls: list[int] = []
    real = spc.compute_spc

    def counting(df, **kwargs):
        calls.append(df[["provider_code", "metric_id"]].drop_duplicates().shape[0])
        return real(df, **kwargs)

    monkeypatch.setattr(spc, "compute_spc", counting)
    built = build_all_packs(catalog_min, settings, unified=unified_table())
    assert len(built) == 4
    assert calls == [8]


def test_receipts_reach_only_their_providers_pack(catalog_min, settings, monkeypatch):
    """It shows a receipt in the pack of the provider it belongs to and nowhere else."""
    dry_run = {
        "submission_id": "sub-dry",
        "status": "accepted",
        "dry_run": True,
        "findings": [],
        "received_at": "2019-07-02T09:00:00+00:00",
        "providers": ["RRK"],
    }
    sent_by_rf4 = {
        "submission_id": "sub-rf4-rejected",
        "status": "rejected",
        "rows_accepted": 0,
        "rows_rejected": 3,
        "findings": [{"severity": "error"}],
        "received_at": "2019-07-02T09:00:00+00:00",
        "providers": [],
        "as_provider": "RF4",
    }
    receipts = [
        dry_run,
        sent_by_rf4,
        {
            "submission_id": "sub-rrk-1",
            "status": "accepted",
            "rows_accepted": 36,
            "rows_rejected": 0,
            "findings": [],
            "original_name": "rrk.csv",
            "received_at": "2019-07-01T09:00:00+00:00",
            "providers": ["RRK"],
        },
    ]
    monkeypatch.setattr(pack_module, "load_receipts", lambda settings, provider=None: receipts)
    build_all_packs(catalog_min, settings, unified=unified_table())
    assert "sub-rrk-1" in (settings.packs_dir / "RRK" / "RRK_pack.html").read_text()
    rf4 = (settings.packs_dir / "RF4" / "RF4_pack.html").read_text()
    assert "sub-rrk-1" not in rf4
    assert "sub-rf4-rejected" in rf4  # a rejected file carries no rows, but RF4 sent it
    assert "sub-dry" not in (settings.packs_dir / "RRK" / "RRK_pack.html").read_text()


def test_packs_to_rebuild_are_listed_without_building(catalog_min, settings):
    """It lists the providers whose pack is stale, writing nothing."""
    publish_frame(settings, unified_table())
    assert providers_needing_packs(catalog_min, settings) == sorted(PROVIDERS)
    assert not settings.packs_dir.exists()
    build_all_packs(catalog_min, settings)
    assert providers_needing_packs(catalog_min, settings) == []
    assert providers_needing_packs(catalog_min, settings, ["RRK"], changed_only=False) == ["RRK"]
    publish_frame(settings, unified_table({("RF4", 2): 500.0}))
    assert providers_needing_packs(catalog_min, settings) == ["RF4"]


def test_batches_of_providers_share_one_index(catalog_min, settings):
    """It keeps every batch's entries when providers are built in separate batches."""
    publish_frame(settings, unified_table())
    assert build_all_packs(catalog_min, settings, ["RF4", "RRK"], changed_only=False) == [
        "RF4",
        "RRK",
    ]
    assert build_all_packs(catalog_min, settings, ["R1H", "RQM"], changed_only=False) == [
        "R1H",
        "RQM",
    ]
    index = json.loads((settings.packs_dir / "index.json").read_text())
    assert set(index["providers"]) == set(PROVIDERS)
    assert build_all_packs(catalog_min, settings) == []
