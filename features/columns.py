"""Concepts to the column mapping the feature builder takes: one adapter per input shape (row
dicts, a DataFrame), one date rule for both.

Columns are ``name -> numpy array``; the date column holds ``datetime64[D]`` launch days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from features.spec import DatasetSpec

if TYPE_CHECKING:  # the service builds columns from dicts and never needs pandas
    import pandas as pd


def launch_days(values: Any, date_is_year: bool) -> np.ndarray:
    """The one date rule: a year (2008) is 1 January of that year; anything else (ISO strings,
    dates, datetime64) is its day."""
    if date_is_year:
        years = np.asarray(values, dtype=float).astype(np.int64)
        return (years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    return np.asarray(values).astype("datetime64[D]")


def from_records(records: Sequence[Mapping[str, Any]], spec: DatasetSpec) -> dict[str, np.ndarray]:
    """Row dicts (concepts as the API validated them) -> columns, without pandas (the serving
    hot path)."""
    cols = {
        c: np.array([r.get(c) for r in records])
        for c in spec.input_columns()
        if c != spec.date_column
    }
    days = [r[spec.date_column] for r in records]
    cols[spec.date_column] = launch_days(days, spec.date_is_year)
    return cols


def from_frame(
    frame: pd.DataFrame, spec: DatasetSpec, days: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """A DataFrame -> columns. ``days``: launch days already parsed by the date rule (a loaded
    launch history keeps them in its ``launch_day`` column); otherwise the date column is
    parsed here."""
    cols = {c: frame[c].to_numpy() for c in spec.input_columns() if c != spec.date_column}
    if days is None:
        days = launch_days(frame[spec.date_column].to_numpy(), spec.date_is_year)
    cols[spec.date_column] = np.asarray(days).astype("datetime64[D]")
    return cols
