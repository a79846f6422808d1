"""Validation: catalogue-generated Great Expectations suites, extra rules, and typed findings."""
