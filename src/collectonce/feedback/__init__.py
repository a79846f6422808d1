"""Giving providers their data back: SPC (Making Data Count) engine, charts and packs."""
