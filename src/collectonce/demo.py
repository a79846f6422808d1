"""`collectonce demo`: the whole mission end to end on real NHS data, Prefect in ephemeral mode."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from collectonce.cli_common import CatalogOpt, JsonOpt, console, fail, open_catalog, print_json

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _find(relative: str) -> Path | None:
    for base in (Path.cwd(), PROJECT_ROOT):
        candidate = base / relative
        if candidate.exists():
            return candidate
    return None


def _import_flows() -> Any:
    flows_dir = _find("flows")
    if flows_dir is None:
        fail("the flows/ folder was not found: run the demo from the project folder")
    root = str(flows_dir.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    import flows.collect_once as collect_once_module

    return collect_once_module


def run_demo(
    catalog_dir: Path,
    home: Path,
    *,
    months: int = 3,
    fresh: bool = True,
    ae_csv: Path | None = None,
    say: Any = print,
) -> dict[str, Any]:
    """Run every stage on the bundled A&E data; return what a person should look at."""
    from collectonce._quiet import use_data_folder
    from collectonce.demo_data import generate_demo_files
    from collectonce.settings import get_settings

    started = time.perf_counter()
    home = home.resolve()
    if fresh and home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    use_data_folder(home)
    settings = get_settings(home=home, catalog=catalog_dir)
    steps: dict[str, float] = {}

    def step(name: str, t0: float) -> None:
        steps[name] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    say("1/7 checking the catalogue")
    catalog = open_catalog(catalog_dir)
    say(
        f"    catalogue {catalog.version}: {len(catalog.metrics)} metrics, "
        f"{len(catalog.requests)} requests, {len(catalog.providers)} providers"
    )
    step("check_catalogue", t0)

    t0 = time.perf_counter()
    say("2/7 generating provider submissions from the real A&E data")
    source = ae_csv or _find("data/ae_attendances.csv")
    if source is None:
        fail("data/ae_attendances.csv was not found: run the demo from the project folder")
    later = settings.root / "later"
    files = generate_demo_files(source, catalog, settings.landing_dir, later, monthly_months=months)
    say(
        f"    history back-fill {files.history.name}, {len(files.monthly)} monthly files for "
        f"{', '.join(files.months)}, {len(files.with_errors)} with mistakes, "
        f"legacy return {files.legacy.name if files.legacy else 'none'}"
    )
    step("generate_submissions", t0)

    collect_once = _import_flows().collect_once
    t0 = time.perf_counter()
    say("3-7/7 running the collect_once flow: ingest, publish, views, packs, burden")
    first = collect_once(catalog_dir=str(catalog_dir.resolve()), home=str(home))
    step("collect_once_first_run", t0)
    statuses: dict[str, int] = {}
    for receipt in first["receipts"]:
        statuses[receipt["status"]] = statuses.get(receipt["status"], 0) + 1
    say(f"    receipts: {statuses}")
    say(
        f"    publication v{first['publication'].get('version')}: "
        f"{first['publication'].get('counts')}"
    )

    second: dict[str, Any] = {}
    if files.revision:
        t0 = time.perf_counter()
        say(f"    a late revision arrives: {files.revision.name}; running collect_once again")
        shutil.move(str(files.revision), settings.landing_dir / files.revision.name)
        second = collect_once(catalog_dir=str(catalog_dir.resolve()), home=str(home))
        step("collect_once_revision", t0)
        say(
            f"    publication v{second['publication'].get('version')}, packs rebuilt for "
            f"{second['packs'].get('providers')}"
        )

    burden = (second or first)["burden"]
    result = {
        "home": str(home),
        "seconds": round(time.perf_counter() - started, 1),
        "steps": steps,
        "files": {
            "history": files.history.name,
            "monthly": len(files.monthly),
            "with_errors": [p.name for p in files.with_errors],
            "legacy": files.legacy.name if files.legacy else None,
            "revision": files.revision.name if files.revision else None,
        },
        "receipts": statuses,
        "publication": (second or first)["publication"],
        "views": [v["path"] for v in first["views"]],
        "packs_dir": str(settings.packs_dir),
        "packs_built": first["packs"].get("built"),
        "burden": {
            "hours_before": burden.get("hours_before"),
            "hours_after": burden.get("hours_after"),
        },
        "burden_report": (second or first)["burden_paths"],
    }
    return result


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        catalog: CatalogOpt = Path("catalog"),
        home: Annotated[
            Path | None,
            typer.Option("--home", help="Data folder for the demo (default: COLLECTONCE_HOME)."),
        ] = None,
        months: Annotated[
            int,
            typer.Option("--months", min=0, max=36, help="Recent months as monthly files."),
        ] = 3,
        fresh: Annotated[
            bool, typer.Option("--fresh/--keep", help="Start from an empty data folder.")
        ] = True,
        json_out: JsonOpt = False,
    ) -> None:
        """Run the whole pipeline on the bundled real A&E data, end to end."""
        from collectonce.settings import get_settings

        target = home or get_settings().home
        say = (lambda _msg: None) if json_out else (lambda msg: console.print(msg, highlight=False))
        result = run_demo(catalog, Path(target), months=months, fresh=fresh, say=say)
        if json_out:
            print_json(result)
            return
        console.print(f"\n[bold green]Done in {result['seconds']} s.[/] Where to look:")
        packs = Path(result["packs_dir"])
        console.print(
            f"  provider packs:   {packs / 'RRK' / 'RRK_pack.html'} (one folder per ODS code)"
        )
        for kind, path in result["burden_report"].items():
            console.print(f"  burden report:    {path}  ({kind})")
        console.print(f"  request views:    {Path(result['home']) / 'views'}")
        console.print(
            f"  burden: {result['burden']['hours_before']:,.0f} hours a year before, "
            f"{result['burden']['hours_after']:,.0f} after collecting once"
        )
        console.print(
            "  pull a view:      collectonce token create --requester nhs_england --json\n"
            "                    collectonce serve --port 8000 &\n"
            "                    curl -H 'Authorization: Bearer <token>' "
            "'http://127.0.0.1:8000/v1/requests/nhse_ae_monthly/view?from=2018-10&to=2019-03"
            "&format=csv'"
        )
