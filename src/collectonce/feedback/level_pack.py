"""Packs for a region and for England: the provider pack's format, one level up.

Each metric that rolls up gets its XmR chart and assurance at the level (partial periods shown
but left out of the limits), the number of providers behind each value, and the league of the
level's providers for the latest complete period. A metric that cannot be rolled up (a median,
a percentage sent without its counts) is listed as such, never averaged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from collectonce.catalog import Catalog
from collectonce.catalog.models import Metric
from collectonce.feedback.assembly import build_panels
from collectonce.feedback.errors import NoPublication, PackError
from collectonce.feedback.exports import replace_bytes
from collectonce.feedback.frames import frame_records, frames_by
from collectonce.feedback.level_spc import level_spc
from collectonce.feedback.model import MetricPanel
from collectonce.feedback.render import chart_markup, render_template
from collectonce.settings import Settings


@dataclass(frozen=True)
class LeagueRow:
    rank: int
    ods: str
    name: str
    value: float


@dataclass(frozen=True)
class LevelPanel:
    """One metric at the level: the provider pack's panel, plus coverage and the league."""

    panel: MetricPanel
    how: str  # sum | recompute
    latest_providers: int
    latest_expected: int
    n_partial: int
    league_period: dt.date | None
    league: tuple[LeagueRow, ...]

    @property
    def metric(self) -> Metric:
        return self.panel.metric

    @property
    def code(self) -> str:
        return self.panel.code

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The panel's points, oldest first, with the providers behind each and its coverage."""
        pts = self.panel.points
        extra = zip(
            pts["providers"].tolist(),
            pts["providers_expected"].tolist(),
            pts["partial"].tolist(),
            strict=True,
        )
        return [
            {**record, "providers": n, "providers_expected": e, "partial": bool(partial)}
            for record, (n, e, partial) in zip(self.panel.records, extra, strict=True)
        ]


@dataclass(frozen=True)
class LevelPack:
    """A region's or England's pack."""

    level: str  # region | england
    code: str  # the region's name, or England
    members: int  # providers of the level in the catalogue
    panels: tuple[LevelPanel, ...]
    not_rolled_up: tuple[tuple[str, str], ...]  # (code, label) of metrics with aggregation none
    publication_version: int | None
    catalog_version: str
    coverage_threshold: float
    built_at: str
    show_league: bool
    unassigned: bool = False

    @property
    def title(self) -> str:
        if self.level == "england":
            return "England"
        return (
            f"Providers with no region ({self.code})" if self.unassigned else f"{self.code} region"
        )

    @property
    def slug(self) -> str:
        return "england" if self.level == "england" else _slug(self.code)

    @property
    def latest_period(self) -> dt.date | None:
        periods = [p.panel.latest_period for p in self.panels if p.panel.latest_period]
        return max(periods) if periods else None

    def by_domain(self) -> list[tuple[str, list[LevelPanel]]]:
        groups: dict[str, list[LevelPanel]] = {}
        for panel in self.panels:
            groups.setdefault(panel.metric.domain or "other", []).append(panel)
        return list(groups.items())


def _date_or_none(value: Any) -> dt.date | None:
    return pd.Timestamp(value).date() if value is not None else None


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_") or "region"


def _league(
    catalog: Catalog, unified: pd.DataFrame, metric: Metric, members: list[str], period: Any
) -> tuple[LeagueRow, ...]:
    rows = unified.loc[
        (unified["metric_id"] == metric.code)
        & (unified["value_status"] == "reported")
        & unified["provider_code"].isin(members)
        & (pd.to_datetime(unified["period"]) == pd.Timestamp(period))
    ]
    if rows.empty:
        return ()
    ascending = metric.improvement_direction == "decrease"
    rows = rows.sort_values(["value", "provider_code"], ascending=[ascending, True])
    ranks = rows["value"].rank(method="min", ascending=ascending).astype(int).to_numpy()
    return tuple(
        LeagueRow(
            rank=int(ranks[i]),
            ods=str(ods),
            name=catalog.providers[str(ods)].name if str(ods) in catalog.providers else "",
            value=float(value),
        )
        for i, (ods, value) in enumerate(zip(rows["provider_code"], rows["value"], strict=True))
    )


