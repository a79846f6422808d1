"""Great Expectations is imported without the modules only unused expectations need, and a
submission through `collectonce submit` still validates and stores its results for Data Docs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CATALOG = ROOT / "catalog"

SUBMIT_THEN_REPORT = """
import json, sys
from collectonce.cli import main
try:
    main()
except SystemExit:
    pass
from collectonce.validate.gx_import import is_deferred
print("MODULES" + json.dumps({n: is_deferred(n) for n in ("scipy.stats", "altair")}))
"""

CSV = (
    "provider_code,period,metric_id,value\n"
    "RF4,2018-04,ae_attendances_type1,1000\n"
    "RF4,2018-04,ae_attendances_other,100\n"
)


def _env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "COLLECTONCE_HOME": str(home),
        "GX_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }


def _submit(home: Path, path: Path) -> tuple[dict[str, object], dict[str, bool]]:
    args = ["collectonce", "submit", str(path), "--json", "--catalog", str(CATALOG)]
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.argv = {args!r}\n{SUBMIT_THEN_REPORT}"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out, _, modules = done.stdout.rpartition("MODULES")
    assert modules, done.stderr[-2000:]
    return json.loads(out), json.loads(modules)


def test_deferred_module_loads_on_first_use() -> None:
    code = (
        "from collectonce.validate.gx_import import load_gx, is_deferred\n"
        "import sys\n"
        "gx = load_gx()\n"
        "assert gx.get_context(mode='ephemeral') is not None\n"
        "assert is_deferred('scipy.stats') and is_deferred('altair')\n"
        "from scipy import stats\n"
        "assert abs(stats.entropy([0.5, 0.5]) - 0.6931471805599453) < 1e-12\n"
        "assert not is_deferred('scipy.stats')\n"
        "from scipy.stats import norm\n"
        "assert norm.cdf(0) == 0.5\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


@pytest.mark.parametrize("files", [2])
def test_submit_validates_without_unused_modules_and_keeps_results(
    tmp_path: Path, files: int
) -> None:
    home = tmp_path / "home"
    validations = home / "gx_project" / "gx" / "uncommitted" / "validations"
    for n in range(files):
        path = tmp_path / f"RF4_{n}.csv"
        path.write_text(CSV.replace("1000", str(1000 + n)), encoding="utf-8")
        receipt, modules = _submit(home, path)
        assert receipt["status"] in {"accepted", "accepted_with_warnings"}, receipt
        assert modules == {"scipy.stats": True, "altair": True}
        # Each run's results are in the project's store, where Data Docs are rendered from.
        assert len(list(validations.rglob("*.json"))) >= n + 1
    assert (home / "gx_project" / "gx" / "uncommitted" / "collectonce_catalog.txt").is_file()
