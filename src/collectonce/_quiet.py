"""Keep the stack offline and quiet: no telemetry, no state written to the user's home."""

from __future__ import annotations

import os
from pathlib import Path

_DEFAULTS = {
    "GX_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_UI_ENABLED": "false",
}


_AUTO = "COLLECTONCE_PREFECT_HOME_DEFAULTED"


def quiet_environment() -> None:
    """Set telemetry-off defaults and keep Prefect's state under the data folder.

    Values the user has already set win; this only fills gaps.
    """
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    if "PREFECT_HOME" not in os.environ or os.environ.get(_AUTO) == "1":
        home = Path(os.environ.get("COLLECTONCE_HOME", ".collectonce")).expanduser()
        os.environ["PREFECT_HOME"] = str((home / "prefect").resolve())
        os.environ[_AUTO] = "1"


def use_data_folder(home: Path) -> None:
    """Point COLLECTONCE_HOME (and Prefect's state, unless the user chose it) at `home`.

    Call before Prefect is first imported in this process.
    """
    os.environ["COLLECTONCE_HOME"] = str(home)
    quiet_environment()
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