def build_level_pack(
    catalog: Catalog,
    settings: Settings,
    level: str,
    code: str | None = None,
    *,
    league: bool = True,
    as_of: int | None = None,
    now: dt.datetime | None = None,
) -> LevelPack:
    """The pack of one region (`code`, any case) or of England, from a publication.

    `league=False` leaves out the providers' own figures (for a reader who may see only the
    roll-ups). Raises `NoPublication`, or `PackError` for an unknown level or region."""
    from collectonce.publish.errors import UnknownPublication
    from collectonce.publish.unified import read_unified
    from collectonce.rollup.errors import RollupError
    from collectonce.rollup.levels import ENGLAND, check_level, members, resolve_region
    from collectonce.rollup.table import read_levels

    try:
        check_level(level)
        code = ENGLAND if level == "england" else resolve_region(catalog, code or "")
    except RollupError as exc:
        raise PackError(str(exc)) from None
    try:
        frame, version = read_levels(catalog, settings, as_of)
    except UnknownPublication:
        raise NoPublication() from None
    rows = frame.loc[(frame["level"] == level) & (frame["code"] == code)].reset_index(drop=True)
    points, summary = level_spc(catalog, rows)
    by_metric = frames_by(points, "metric_id")
    panels = build_panels(catalog, by_metric, frame_records(summary), [])
    who = members(catalog, level, code)
    unified = read_unified(settings, version) if league and panels else None
    out: list[LevelPanel] = []
    for panel in panels:
        pts = by_metric[panel.code]
        complete = pts.loc[pts["value"].notna() & ~pts["partial"]]
        last = pts.loc[pts["value"].notna()].iloc[-1]
        n_partial = int(pts["partial"].sum())
        notes = panel.notes
        if n_partial:
            notes = (
                *notes,
                f"{n_partial} period{'s are' if n_partial != 1 else ' is'} partial: fewer than "
                f"{catalog.levels.coverage_threshold:.0%} of the providers expected reported. "
                "They are drawn on the line without a marker, left out of the mean and limits, "
                "and carry no signal.",
            )
        league_period = complete["period"].iloc[-1] if len(complete) else None
        table: tuple[LeagueRow, ...] = ()
        if unified is not None and league_period is not None:
            table = _league(catalog, unified, panel.metric, who, league_period)
        out.append(
            LevelPanel(
                panel=dataclasses.replace(panel, notes=tuple(notes), peer=None),
                how=panel.metric.rolls_up,
                latest_providers=int(last["providers"]),
                latest_expected=int(last["providers_expected"]),
                n_partial=n_partial,
                league_period=pd.Timestamp(league_period).date()
                if league_period is not None
                else None,
                league=table,
            )
        )
    not_rolled = tuple(
        (m.code, m.label)
        for m in sorted(catalog.metrics.values(), key=lambda m: m.code)
        if m.is_active and m.rolls_up == "none"
    )
    built = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    return LevelPack(
        level=level,
        code=code,
        members=len(who),
        panels=tuple(out),
        not_rolled_up=not_rolled,
        publication_version=version,
        catalog_version=catalog.version,
        coverage_threshold=catalog.levels.coverage_threshold,
        built_at=built.isoformat(),
        show_league=league,
        unassigned=level == "region" and code == catalog.levels.unassigned_label,
    )


def render_level_pack_html(pack: LevelPack) -> str:
    """A static, self-contained HTML page in the provider pack's NHS.UK format."""
    from collectonce.feedback.overview import ASSURANCE_COLUMNS

    charts = {p.code: chart_markup(p.panel) for p in pack.panels}
    return render_template(
        "level_pack.html.j2",
        pack=pack,
        charts=charts,
        recent=12,
        grid_columns=ASSURANCE_COLUMNS,
    )


def level_pack_path(settings: Settings, pack: LevelPack) -> Path:
    return settings.packs_dir / "levels" / f"{pack.slug}_pack.html"


def write_level_pack(pack: LevelPack, path: Path) -> Path:
    replace_bytes(path, render_level_pack_html(pack).encode("utf-8"))
    return path


def build_level_packs(
    catalog: Catalog, settings: Settings, *, as_of: int | None = None
) -> dict[str, Path]:
    """Write England's pack and every region's under ``packs/levels/``; returns name → path."""
    from collectonce.rollup.levels import ENGLAND

    written: dict[str, Path] = {}
    for level, code in [("england", ENGLAND), *(("region", r) for r in catalog.regions)]:
        pack = build_level_pack(catalog, settings, level, code, as_of=as_of)
        written[pack.title] = write_level_pack(pack, level_pack_path(settings, pack))
    return written


