"""Publish once: the versioned unified table, each request's view of it, locks and exports.

- `collectonce.publish.unified`: `publish`, `read_unified`, `list_publications`,
  `latest_version` (Delta Lake, one atomic commit per publication).
- `collectonce.publish.views`: `render_view`, `provider_data`; their publication in memory is
  `collectonce.publish.snapshot` (`snapshot`, `warm_cache`, `clear_cache`).
- `collectonce.publish.locks`: `lock_periods`, `grant_exception`, `is_locked`, `late_changes`.
- `collectonce.publish.exports`: `write_export`, `iter_csv_chunks`, `to_records`.

Modules are imported on use, so importing this package stays cheap.
"""
