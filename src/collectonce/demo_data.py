"""Turn the public A&E statistics into the files providers would send, warts and all.

The sample (`data/ae_attendances.csv`, Open Government Licence) has one row per provider, month
and department type. Providers submit one file a month in the canonical template; the data team
back-fills history in one bulk file; a few files carry the mistakes real returns carry; one trust
sends a late revision; one still sends a legacy return that overlaps its canonical file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from collectonce.catalog import Catalog
from collectonce.catalog.layouts import by_type_layout
from collectonce.errors import DemoError
from collectonce.ingest.department_types import (
    CLASS_OF_TYPE,
    by_type_metrics,
    find_type_columns,
)


class DemoLayoutMissing(DemoError, LookupError):
    """The catalogue has no A&E by-department-type layout to turn the statistics into files."""


@dataclass(frozen=True)
class DemoMetrics:
    """The metrics the demo's mistakes and revision touch, read from the catalogue's A&E
    by-department-type layout (``catalog/layouts/nhse_ae_by_department_type.yaml``)."""

    #: (department class, measure) → catalogue metric: the layout's own mapping, so a demo file
    #: and a trust's extract store the same metrics.
    mapping: dict[tuple[str, str], str]

    @classmethod
    def of(cls, catalog: Catalog) -> DemoMetrics:
        mapping = by_type_metrics(catalog)
        wanted = [("1", "attendances"), ("1", "breaches"), ("1", "admissions")]
        lacking = [
            f"{measure} of type {klass}"
            for klass, measure in wanted
            if (klass, measure) not in mapping
        ]
        if lacking:
            raise DemoLayoutMissing(
                f"The catalogue at {catalog.root} maps no {', '.join(lacking)} in "
                "layouts/nhse_ae_by_department_type.yaml, so the A&E statistics cannot be turned "
                "into providers' files. Add the layout file (see catalog/README.md)."
            )
        return cls(mapping)

    @property
    def attendances(self) -> str:
        """Type 1 attendances."""
        return self.mapping[("1", "attendances")]

    @property
    def breaches(self) -> str:
        """Type 1 attendances over 4 hours."""
        return self.mapping[("1", "breaches")]

    @property
    def admissions(self) -> str:
        """Emergency admissions."""
        return self.mapping[("1", "admissions")]

    @property
    def misspelt(self) -> str:
        """Type 1 attendances as a provider might mistype it (a doubled letter written once)."""
        code = self.attendances
        for i in range(1, len(code)):
            if code[i] == code[i - 1] and code[i].isalpha():
                return code[:i] + code[i + 1 :]
        return code[:2] + code[3:]


@dataclass
class DemoFiles:
    """What the generator wrote, so the demo can say what to expect."""

    history: Path
    monthly: list[Path] = field(default_factory=list)
    with_errors: list[Path] = field(default_factory=list)
    legacy: Path | None = None
    revision: Path | None = None
    months: list[str] = field(default_factory=list)


def headline_metric(catalog: Catalog) -> str:
    """The metric the demo points a person at for roll-ups: of the derived metrics made only of
    what the A&E layout stores, the one with a target built from the most inputs."""
    stored = set(by_type_metrics(catalog).values())
    found = [
        metric
        for metric in catalog.metrics.values()
        if metric.is_derived
        and metric.is_active
        and set(catalog.collected_inputs(metric.code)) <= stored
    ]
    if not found:
        raise DemoLayoutMissing(
            f"The catalogue at {catalog.root} has no derived metric made of the A&E layout's "
            "metrics to roll up."
        )
    best = max(
        found,
        key=lambda m: (m.target is not None, len(catalog.collected_inputs(m.code)), m.code),
    )
    return best.code


def ae_to_long(raw: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Canonical long rows (provider_code, period, metric_id, value) from the A&E table, read
    through the catalogue's A&E by-department-type layout: each department class's measure
    becomes the metric the layout maps it to, and a metric mapped for several classes
    (admissions) is their sum."""
    header = [str(c) for c in raw.columns]
    columns = find_type_columns(header, set(), by_type_layout(catalog.layouts))
    if columns is None:
        raise DemoLayoutMissing(
            f"The catalogue at {catalog.root} has no A&E by-department-type layout matching the "
            f"columns {', '.join(header)}. Add layouts/nhse_ae_by_department_type.yaml."
        )
    frame = raw.assign(
        klass=raw.iloc[:, columns.type_column]
        .astype(str)
        .map(lambda t: CLASS_OF_TYPE.get(columns.department_type(str(t)) or "")),
        period=pd.to_datetime(raw["period"]).dt.strftime("%Y-%m"),
    )
    parts = []
    for index, measure in columns.measures:
        for (klass, of_measure), metric in columns.metrics.items():
            if of_measure != measure:
                continue
            rows = frame[frame["klass"] == klass]
            parts.append(
                pd.DataFrame(
                    {
                        "provider_code": rows["org_code"],
                        "period": rows["period"],
                        "metric_id": metric,
                        "value": rows.iloc[:, index].astype("int64"),
                    }
                )
            )
    long = pd.concat(parts, ignore_index=True)
    long = long.groupby(["provider_code", "period", "metric_id"], as_index=False)["value"].sum()
    known = {m.code for m in catalog.collected_metrics}
    long = long[long["metric_id"].isin(known) & long["provider_code"].isin(catalog.providers)]
    return long.sort_values(["provider_code", "period", "metric_id"], ignore_index=True)


