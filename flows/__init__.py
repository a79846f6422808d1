"""Prefect flows: thin compositions of collectonce library functions."""
