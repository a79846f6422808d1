"""`collectonce demo`: the whole mission end to end on real NHS data, Prefect in ephemeral mode."""

from __future__ import annotations

import contextlib
import logging
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer

from collectonce.catalog.cli_open import open_catalog
from collectonce.cli_common import CatalogOpt, JsonOpt, console, fail, print_json
from collectonce.errors import DemoError

PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: The entry-point group the flows register under (see pyproject.toml).
FLOW_ENTRY_POINTS = "collectonce.flows"

#: Written into a data folder the demo made; the demo only ever empties such a folder.
MARKER = ".collectonce-demo"

#: What each stage of the collect_once flow is, in the demo's numbering.
STAGES = {
    "watch_landing": "3/7 ingest",
    "publish_dataset": "4/7 publish",
    "build_views": "5/7 views",
    "send_provider_feedback": "6/7 packs",
    "report_burden": "7/7 burden",
}


class DemoFolderInUse(DemoError):
    """The data folder holds data the demo did not make."""

    def __init__(self, home: Path) -> None:
        super().__init__(
            f"{home} holds data the demo did not make, and the demo never writes into or "
            "empties such a folder: pass --home with a new folder (or set COLLECTONCE_HOME)"
        )


def _find(relative: str) -> Path | None:
    for base in (Path.cwd(), PROJECT_ROOT):
        candidate = base / relative
        if candidate.exists():
            return candidate
    return None


def load_flow(name: str) -> Any:
    """A flow registered under the `collectonce.flows` entry points (the project's `flows/`)."""
    found = entry_points(group=FLOW_ENTRY_POINTS, name=name)
    if not found:
        fail(
            f"the {name} flow is not installed: install the project with "
            "`pip install -e .` from the project folder"
        )
    return next(iter(found)).load()


def is_demo_folder(home: Path) -> bool:
    """Whether the demo may empty `home`: it is missing or empty, or the demo made it."""
    if not home.exists():
        return True
    if not home.is_dir():
        return False
    # `later/` is where the demo keeps its late revision: no other command makes it.
    return (home / MARKER).exists() or (home / "later").is_dir() or not any(home.iterdir())


def prepare_home(home: Path, fresh: bool) -> bool:
    """Make `home` ready for the demo; return whether an earlier demo's data was removed.

    Raises DemoFolderInUse rather than touch a folder the demo did not make.
    """
    if not is_demo_folder(home):
        raise DemoFolderInUse(home)
    removed = fresh and home.exists() and any(home.iterdir())
    if removed:
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text("made by `collectonce demo`; `collectonce demo` empties it\n")
    return removed


class _StageLog(logging.Handler):
    """Shows the flow runs' own progress lines as the demo's numbered stages."""

    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            stage = STAGES.get(str(getattr(record, "flow_name", "")))
            chatter = stage is None or message.startswith(("Beginning", "Finished in state"))
            if record.levelno < logging.WARNING and chatter:
                return
            self.say(f"    {stage or getattr(record, 'flow_name', 'prefect')}: {message}")
        except Exception:  # a progress line must never break the run
            self.handleError(record)


def _warnings_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


