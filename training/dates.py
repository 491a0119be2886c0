"""Launch dates as exports write them: the one parser of a launch history's date column.

* A time followed by a UTC offset (``2022-01-01T00:12:52-08:00``, ``-07:00`` in summer, or
  ``Z``) is converted to UTC for the instant, and the launch day is the date part as written,
  in its own offset: a launch at 23:30 Pacific time is that day's launch, not the next day's.
  Mixed offsets in one column are fine.
* Without an offset, the instant is the time as written, taken as UTC.
* Text is read with the spec's ``date_format`` (a strftime format for the part before any
  offset) or, without one, with the first of :data:`CANDIDATES` that reads the most values
  (ISO 8601 first, month-first before day-first). Where the day and the month could swap
  (``3/1/17``), the report counts the rows that would read differently the other way round.
* A column already holding datetimes (Parquet) keeps them: a zone-aware one is converted to UTC
  for the instant, its launch day is the local day.

Every format is given to pandas explicitly, so pandas never guesses (and never warns that it
could not infer one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

ISO = "ISO8601"  # pandas' own ISO 8601 reader (with or without a time)
_DAYS_FIRST = ["%d/%m/%Y", "%d/%m/%y", "%d.%m.%Y", "%d.%m.%y", "%d-%m-%Y"]
_MONTHS_FIRST = ["%m/%d/%Y", "%m/%d/%y", "%m.%d.%Y", "%m.%d.%y", "%m-%d-%Y"]
# month first before day first: what pandas and US spreadsheets do when both read
_DATES = [
    *_MONTHS_FIRST,
    *_DAYS_FIRST,
    "%Y/%m/%d",
    "%Y%m%d",
    "%d %b %Y",
    "%b %d %Y",
    "%b %d, %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
]
_TIMES = ["", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p"]
CANDIDATES = [ISO] + [d + t for d in _DATES for t in _TIMES]
# the same format with day and month swapped (for the count of rows that would read differently)
_SWAP = dict(zip(_MONTHS_FIRST, _DAYS_FIRST, strict=True)) | dict(
    zip(_DAYS_FIRST, _MONTHS_FIRST, strict=True)
)
DETECT_SAMPLE = 2000  # distinct values a candidate format is tried on
# a UTC offset after a time: 12:52-08:00, 12:52:07.5 +0100, 12:52Z (a date alone has none, so
# the year of 01-02-2022 is never taken for an offset)
_OFFSET = re.compile(r"^(.*\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(Z|[+-]\d{2}:?\d{2})$")


@dataclass
class ParsedDates:
    """A date column parsed: ``day`` (the launch's local day as written, datetime64 at
    midnight) and ``instant`` (UTC), NaT where a value did not parse; what was done, for the
    data report; and ``notes``, lines worth printing on the console. ``wall``: the local time
    as written (the launch hour of a spec's ``timing``)."""

    day: pd.Series
    instant: pd.Series
    report: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    wall: pd.Series | None = None


def parse_dates(values: pd.Series, column: str, date_format: str | None = None) -> ParsedDates:
    """The launch days and instants of ``values`` (see the module doc); ``column`` names the
    column in what is reported."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return _datetimes(values)
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    parts = text.str.extract(_OFFSET)
    has_offset = parts[1].notna()
    wall_text = parts[0].where(has_offset, text)
    report: dict[str, Any] = {}
    notes: list[str] = []
    if date_format is not None:
        fmt = re.sub(r"\s*%[zZ]$", "", date_format)  # the offset is read apart
        report["date_format"], report["date_format_from"] = date_format, "spec"
    else:
        fmt = detect_format(wall_text)
        report["date_format"] = "ISO 8601" if fmt == ISO else fmt
        report["date_format_from"] = "detected"
    wall = _parse(wall_text, fmt)
    if has_offset.any():
        offsets = parts[1].where(has_offset)
        minutes = offsets.map(_offset_minutes, na_action="ignore").astype("float64")
        instant = wall - pd.to_timedelta(minutes.fillna(0.0), unit="min")
        shown = sorted(set(offsets.dropna().map(_offset_text)))
        report["date_utc_offsets"] = ", ".join(shown)
    else:
        instant = wall
    swapped_format = _swapped(fmt)
    if swapped_format is not None:
        other = _parse(wall_text, swapped_format)
        differ = int(
            (wall.notna() & other.notna() & (wall.dt.normalize() != other.dt.normalize())).sum()
        )
        day_first = fmt.startswith("%d")
        key = "dates_read_differently_" + ("month_first" if day_first else "day_first")
        report[key] = differ
        read_all_the_other_way = other.notna().sum() >= wall.notna().sum()
        if differ and date_format is None and read_all_the_other_way:
            notes.append(
                f"{column}: dates read {'day' if day_first else 'month'} first ({fmt}); "
                f"{differ} of them would read differently {'month' if day_first else 'day'} "
                "first: set date_format in the spec if that is wrong"
            )
    return ParsedDates(wall.dt.normalize(), instant.dt.tz_localize("UTC"), report, notes, wall)


def detect_format(wall_text: pd.Series) -> str:
    """The candidate format that reads the most of (a sample of) the distinct values; the
    first in :data:`CANDIDATES` order among equals."""
    sample = pd.Series(wall_text.dropna().unique()[:DETECT_SAMPLE], dtype="string")
    if sample.empty:
        return ISO
    best, best_count = ISO, -1
    for fmt in CANDIDATES:
        count = int(_parse(sample, fmt).notna().sum())
        if count > best_count:
            best, best_count = fmt, count
        if count == len(sample):
            break
    return best


def _parse(text: pd.Series, fmt: str) -> pd.Series:
    return pd.to_datetime(text, format=fmt, errors="coerce")


def _swapped(fmt: str) -> str | None:
    """``fmt`` with day and month swapped, if it writes both as numbers before the year."""
    for date, other in _SWAP.items():
        if fmt.startswith(date):
            return other + fmt[len(date) :]
    return None


def _offset_minutes(offset: str) -> float:
    if offset == "Z":
        return 0.0
    sign = -1.0 if offset[0] == "-" else 1.0
    digits = offset[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:]))


def _offset_text(offset: str) -> str:
    minutes = _offset_minutes(offset)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{int(abs(minutes)) // 60:02d}:{int(abs(minutes)) % 60:02d}"


def _datetimes(values: pd.Series) -> ParsedDates:
    if getattr(values.dt, "tz", None) is not None:
        local = values.dt.tz_localize(None)
        return ParsedDates(local.dt.normalize(), values.dt.tz_convert("UTC"), {}, [], local)
    return ParsedDates(values.dt.normalize(), values.dt.tz_localize("UTC"), {}, [], values)
