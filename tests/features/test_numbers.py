"""Numbers as people write them: currency, separators, spaces, percent, accounting negatives."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from features.numbers import parse_numbers


@pytest.mark.parametrize(
    "written, number",
    [
        (" $8,500.00 ", 8500.0),
        ("1 200", 1200.0),
        ("1\u00a0200,5", 1200.5),  # French: no-break space, decimal comma
        ("12%", 12.0),  # the number as written
        ("(1,200)", -1200.0),
        ("($3.50)", -3.5),
        ("€1.200,50", 1200.5),
        ("1.234.567", 1234567.0),
        ("2,50", 2.5),
        ("12,000,000", 12_000_000.0),
        ("US$ 3", 3.0),
        ("-$5", -5.0),
        ("EUR 10", 10.0),
        ("1'200", 1200.0),
        ("7", 7.0),
    ],
)
def test_a_written_number_reads(written: str, number: float) -> None:
    assert parse_numbers(pd.Series([written])).values.iloc[0] == number


def test_what_was_cleaned_and_what_did_not_read_are_counted() -> None:
    parsed = parse_numbers(
        pd.Series([" $8,500.00 ", "$900", "1200", "", None, "n/a", "1_000", "inf"])
    )
    assert parsed.values.iloc[:3].tolist() == [8500.0, 900.0, 1200.0]
    assert all(math.isnan(v) for v in parsed.values.iloc[3:])
    assert parsed.cleaned == {"currency signs": 2, "thousands separators": 1}
    assert parsed.describe_cleaning() == "currency signs, thousands separators (2 values)"
    assert (parsed.failed, parsed.filled) == (3, 6)  # empty cells are missing, not failures
    assert parsed.examples == ["n/a", "1_000", "inf"]


def test_numbers_stored_as_numbers_are_kept() -> None:
    parsed = parse_numbers(pd.Series([1, 2, None], dtype="float64"))
    assert parsed.values.iloc[:2].tolist() == [1.0, 2.0] and parsed.cleaned == {}
