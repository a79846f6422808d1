"""The library changes nothing by being imported, and finds the flows without touching sys.path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[3]

_SNAPSHOT = """
import json, os, sys
before = dict(os.environ)
path_before = list(sys.path)
import collectonce, collectonce.cli, collectonce.definitions, collectonce.demo
import collectonce.ingest.service, collectonce.publish.unified, collectonce.api.app
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
print(json.dumps({"changed": changed, "path_changed": sys.path != path_before}))
"""


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "COLLECTONCE_"))}
    for key in ("GX_ANALYTICS_ENABLED", "DO_NOT_TRACK"):
        env.pop(key, None)
    env["COLLECTONCE_HOME"] = str(tmp_path / "home")
    return env


def _python(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run `script` in a fresh interpreter in `tmp_path`, with a clean environment."""
    return subprocess.run(
        [sys.executable, "-c", script],
        env=_clean_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def test_importing_the_library_leaves_the_environment_and_sys_path_alone(tmp_path: Path) -> None:
    out = _python(_SNAPSHOT, tmp_path)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"changed": [], "path_changed": False}


def test_the_command_quietens_the_environment_itself(tmp_path: Path) -> None:
    """The `collectonce` entry point (not the import) switches telemetry off."""
    script = (
        "import os, sys\n"
        "from collectonce.cli import main\n"
        "sys.argv = ['collectonce', '--version']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('DO_NOT_TRACK'), os.environ.get('GX_ANALYTICS_ENABLED'))\n"
        "print(os.environ.get('PREFECT_HOME'))\n"
    )
    out = _python(script, tmp_path)
    lines = out.stdout.strip().splitlines()
    assert lines[-2] == "1 false"
    assert Path(lines[-1]) == (tmp_path / "home" / "prefect").resolve()


def test_the_flows_are_found_through_their_entry_points() -> None:
    from collectonce.demo import load_flow

    flow = load_flow("collect_once")
    assert flow.name == "collect_once"
    assert load_flow("ingest_submission").name == "ingest_submission"


def test_no_library_module_edits_sys_path_or_imports_the_flows() -> None:
    offenders = []
    for path in sorted((ROOT / "src" / "collectonce").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "sys.path" in text or "import flows" in text or "from flows" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_every_registered_command_is_in_the_help() -> None:
    from collectonce.cli import app
    from collectonce.definitions import COMMAND_MODULES

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("catalog", "submit", "publish", "serve", "demo"):
        assert name in result.output
    assert "collectonce.demo" in COMMAND_MODULES