@contextlib.contextmanager
def _progress(say: Callable[[str], None]) -> Iterator[None]:
    """Print each stage's summary as it ends; keep Prefect's and GX's chatter out."""
    flow_runs = logging.getLogger("prefect.flow_runs")
    # GX sets this module's logger to INFO when it is imported, to announce a temporary folder.
    gx = logging.getLogger("great_expectations.data_context.types.base")
    saved = (flow_runs.level, flow_runs.propagate)
    handler = _StageLog(say)
    flow_runs.setLevel(logging.INFO)
    flow_runs.propagate = False
    flow_runs.addHandler(handler)
    gx.addFilter(_warnings_only)
    try:
        yield
    finally:
        flow_runs.removeHandler(handler)
        flow_runs.setLevel(saved[0])
        flow_runs.propagate = saved[1]
        gx.removeFilter(_warnings_only)


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
    from collectonce.store.receipts import Receipt

    started = time.perf_counter()
    home = home.resolve()
    if not is_demo_folder(home):
        fail(str(DemoFolderInUse(home)))
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

    # Only once the catalogue is known to be good is an earlier demo's data removed.
    if prepare_home(home, fresh):
        say(f"    starting afresh: the earlier demo's data in {home} was removed (--keep keeps it)")
    use_data_folder(home)
    settings = get_settings(home=home, catalog=catalog_dir)

    t0 = time.perf_counter()
    say("2/7 generating provider submissions from the real A&E data")
    source = ae_csv or _find("data/ae_attendances.csv")
    if source is None:
        fail("data/ae_attendances.csv was not found: run the demo from the project folder")
    later = settings.root / "later"
    files = generate_demo_files(source, catalog, settings.landing_dir, later, monthly_months=months)
    say(
        f"    history back-fill {files.history.name}, {len(files.monthly)} monthly files for "
        f"{', '.join(files.months) or 'no month'}, {len(files.with_errors)} with mistakes, "
        f"legacy return {files.legacy.name if files.legacy else 'none'}"
    )
    step("generate_submissions", t0)

    collect_once = load_flow("collect_once")

    def run_flow() -> dict[str, Any]:
        try:
            with _progress(say):
                return collect_once(catalog_dir=str(catalog_dir.resolve()), home=str(home))
        except Exception as exc:
            fail(
                f"the collect_once flow failed: {exc}. Receipts are in {settings.receipts_dir}; "
                "run the demo again once the cause is fixed"
            )

    # The data team loads the back-filled history before the monthly files are picked up, so
    # each month is checked against the history before it, the same way on every run.
    t0 = time.perf_counter()
    backfill = settings.root / "backfill" / files.history.name
    backfill.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(files.history), backfill)
    say(f"3/7 ingest: the data team loads the back-fill {backfill.name} (ingest_submission flow)")
    try:
        with _progress(say):
            history_receipt = Receipt.from_dict(
                load_flow("ingest_submission")(
                    path=str(backfill), catalog_dir=str(catalog_dir.resolve()), home=str(home)
                )
            )
    except Exception as exc:
        fail(f"the ingest_submission flow failed on the back-fill: {exc}")
    say(
        f"    {history_receipt.status}: {history_receipt.rows_accepted:,} of "
        f"{history_receipt.rows_read:,} rows"
    )
    step("ingest_backfill", t0)

    t0 = time.perf_counter()
    say("3-7/7 the collect_once flow, Prefect in ephemeral mode: ingest → publish → views → packs")
    first = run_flow()
    step("collect_once_first_run", t0)
    statuses: dict[str, int] = {history_receipt.status: 1}
    for receipt in map(Receipt.from_dict, first["receipts"]):
        statuses[receipt.status] = statuses.get(receipt.status, 0) + 1

    second: dict[str, Any] = {}
    if files.revision:
        t0 = time.perf_counter()
        say(f"a late revision arrives: {files.revision.name}; the collect_once flow runs again")
        shutil.move(str(files.revision), settings.landing_dir / files.revision.name)
        second = run_flow()
        step("collect_once_revision", t0)
        rebuilt = ", ".join(second["packs"].get("providers") or []) or "no provider"
        say(f"    publication v{second['publication'].get('version')}; packs rebuilt for {rebuilt}")

    t0 = time.perf_counter()
    say("packs one level up: England and each region, rolled up from the providers' values")
    from collectonce.feedback.level_pack import build_changed_level_packs

    # the flow's packs run wrote them; this writes any it left out, and finds them all
    found = build_changed_level_packs(catalog, settings)
    level_packs = {p["title"]: Path(p["path"]) for p in found}
    say(f"    {len(level_packs)} packs in {settings.packs_dir / 'levels'}")
    step("level_packs", t0)

    burden = (second or first)["burden"]
    return {
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
        "level_packs": {name: str(path) for name, path in level_packs.items()},
        "burden": {
            "hours_before": burden.get("hours_before"),
            "hours_after": burden.get("hours_after"),
        },
        "burden_report": (second or first)["burden_paths"],
    }


def _command() -> str:
    """How to call collectonce again from this shell: as typed when it is not on the PATH."""
    typed = sys.argv[0] if sys.argv else ""
    on_path = shutil.which("collectonce")
    if Path(typed).name != "collectonce" or (
        on_path and Path(on_path).resolve() == Path(typed).resolve()
    ):
        return "collectonce"
    return typed


