"""Storage moved into the store (`collectonce.store.storage`); this name stays for old imports."""

from collectonce.store.storage import Storage, archive_store, landing_store, storage_for

__all__ = ["Storage", "archive_store", "landing_store", "storage_for"]
