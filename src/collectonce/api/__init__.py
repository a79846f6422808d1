"""The pull API: the FastAPI app served by `collectonce serve` (its tokens, audit log and
streamed uploads live in `collectonce.access`, shared with the portal).

`collectonce.api.app` imports FastAPI; the CLI imports it only inside `serve`, so
`collectonce --help` stays fast.
"""
