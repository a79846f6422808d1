"""Crash points for the fault-injection tests: `fault_point("submit:stored")` kills the process
right there when ``COLLECTONCE_FAULT_AT`` names that point, as a power cut or an OOM kill would.
With the variable unset (always, outside those tests) it does nothing."""

from __future__ import annotations

import os
import signal

#: The points, in the order a submission and a publication pass them.
POINTS = (
    "submit:archived",
    "submit:stored",
    "submit:before_receipt",
    "submit:receipt_written",
    "publish:before_commit",
    "publish:committed",
)


def fault_point(name: str) -> None:
    """Die at once (SIGKILL, no clean-up) when ``COLLECTONCE_FAULT_AT`` is `name`."""
    if os.environ.get("COLLECTONCE_FAULT_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
