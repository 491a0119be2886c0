"""Concepts to the column mapping the feature builder takes: one adapter per input shape (row
dicts, a DataFrame), one date rule for both.

Columns are ``name -> numpy array``; the date column holds ``datetime64[D]`` launch days. A spec
whose ``timing`` asks for the hour also gets the launch hour, under :func:`hour_key`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from features.spec import DatasetSpec

if TYPE_CHECKING:  # the service builds columns from dicts and never needs pandas
    import pandas as pd


# an ISO 8601 timestamp: the date and the hour as written (before any offset)
_ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):)?")


def hour_key(spec: DatasetSpec) -> str:
    """The columns' key of the launch hour (a key no spec column can clash with)."""
    return f"{spec.date_column}\x00hour"


def launch_days(values: Any, date_is_year: bool) -> np.ndarray:
    """The one date rule: a year (2008) is 1 January of that year; a timestamp written with an
    offset (``2022-01-01T23:30:00-08:00``) is the day as written, in its own offset; anything
    else (ISO strings, dates, datetime64) is its day."""
    if date_is_year:
        years = np.asarray(values, dtype=float).astype(np.int64)
        return (years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    arr = np.asarray(values)
    # text longer than a date: the date part as written (numpy would convert to UTC)
    if arr.dtype.kind == "O" or (arr.dtype.kind == "U" and arr.dtype.itemsize > 40):
        arr = np.array([_local(v)[0] for v in arr.tolist()], dtype=object)
    return arr.astype("datetime64[D]")


def launch_hours(values: Any) -> np.ndarray:
    """The hour of each launch as written (0..23, in its own offset); NaN where the value
    holds no time. Timestamps (datetime64, pandas) give their wall-clock hour."""
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return (arr.astype("datetime64[h]").astype(np.int64) % 24).astype(float)
    return np.array([_local(v)[1] for v in arr.tolist()], dtype=float)


def _local(value: Any) -> tuple[Any, float]:
    """(the day as written, the hour as written or NaN) of one date or timestamp."""
    if hasattr(value, "hour"):  # datetime, pandas Timestamp: its own wall clock
        return np.datetime64(value.date(), "D"), float(value.hour)
    if hasattr(value, "isoformat"):  # a date
        return np.datetime64(value, "D"), np.nan
    match = _ISO_TIME.match(str(value))
    if match is None:
        return value, np.nan  # numpy's own parser (and its error) decides
    day, hour = match.groups()
    return day, float(hour) if hour is not None else np.nan


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
    if "hour" in spec.timing:
        cols[hour_key(spec)] = launch_hours(days)
    return cols


def from_frame(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    days: np.ndarray | None = None,
    hours: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """A DataFrame -> columns. ``days`` (and ``hours``): launch days (and hours) already parsed
    by the date rule (a loaded launch history keeps them in its ``launch_day`` and
    ``launch_hour`` columns); otherwise the date column is parsed here."""
    cols = {c: frame[c].to_numpy() for c in spec.input_columns() if c != spec.date_column}
    if days is None:
        days = launch_days(frame[spec.date_column].to_numpy(), spec.date_is_year)
    cols[spec.date_column] = np.asarray(days).astype("datetime64[D]")
    if "hour" in spec.timing:
        if hours is None:
            hours = launch_hours(frame[spec.date_column].to_numpy())
        cols[hour_key(spec)] = np.asarray(hours, dtype=float)
    return cols
