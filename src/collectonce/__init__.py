"""collectonce: NHS providers submit once; every requester is served from one published dataset."""

from collectonce._quiet import quiet_environment

quiet_environment()

__version__ = "0.1.0"
