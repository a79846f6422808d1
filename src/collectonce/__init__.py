"""collectonce: NHS providers submit once; every requester is served from one published dataset.

Importing the package changes nothing in the environment: the entry points (the `collectonce`
command, the flows, the test suite) call `collectonce._quiet.quiet_environment` themselves.
"""

__version__ = "0.1.0"
