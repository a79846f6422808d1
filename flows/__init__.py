"""Prefect flows: thin compositions of collectonce library functions.

An entry point of its own: before any flow imports Prefect, telemetry is switched off and
Prefect's state is kept under the data folder.
"""

from collectonce._quiet import quiet_environment

quiet_environment()
