"""The atomic writers live on the ground floor (`collectonce.atomic`); the old name stays."""

from collectonce.atomic import fsync_dir, write_bytes_atomic, write_json_atomic, write_text_atomic

__all__ = ["fsync_dir", "write_bytes_atomic", "write_json_atomic", "write_text_atomic"]
