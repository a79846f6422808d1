"""A headless Chromium for the tests that open a pack in a real browser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def find_browser() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def run(browser: str, args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    """Run the browser headless on `args` with its own profile folder; never raises on exit."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,2400",
    ]
    return subprocess.run(
        [browser, *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )
