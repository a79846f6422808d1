"""The pull API: scoped tokens, the audit log, and the FastAPI app served by `collectonce serve`.

`collectonce.api.app` imports FastAPI; the CLI imports it only inside `serve`, so
`collectonce --help` stays fast.
"""