def next_steps(home: Path, catalog: Path, pack_provider: str = "RRK") -> list[str]:
    """The lines that tell a person where to look and how to pull a view, all literally true."""
    from collectonce.catalog import load_catalog
    from collectonce.demo_data import headline_metric

    metric = headline_metric(load_catalog(catalog))
    exe = shlex.quote(_command())
    if catalog.resolve() != (Path.cwd() / "catalog").resolve():
        exe += f" --catalog {shlex.quote(str(catalog))}"
    lines = [
        f"  provider packs:   {home / 'packs' / pack_provider / f'{pack_provider}_pack.html'} "
        "(one folder per ODS code, HTML, XLSX and CSV)",
        f"  England's pack:   {home / 'packs' / 'levels' / 'england_pack.html'}",
        f"  a region's pack:  {home / 'packs' / 'levels' / 'london_pack.html'} "
        "(one per region, rolled up from its providers)",
        f"  burden report:    {home / 'reports' / 'burden.html'} (also .md and .json)",
        f"  request views:    {home / 'views'}",
    ]
    if home != (Path.cwd() / ".collectonce").resolve():
        lines.append(f"  in a shell:       export COLLECTONCE_HOME={shlex.quote(str(home))}")
    lines += [
        f"  receipts:         {exe} submissions list",
        f'  SQL:              {exe} query "SELECT metric_id, count(*) FROM unified GROUP BY 1"',
        "  pull a view:",
        f"    {exe} token create --requester nhs_england --json     # copy its token",
        f"    {exe} serve --port 8000 &",
        "    curl -H 'Authorization: Bearer <token>' "
        "'http://127.0.0.1:8000/v1/requests/nhse_ae_monthly/view?from=2018-10&to=2019-03"
        "&format=csv'",
        f"  roll-ups:         {exe} rollup --metric {metric} --level region --from 2018-10",
        "  a regional team:",
        f"    {exe} token create --region London --json     # its token, for the same server",
        f"    GET http://127.0.0.1:8000/v1/rollups/region?metric={metric}&from=2018-10"
        " and /v1/packs/region/London",
        "  the portal, as a provider in a browser:",
        f"    {exe} token create --provider RF4     # paste it at the sign-in page",
        f"    {exe} serve --port 8000     # then open http://127.0.0.1:8000/",
    ]
    return lines


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        catalog: CatalogOpt = Path("catalog"),
        home: Annotated[
            Path | None,
            typer.Option(
                "--home", help="Data folder for the demo (default: COLLECTONCE_HOME, .collectonce)."
            ),
        ] = None,
        months: Annotated[
            int,
            typer.Option(
                "--months",
                min=0,
                max=35,
                help="The latest months sent as one file per provider per month; earlier months "
                "come in one history file.",
            ),
        ] = 3,
        fresh: Annotated[
            bool,
            typer.Option(
                "--fresh/--keep",
                help="--fresh empties the data folder first (only one an earlier demo made); "
                "--keep runs on top of it, so every file comes back as a duplicate.",
            ),
        ] = True,
        json_out: JsonOpt = False,
    ) -> None:
        """Run the whole pipeline on the bundled real A&E data, end to end, in Prefect's
        ephemeral mode (no server). Takes two to three minutes. It never touches a data folder
        it did not make."""
        from collectonce.settings import get_settings

        target = home or get_settings().home
        say = (
            (lambda _msg: None)
            if json_out
            else (lambda msg: console.print(msg, highlight=False, soft_wrap=True))
        )
        result = run_demo(catalog, Path(target), months=months, fresh=fresh, say=say)
        if json_out:
            print_json(result)
            return
        console.print(f"\n[bold green]Done in {result['seconds']} s.[/] Where to look:")
        for line in next_steps(Path(result["home"]), catalog):
            console.print(line, highlight=False, soft_wrap=True)
        console.print(
            f"  burden: {result['burden']['hours_before']:,.0f} hours a year before, "
            f"{result['burden']['hours_after']:,.0f} after collecting once",
            highlight=False,
        )