def _legacy_request(catalog: Catalog, metrics: DemoMetrics) -> tuple[str, dict[str, str]] | None:
    """A monthly request whose items map one-to-one onto the A&E metrics."""
    wanted = set(metrics.mapping.values())
    for code, request in sorted(catalog.requests.items()):
        if request.frequency != "month":
            continue
        mapping = {
            item.metric: item.their_code
            for item in request.items
            if item.metric in wanted and catalog.metrics[item.metric].is_active
        }
        if metrics.attendances in mapping and metrics.breaches in mapping:
            return code, mapping
    return None


def generate_demo_files(
    ae_csv: Path,
    catalog: Catalog,
    landing: Path,
    later: Path,
    *,
    monthly_months: int = 3,
) -> DemoFiles:
    """Write the history file and monthly submissions to `landing`, the revision to `later`."""
    landing.mkdir(parents=True, exist_ok=True)
    later.mkdir(parents=True, exist_ok=True)
    metrics = DemoMetrics.of(catalog)
    long = ae_to_long(pd.read_csv(ae_csv, dtype={"type": str}), catalog)
    months = sorted(long["period"].unique())
    recent = months[-monthly_months:] if monthly_months > 0 else []
    history = long[~long["period"].isin(recent)]
    first, last = history["period"].min(), history["period"].max()
    files = DemoFiles(history=landing / f"history_{first}_to_{last}.csv", months=recent)
    history.to_csv(files.history, index=False)

    recent_rows = long[long["period"].isin(recent)]
    providers = sorted(recent_rows["provider_code"].unique())
    broken = _pick_broken(providers, recent[-1]) if recent else {}
    for (provider, period), rows in recent_rows.groupby(["provider_code", "period"], sort=True):
        path = landing / f"{provider}_{period}.csv"
        body = rows.assign(comment="")
        defect = broken.get((str(provider), str(period)))
        if defect:
            body = _inject(body, defect, metrics)
            files.with_errors.append(path)
        if providers.index(provider) % 9 == 4 and not defect:
            _write_wide(body, path)
        else:
            body.to_csv(path, index=False)
        files.monthly.append(path)

    legacy = _legacy_request(catalog, metrics)
    if legacy and recent:
        code, mapping = legacy
        provider, period = _present(recent_rows, "RRK", recent[-1])
        rows = recent_rows[
            (recent_rows["provider_code"] == provider) & (recent_rows["period"] == period)
        ]
        wide: dict[str, object] = {"org_code": provider, "period": period}
        for _, row in rows.iterrows():
            if row["metric_id"] in mapping:
                wide[mapping[row["metric_id"]]] = int(row["value"])
        files.legacy = landing / f"{provider}_{period}_{code}.csv"
        pd.DataFrame([wide]).to_csv(files.legacy, index=False)

    if recent:
        provider, period = _present(recent_rows, "RF4", recent[0])
        rows = recent_rows[
            (recent_rows["provider_code"] == provider)
            & (recent_rows["period"] == period)
            & (recent_rows["metric_id"] == metrics.breaches)
        ]
        if not rows.empty:
            revised = rows.assign(
                value=(rows["value"] * 1.04).round().astype("int64"),
                comment="Revised after validation of breach times against the clinical record",
            )
            files.revision = later / f"{provider}_{period}_revision.csv"
            revised.to_csv(files.revision, index=False)
    return files


def _present(rows: pd.DataFrame, provider: str, period: str) -> tuple[str, str]:
    if ((rows["provider_code"] == provider) & (rows["period"] == period)).any():
        return provider, period
    first = rows.sort_values(["provider_code", "period"]).iloc[0]
    return str(first["provider_code"]), str(first["period"])


def _pick_broken(providers: list[str], period: str) -> dict[tuple[str, str], str]:
    """A handful of realistic mistakes, spread across providers, in the latest month."""
    defects = ["breaches_exceed_attendances", "negative_value", "metric_typo", "suppressed"]
    chosen: dict[tuple[str, str], str] = {}
    step = max(1, len(providers) // (len(defects) + 1))
    for i, defect in enumerate(defects):
        idx = (i + 1) * step
        if idx < len(providers):
            chosen[(providers[idx], period)] = defect
    return chosen


def _inject(body: pd.DataFrame, defect: str, metrics: DemoMetrics) -> pd.DataFrame:
    out = body.astype({"value": "object"}).copy()
    if defect == "breaches_exceed_attendances":
        mask = out["metric_id"] == metrics.breaches
        att = out.loc[out["metric_id"] == metrics.attendances, "value"]
        if mask.any() and not att.empty:
            out.loc[mask, "value"] = int(att.iloc[0]) + 250
    elif defect == "negative_value":
        mask = out["metric_id"] == metrics.admissions
        out.loc[mask, "value"] = -int(out.loc[mask, "value"].iloc[0] or 1) if mask.any() else 0
    elif defect == "metric_typo":
        out.loc[out.index[0], "metric_id"] = metrics.misspelt
    elif defect == "suppressed":
        out.loc[out.index[-1], "value"] = "*"
        out.loc[out.index[-1], "comment"] = "Fewer than 5 patients: suppressed"
    return out


def _write_wide(body: pd.DataFrame, path: Path) -> None:
    """The canonical wide template: one row per provider and month, one column per metric."""
    wide = body.pivot_table(
        index=["provider_code", "period"], columns="metric_id", values="value", aggfunc="first"
    ).reset_index()
    wide.columns.name = None
    for col in wide.columns[2:]:
        wide[col] = wide[col].map(lambda v: f"{int(v):,}" if pd.notna(v) else "")
    wide.to_csv(path, index=False)
