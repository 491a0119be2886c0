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
* Numbers are Unix epoch seconds (``1434931811``) or milliseconds, detected by their size
  (seconds from 1973 on, 10^8, to 2100; milliseconds the same times 1000) or named
  (``date_format: unix`` / ``unix_ms``); their launch day is the UTC day. ``20161231`` is read
  as ``%Y%m%d``.

Dates that cannot be what a launch history holds stop loading with a :class:`SpecError` that
names the column, what was found and the key to set: most values unreadable, most dates outside
1900 to 2100, or nearly every launch on one day (seconds read as nanoseconds put every launch on
1 January 1970). A few dates outside that range are left out, counted and warned about.

Every format is given to pandas explicitly, so pandas never guesses (and never warns that it
could not infer one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features.spec import UNIX_FORMATS, SpecError

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
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?")
PLAUSIBLE = (pd.Timestamp("1900-01-01"), pd.Timestamp("2100-12-31"))  # a launch's day
UNIX_SECONDS = (1e8, 4_133_980_800.0)  # 1973-03-03 to 2101-01-01: a launch's epoch seconds
UNIX_SCALE = {"unix": 1.0, "unix_ms": 1000.0}
ONE_DAY_SHARE = 0.95  # this share of the launches on one day: the dates were misread
ONE_DAY_MIN_LAUNCHES = 20
HINT = (
    "set date_format in the spec to how the column is written (a strftime format such as "
    "'%d/%m/%Y %H:%M', or unix / unix_ms for epoch seconds / milliseconds)"
)


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
    implausible: int = 0  # values read as times no launch has (left unread), for the check
    wall: pd.Series | None = None


def parse_dates(values: pd.Series, column: str, date_format: str | None = None) -> ParsedDates:
    """The launch days and instants of ``values`` (see the module doc); ``column`` names the
    column in what is reported."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return _checked(_datetimes(values), values.astype("string"), column)
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    unix = date_format if date_format in UNIX_FORMATS else None
    if date_format is None and text.notna().any() and text.dropna().str.fullmatch(_NUMBER).all():
        unix = _unix_by_size(pd.to_numeric(text, errors="coerce"))
        if unix is None and text.dropna().str.fullmatch(r"\d{8}").all():
            return _checked(_text_dates(text, column, "%Y%m%d", "detected"), text, column)
    if unix is not None:
        parsed = _unix(text, unix, "spec" if date_format else "detected")
    else:
        parsed = _text_dates(text, column, date_format)
    return _checked(parsed, text, column)


def _text_dates(
    text: pd.Series, column: str, date_format: str | None, source: str = "spec"
) -> ParsedDates:
    parts = text.str.extract(_OFFSET)
    has_offset = parts[1].notna()
    wall_text = parts[0].where(has_offset, text)
    report: dict[str, Any] = {}
    notes: list[str] = []
    if date_format is not None:
        fmt = re.sub(r"\s*%[zZ]$", "", date_format)  # the offset is read apart
        report["date_format"], report["date_format_from"] = date_format, source
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
    return ParsedDates(wall.dt.normalize(), instant.dt.tz_localize("UTC"), report, notes, wall=wall)


def _unix_by_size(numbers: pd.Series) -> str | None:
    """unix or unix_ms if the numbers' median is a plausible launch time so, else None."""
    median = float(numbers.median())
    for name, scale in UNIX_SCALE.items():
        if UNIX_SECONDS[0] <= median / scale < UNIX_SECONDS[1]:
            return name
    return None


def _unix(text: pd.Series, unit: str, source: str) -> ParsedDates:
    """Epoch seconds or milliseconds; those outside :data:`UNIX_SECONDS` stay unread (NaT) and
    are counted, so the check can say what was found."""
    numbers = pd.to_numeric(text, errors="coerce")
    seconds = numbers / UNIX_SCALE[unit]
    inside = seconds.between(*UNIX_SECONDS)
    instant = pd.to_datetime(seconds.where(inside), unit="s", utc=True)
    report = {"date_format": unit, "date_format_from": source}
    parsed = ParsedDates(instant.dt.tz_localize(None).dt.normalize(), instant, report)
    parsed.implausible = int((numbers.notna() & ~inside).sum())
    return parsed


def _checked(parsed: ParsedDates, text: pd.Series, column: str) -> ParsedDates:
    """``parsed``, with dates outside :data:`PLAUSIBLE` left out (counted); a
    :class:`SpecError` when the dates cannot be what the column means (see the module doc)."""
    filled = int(text.notna().sum())
    day = parsed.day
    outside = day.notna() & ~day.between(*PLAUSIBLE)
    implausible = parsed.implausible + int(outside.sum())
    readable = int(day.notna().sum()) + parsed.implausible  # read, if implausibly
    how = f" as {parsed.report.get('date_format')}" if parsed.report else ""
    unix = parsed.report.get("date_format") in UNIX_FORMATS
    first = pd.Timestamp(UNIX_SECONDS[0], unit="s").year if unix else PLAUSIBLE[0].year
    if filled and readable < filled / 2:
        bad = text[text.notna() & day.isna()].unique()[:3]
        shown = ", ".join(repr(str(v)) for v in bad)
        raise SpecError(
            f"date column {column!r}: {filled - readable} of {filled} values do not read as "
            f"dates{how} (e.g. {shown}); {HINT}"
        )
    if readable and implausible > readable / 2:
        raise SpecError(
            f"date column {column!r}: {implausible} of {readable} dates read{how} fall outside "
            f"{first} to {PLAUSIBLE[1].year} ({_found(text, day)}); {HINT}"
        )
    day, instant = day.mask(outside), parsed.instant.mask(outside)
    counts = day.value_counts()
    if len(counts) and counts.sum() >= ONE_DAY_MIN_LAUNCHES:
        top = int(counts.iloc[0])
        if top >= ONE_DAY_SHARE * counts.sum():
            raise SpecError(
                f"date column {column!r}: {top} of {int(counts.sum())} launches fall on "
                f"{counts.index[0].date()} ({_found(text, day)}); if the dates were misread, "
                f"{HINT}; a history of one day cannot be split out of time"
            )
    if implausible:
        parsed.report["dates_implausible"] = implausible
        parsed.notes.append(
            f"{column}: {implausible} dates outside {first} to {PLAUSIBLE[1].year} left out "
            "as missing"
        )
    wall = None if parsed.wall is None else parsed.wall.mask(outside)
    return ParsedDates(day, instant, parsed.report, parsed.notes, wall=wall)


def _found(text: pd.Series, day: pd.Series) -> str:
    """What the column holds, for a message: its values' range, and the dates read."""
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().any() and numbers.notna().sum() == text.notna().sum():
        values = f"values from {numbers.min():.15g} to {numbers.max():.15g}"
    else:
        values = "values such as " + ", ".join(repr(str(v)) for v in text.dropna().unique()[:2])
    if day.notna().any():
        return f"{values}; read as {day.min().date()} to {day.max().date()}"
    return values


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
        return ParsedDates(local.dt.normalize(), values.dt.tz_convert("UTC"), wall=local)
    return ParsedDates(values.dt.normalize(), values.dt.tz_localize("UTC"), wall=values)
