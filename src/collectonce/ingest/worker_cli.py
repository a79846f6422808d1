"""`collectonce worker start|stop|status`: the validation worker of the data folder.

`collectonce submit` sends files to it when it runs and starts one when none does
(``COLLECTONCE_WORKER=auto``, the default; ``use`` never starts one, ``off`` never uses one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from collectonce.cli_common import CatalogOpt, JsonOpt, console, fail, print_json, settings_for

worker_app = typer.Typer(
    help="A validation worker keeping the catalogue and Great Expectations warm for `submit`."
)


def _show(answer: dict[str, Any], json_out: bool, line: str) -> None:
    if json_out:
        print_json(answer)
    else:
        console.print(line, highlight=False)


@worker_app.command("start")
def start_cmd(
    catalog: CatalogOpt = Path("catalog"),
    wait: Annotated[
        float, typer.Option("--wait", min=1, help="Seconds to wait for it to be ready.")
    ] = 120.0,
    json_out: JsonOpt = False,
) -> None:
    """Start the worker of this data folder (warm, in the background) unless one runs."""
    from collectonce.ingest import worker_link

    settings = settings_for(catalog)
    path = worker_link.socket_path(settings)
    running = worker_link.ping(path)
    if running is not None:
        _show(
            {**running, "started": False},
            json_out,
            f"a worker already runs: pid {running['pid']}, {path}",
        )
        return
    process = worker_link.start_detached(settings, catalog)
    status = worker_link.wait_for(settings, process, wait)
    if status is None:
        if json_out:
            print_json({"ok": False, "running": False, "log": str(worker_link.log_path(settings))})
        fail(f"the worker did not start: see {worker_link.log_path(settings)}", 1)
    _show(
        {**status, "started": True},
        json_out,
        f"worker started: pid {status['pid']}, {path}; it stops after "
        f"{settings.worker_idle_seconds:g} s idle",
    )


@worker_app.command("stop")
def stop_cmd(catalog: CatalogOpt = Path("catalog"), json_out: JsonOpt = False) -> None:
    """Stop the worker of this data folder (nothing to do when none runs)."""
    from collectonce.ingest import worker_link

    settings = settings_for(catalog)
    answer = worker_link.stop(settings)
    if answer is None:
        _show({"ok": True, "running": False, "stopped": False}, json_out, "no worker runs")
        return
    _show(
        {"ok": True, "running": False, "stopped": True, "pid": answer.get("pid")},
        json_out,
        f"worker {answer.get('pid')} stopped after {answer.get('served', 0)} request(s)",
    )


@worker_app.command("status")
def status_cmd(catalog: CatalogOpt = Path("catalog"), json_out: JsonOpt = False) -> None:
    """Say whether the worker of this data folder runs, and how busy it has been."""
    from collectonce.ingest import worker_link

    settings = settings_for(catalog)
    path = worker_link.socket_path(settings)
    status = worker_link.ping(path)
    if status is None:
        _show(
            {"ok": True, "running": False, "socket": str(path), "mode": settings.worker},
            json_out,
            f"no worker runs ({path}); COLLECTONCE_WORKER={settings.worker}",
        )
        return
    _show(
        {**status, "mode": settings.worker},
        json_out,
        f"worker pid {status['pid']} on {path}: {status['served']} request(s), idle "
        f"{status['idle_seconds']:g} s (stops at {status['idle_exit_seconds']:g} s)",
    )


def register(app: typer.Typer) -> None:
    app.add_typer(worker_app, name="worker")
