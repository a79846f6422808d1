"""Rows and groups of the feedback stage's frames, typed by their string column names."""

from __future__ import annotations

from typing import Any

import pandas as pd


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of `frame` as dicts keyed by column name (the columns are strings)."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def frames_by(frame: pd.DataFrame, column: str) -> dict[str, pd.DataFrame]:
    """`frame` split by one column's values, in order of first appearance, keyed as text."""
    return {str(k): part for k, part in frame.groupby(column, sort=False, observed=True)}
