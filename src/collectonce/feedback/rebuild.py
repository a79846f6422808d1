"""Which packs to rebuild, and rebuilding them into the data folder.

A digest per provider of everything its pack shows (its series, its peers' ranks, its receipts,
its region's and England's figures beside its own, the catalogue and the pack format) is kept
in ``packs/index.json``; a provider whose digest is unchanged, and whose files exist, is
skipped. SPC for every provider to build runs in one vectorised call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from collectonce.atomic import file_lock
from collectonce.feedback.assembly import (
    assemble_pack,
    build_pack,
    peer_codes,
    peer_positions,
    provider_of,
    receipt_dicts,
)
from collectonce.feedback.exports import pack_paths, replace_bytes, write_pack
from collectonce.feedback.frames import frame_records
from collectonce.feedback.render import render_pack_html
from collectonce.feedback.sources import load_publication, load_receipts, with_levels
from collectonce.feedback.spc.series import SERIES_COLS, prepare_series, run_spc

if TYPE_CHECKING:
    from collectonce.catalog.loader import Catalog
    from collectonce.feedback.model import Pack
    from collectonce.settings import Settings

#: Bump when the pack's content or layout changes, so every pack is rebuilt once.
PACK_FORMAT = 3


def build_provider_pack(
    catalog: Catalog, settings: Settings, ods: str, out_dir: Path | str | None = None
) -> dict[str, Path]:
    """Build one provider's pack from the latest publication; returns the paths written.

    Raises:
        UnknownProvider: the ODS code is not in the catalogue.
        NoPublication: nothing has been published yet.
    """
    pack = _latest_pack(catalog, settings, ods)
    directory = Path(out_dir) if out_dir is not None else settings.packs_dir / pack.ods
    return write_pack(pack, directory)


def build_pack_html(catalog: Catalog, settings: Settings, ods: str) -> str:
    """The HTML pack of one provider from the latest publication (for the API)."""
    return render_pack_html(_latest_pack(catalog, settings, ods))


def _latest_pack(catalog: Catalog, settings: Settings, ods: str) -> Pack:
    """One provider's pack from the latest publication, read for it and its peers only.

    Raises:
        UnknownProvider: the ODS code is not in the catalogue.
        NoPublication: nothing has been published yet.
    """
    provider = provider_of(catalog, ods)
    unified, info = load_publication(settings, providers=peer_codes(catalog, provider))
    return build_pack(
        catalog,
        unified,
        provider.ods_code,
        load_receipts(settings, provider.ods_code),
        publication=with_levels(catalog, settings, info),
    )


def _index_path(settings: Settings) -> Path:
    return settings.packs_dir / "index.json"


def read_index(settings: Settings) -> dict[str, Any]:
    try:
        data = json.loads(_index_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("providers", {}) if isinstance(data, dict) else {}


def content_hashes(
    catalog: Catalog,
    series: pd.DataFrame,
    peers: pd.DataFrame,
    receipts_by_provider: Mapping[str, Sequence[Mapping[str, Any]]],
    providers: Iterable[str],
) -> dict[str, str]:
    """A digest per provider of everything its pack shows, computed for all at once."""
    row_cols = [*SERIES_COLS, "period", "value", "value_status", "is_late", "revision", "comment"]
    row_hash = pd.util.hash_pandas_object(series[row_cols], index=False).to_numpy()
    own = pd.Series(row_hash, index=series["provider_code"].to_numpy()).groupby(level=0).sum()
    peer_cols = [*SERIES_COLS, "period", "rank", "n_peers", "peer_median"]
    if len(peers):
        ph = pd.util.hash_pandas_object(peers[peer_cols], index=False).to_numpy()
        peer_sum = pd.Series(ph, index=peers["provider_code"].to_numpy()).groupby(level=0).sum()
    else:
        peer_sum = pd.Series(dtype="uint64")
    base = f"{PACK_FORMAT}|{catalog.fingerprint}"
    out = {}
    for ods in providers:
        receipts = json.dumps(
            [r.get("submission_id") for r in receipts_by_provider.get(ods, [])], default=str
        )
        text = f"{base}|{own.get(ods, 0)}|{peer_sum.get(ods, 0)}|{receipts}"
        out[ods] = hashlib.sha256(text.encode()).hexdigest()[:32]
    return out


def build_all_packs(
    catalog: Catalog,
    settings: Settings,
    providers: Iterable[str] | None = None,
    changed_only: bool = True,
    *,
    unified: pd.DataFrame | None = None,
    publication: Mapping[str, Any] | None = None,
    receipts: Sequence[Any] | None = None,
    progress: Callable[[str, bool], None] | None = None,
) -> list[str]:
    """Rebuild the packs of providers whose data changed since the last build.

    SPC for every provider's series runs in one vectorised call, then each pack is rendered.
    A content digest per provider is kept in ``settings.packs_dir / "index.json"``; with
    `changed_only` a provider whose digest is unchanged (and whose files exist) is skipped.
    `unified`, `publication` and `receipts` default to the latest publication and the
    ingest stage's receipts. `progress(ods, built)` is called once per provider considered.
    Returns the ODS codes built.

    Raises:
        UnknownProvider: a listed ODS code is not in the catalogue.
        NoPublication: nothing has been published yet (and `unified` was not given).
    """
    if unified is None:
        unified, info = load_publication(settings)
        publication = {**info, **(publication or {})}
    publication = with_levels(catalog, settings, publication)
    wanted = _wanted_providers(catalog, unified, providers)
    by_provider = _receipts_of(settings, receipts)

    series = prepare_series(catalog, unified)
    peers = peer_positions(catalog, series)
    hashes = _digests(catalog, series, peers, by_provider, wanted, publication)
    if changed_only:
        wanted = _stale(settings, wanted, hashes)
    skipped = set(hashes) - set(wanted)
    if progress:
        for ods in sorted(skipped):
            progress(ods, False)
    # one vectorised SPC run over every series of the providers to build
    points, summary = run_spc(series[series["provider_code"].isin(wanted)])

    # split once: (provider, metric) -> points; provider -> summary and peer records
    points_by: dict[str, dict[str, pd.DataFrame]] = {}
    for (ods, metric), frame in points.groupby(SERIES_COLS, sort=False, observed=True):
        points_by.setdefault(str(ods), {})[str(metric)] = frame
    summary_by = _records_by_provider(summary)
    peers_by = _records_by_provider(peers)
    built: list[str] = []
    entries: dict[str, dict[str, Any]] = {}
    for ods in wanted:
        directory = settings.packs_dir / ods
        pack = assemble_pack(
            catalog,
            catalog.providers[ods],
            points_by.get(ods, {}),
            summary_by.get(ods, []),
            peers_by.get(ods, []),
            by_provider.get(ods, []),
            publication,
            None,
        )
        write_pack(pack, directory)
        entries[ods] = {
            "hash": hashes[ods],
            "built_at": pack.built_at,
            "publication_version": pack.publication_version,
        }
        built.append(ods)
        if progress:
            progress(ods, True)
        if len(entries) >= 50:  # keep the index current during long runs
            _update_index(settings, entries)
            entries = {}
    _update_index(settings, entries)
    return built


def providers_needing_packs(
    catalog: Catalog,
    settings: Settings,
    providers: Iterable[str] | None = None,
    changed_only: bool = True,
    *,
    unified: pd.DataFrame | None = None,
    receipts: Sequence[Any] | None = None,
) -> list[str]:
    """The ODS codes whose pack `build_all_packs` would build now (no SPC, nothing written).

    Raises:
        UnknownProvider: a listed ODS code is not in the catalogue.
        NoPublication: nothing has been published yet (and `unified` was not given).
    """
    info: dict[str, Any] = {}
    if unified is None:
        unified, info = load_publication(settings)
    wanted = _wanted_providers(catalog, unified, providers)
    if not changed_only:
        return wanted
    series = prepare_series(catalog, unified)
    peers = peer_positions(catalog, series)
    publication = with_levels(catalog, settings, info)
    receipts_by = _receipts_of(settings, receipts)
    return _stale(
        settings, wanted, _digests(catalog, series, peers, receipts_by, wanted, publication)
    )


def _digests(
    catalog: Catalog,
    series: pd.DataFrame,
    peers: pd.DataFrame,
    receipts_by_provider: Mapping[str, Sequence[Mapping[str, Any]]],
    providers: Iterable[str],
    publication: Mapping[str, Any] | None,
) -> dict[str, str]:
    """Each provider's pack digest: its content's, with the region's and England's figures."""
    hashes = content_hashes(catalog, series, peers, receipts_by_provider, providers)
    return _level_hashes(hashes, publication, series)


def _stale(settings: Settings, providers: Iterable[str], digests: Mapping[str, str]) -> list[str]:
    """The providers whose pack is missing or was built from other content, in order."""
    index = read_index(settings)
    return [ods for ods in providers if not _up_to_date(settings, index, ods, digests[ods])]


def _level_hashes(
    hashes: dict[str, str], publication: Mapping[str, Any] | None, series: pd.DataFrame
) -> dict[str, str]:
    """Pack digests that also change when the region's or England's figures that the pack
    shows beside the provider's latest values change."""
    figures = (publication or {}).get("levels")
    if figures is None:
        return hashes
    valued = series.loc[series["value"].notna(), ["provider_code", "metric_id", "period"]]
    latest = valued.groupby(["provider_code", "metric_id"], sort=False, observed=True)["period"]
    by_provider: dict[str, dict[str, Any]] = {}
    for ods, metric, period in latest.max().reset_index().itertuples(index=False, name=None):
        by_provider.setdefault(str(ods), {})[str(metric)] = pd.Timestamp(period).date()
    return {
        ods: hashlib.sha256(
            f"{digest}|{figures.digest(ods, by_provider.get(ods, {}))}".encode()
        ).hexdigest()[:32]
        for ods, digest in hashes.items()
    }


