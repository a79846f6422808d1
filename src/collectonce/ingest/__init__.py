"""Ingest: read providers' files into canonical long rows (readers), then submit them (service)."""
