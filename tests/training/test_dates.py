"""Launch dates as exports write them: UTC offsets, ambiguous day/month orders, a named format."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from training.dates import parse_dates

# Product Hunt's createdAt: Pacific time, -08:00 in winter and -07:00 in summer
PACIFIC = pd.Series(
    [
        "2022-01-01T00:12:52-08:00",
        "2022-06-26T23:59:00-07:00",  # 06:59 UTC on the 27th: still the 26th where it launched
        "2022-12-31T16:30:00-08:00",  # 00:30 UTC on 1 January 2023
        "2022-03-13T01:00:00Z",
        "",
    ]
)


def quiet_parse(values: pd.Series, date_format: str | None = None):
    """parse_dates with every warning an error: pandas must never guess a format."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return parse_dates(values, "launched", date_format)


def test_mixed_utc_offsets_give_the_local_day_and_the_utc_instant() -> None:
    parsed = quiet_parse(PACIFIC)
    days = parsed.day.dt.strftime("%Y-%m-%d").tolist()
    assert days[:4] == ["2022-01-01", "2022-06-26", "2022-12-31", "2022-03-13"]
    assert pd.isna(parsed.day[4]) and pd.isna(parsed.instant[4])  # an empty cell: missing
    instants = parsed.instant.dt.strftime("%Y-%m-%d %H:%M").tolist()
    assert instants[:4] == [
        "2022-01-01 08:12",
        "2022-06-27 06:59",
        "2023-01-01 00:30",
        "2022-03-13 01:00",
    ]
    assert str(parsed.instant.dt.tz) == "UTC"
    assert parsed.report["date_utc_offsets"] == "+00:00, -07:00, -08:00"
    assert parsed.report["date_format"] == "ISO 8601"


US = pd.Series(["3/1/17 15:30", "12/31/16 09:05", "1/2/17 00:00", "7/4/17 8:00"])


def test_month_first_dates_with_date_format_and_the_day_first_count() -> None:
    parsed = quiet_parse(US, "%m/%d/%y %H:%M")
    assert parsed.day.dt.strftime("%Y-%m-%d").tolist() == [
        "2017-03-01",
        "2016-12-31",
        "2017-01-02",
        "2017-07-04",
    ]
    assert parsed.report["date_format"] == "%m/%d/%y %H:%M"
    assert parsed.report["date_format_from"] == "spec"
    # 3/1, 1/2 and 7/4 read differently day first; 12/31 has no 31st month
    assert parsed.report["dates_read_differently_day_first"] == 3
    assert parsed.notes == []  # the spec said: nothing to warn about


def test_day_first_named_in_the_spec() -> None:
    parsed = quiet_parse(US.iloc[[0, 2, 3]], "%d/%m/%y %H:%M")
    assert parsed.day.dt.strftime("%Y-%m-%d").tolist() == ["2017-01-03", "2017-02-01", "2017-04-07"]
    assert parsed.report["dates_read_differently_month_first"] == 3


def test_detection_reads_month_first_when_both_read_and_says_so() -> None:
    parsed = quiet_parse(US.iloc[[0, 2, 3]])  # every one reads both ways
    assert parsed.report["date_format"] == "%m/%d/%y %H:%M"
    assert parsed.report["date_format_from"] == "detected"
    assert len(parsed.notes) == 1
    note = parsed.notes[0]
    assert "launched" in note and "3 of them would read differently day" in note
    assert "date_format" in note


def test_detection_reads_day_first_when_only_that_reads_every_value() -> None:
    parsed = quiet_parse(pd.Series(["31/12/2016", "01/02/2017", "13/01/2017"]))
    assert parsed.report["date_format"] == "%d/%m/%Y"
    assert parsed.day.dt.strftime("%Y-%m-%d").tolist() == ["2016-12-31", "2017-02-01", "2017-01-13"]
    assert parsed.notes == []  # no choice was made by order alone


@pytest.mark.parametrize("text", ["01-02-2022", "2022-01-02"])
def test_a_year_after_a_dash_is_no_utc_offset(text: str) -> None:
    parsed = quiet_parse(pd.Series([text]))
    assert "date_utc_offsets" not in parsed.report
    assert parsed.day.notna().all()