def _wanted_providers(
    catalog: Catalog, unified: pd.DataFrame, providers: Iterable[str] | None
) -> list[str]:
    if providers is None:
        present = set(unified["provider_code"].astype(str).unique())
        return sorted(p for p in catalog.providers if p in present)
    return list(dict.fromkeys(provider_of(catalog, p).ods_code for p in providers))


def _records_by_provider(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The rows of a frame with a ``provider_code`` column, as records per provider."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in frame_records(frame):
        out.setdefault(str(row["provider_code"]), []).append(row)
    return out


def _receipts_of(
    settings: Settings, receipts: Sequence[Any] | None
) -> dict[str, list[dict[str, Any]]]:
    """The given receipts (or the ingest stage's) of each provider."""
    return _receipts_by_provider(
        load_receipts(settings) if receipts is None else receipt_dicts(receipts)
    )


def _receipts_by_provider(receipts: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Receipts of each provider: those it sent and those carrying its rows (no dry runs)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in receipts:
        if r.get("dry_run"):
            continue
        owners = {str(p) for p in r.get("providers") or []}
        if r.get("as_provider"):
            owners.add(str(r["as_provider"]))
        for ods in owners:
            out.setdefault(ods, []).append(r)
    return out


def _up_to_date(settings: Settings, index: Mapping[str, Any], ods: str, digest: str) -> bool:
    entry = index.get(ods) or {}
    return entry.get("hash") == digest and all(
        p.exists() for p in pack_paths(settings.packs_dir / ods, ods).values()
    )


def _update_index(settings: Settings, entries: Mapping[str, dict[str, Any]]) -> None:
    """Merge entries into index.json under a lock (batches may build packs concurrently)."""
    with file_lock(settings.packs_dir / ".index.lock"):
        index = read_index(settings)
        index.update(entries)
        data = {"format": PACK_FORMAT, "providers": dict(sorted(index.items()))}
        replace_bytes(_index_path(settings), json.dumps(data, indent=1, default=str).encode())
