"""Storage: the raw-file archive, the submissions table, receipts and quarantine."""