def write_level_pack_cli(
    catalog: Catalog, settings: Settings, region: str | None, out: Path | None, as_json: bool
) -> None:
    """`collectonce pack --region NAME | --england`: write the page and say where it is."""
    from collectonce.cli_common import console, fail, print_json

    level = "england" if region is None else "region"
    try:
        pack = build_level_pack(catalog, settings, level, region)
        path = level_pack_path(settings, pack)
        if out is not None:
            path = out / path.name
        write_level_pack(pack, path)
    except PackError as exc:
        fail(str(exc), as_json=as_json)
    except OSError as exc:
        fail(f"cannot write the pack: {exc.strerror or exc}")
    if as_json:
        print_json({"ok": True, "level": level, "code": pack.code, "paths": {"html": str(path)}})
        return
    console.print(f"[green]✓[/] pack for {pack.title}:")
    console.print(f"  html  {path}", highlight=False, soft_wrap=True)


def _level_index_path(settings: Settings) -> Path:
    return settings.packs_dir / "levels" / "index.json"


def _read_level_index(settings: Settings) -> dict[str, Any]:
    import json

    try:
        data = json.loads(_level_index_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("packs", {}) if isinstance(data, dict) else {}


def _rows_digest(frame: pd.DataFrame) -> str:
    """A digest of a frame's rows, whatever their order."""
    import hashlib

    import numpy as np

    hashed = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def level_pack_digests(
    catalog: Catalog, settings: Settings, as_of: int | None = None
) -> tuple[dict[tuple[str, str], str], int]:
    """A digest per level pack (England's and each region's) of everything its page shows: the
    level's roll-ups (value, coverage, partial flags), its providers' values (the league), the
    catalogue and the release. Same digest, same page. Also returns the publication version.
    Raises `NoPublication`."""
    import hashlib

    from collectonce import __version__
    from collectonce.publish.errors import UnknownPublication
    from collectonce.publish.unified import read_unified_table
    from collectonce.rollup.levels import ENGLAND, members
    from collectonce.rollup.table import read_levels

    try:
        frame, version = read_levels(catalog, settings, as_of)
        unified = (
            read_unified_table(
                settings, version, columns=["provider_code", "metric_id", "period", "value"]
            )
            .to_pandas()
            .astype({"provider_code": str, "metric_id": str})
        )
    except UnknownPublication:
        raise NoPublication() from None
    shown = [
        c
        for c in ("metric_id", "period", "value", "providers", "providers_expected", "partial")
        if c in frame.columns
    ]
    base = f"{__version__}|{catalog.fingerprint}"
    out: dict[tuple[str, str], str] = {}
    for level, code in [("england", ENGLAND), *(("region", r) for r in catalog.regions)]:
        rows = frame.loc[(frame["level"] == level) & (frame["code"] == code), shown]
        league = unified.loc[unified["provider_code"].isin(members(catalog, level, code))]
        text = f"{base}|{level}|{code}|{_rows_digest(rows)}|{_rows_digest(league)}"
        out[(level, code)] = hashlib.sha256(text.encode()).hexdigest()[:32]
    return out, version


def build_changed_level_packs(
    catalog: Catalog, settings: Settings, *, changed_only: bool = True
) -> list[dict[str, Any]]:
    """Write England's pack and each region's where its figures changed since it was last built
    (its digest, kept in ``packs/levels/index.json``, differs, or its page is missing); every one
    when not `changed_only`. One entry per pack: level, code, title, status (built or
    unchanged), path. Raises `NoPublication`."""
    from collectonce.atomic import write_json_atomic

    digests, version = level_pack_digests(catalog, settings)
    index = _read_level_index(settings)
    done: list[dict[str, Any]] = []
    for (level, code), digest in digests.items():
        key = f"{level}/{code}"
        entry = index.get(key) or {}
        path = Path(str(entry.get("path") or ""))
        if changed_only and entry.get("hash") == digest and path.is_file():
            status, title = "unchanged", str(entry.get("title") or code)
        else:
            pack = build_level_pack(catalog, settings, level, code, as_of=version)
            path = write_level_pack(pack, level_pack_path(settings, pack))
            status, title = "built", pack.title
            index[key] = {
                "hash": digest,
                "path": str(path),
                "title": title,
                "publication_version": version,
            }
        done.append(
            {"level": level, "code": code, "title": title, "status": status, "path": str(path)}
        )
    write_json_atomic(_level_index_path(settings), {"packs": index})
    return done
