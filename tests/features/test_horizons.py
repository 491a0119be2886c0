"""Months after a launch and the festivals in them."""

from __future__ import annotations

import numpy as np

from features.horizons import festival_months


def test_festival_months() -> None:
    dates = np.array(["2026-10-20", "2026-01-01", "2025-06-18", "2027-03-05"], "datetime64[D]")
    inside = festival_months(dates, [(11, 11), (6, 18), (2, 29)], 12)
    found = [sorted((int(m) + 1, int(f)) for m, f in np.argwhere(row)) for row in inside]
    # 10-20: 11-11 in days 0-29 (month 1), 2027-06-18 on day 241 (month 9), 2027-03-01 (no
    # 29 February in 2027) on day 132 (month 5)
    assert found[0] == [(1, 0), (5, 2), (9, 1)]
    assert found[1] == [(2, 2), (6, 1), (11, 0)]  # 2026-03-01 on day 59, 06-18 on day 168
    assert found[2] == [(1, 1), (5, 0), (9, 2)]  # launched on 618 itself: month 1
    # 2028-02-29 is a leap day, on day 361: after twelve months of 30 days (days 0-359)
    assert found[3] == [(4, 1), (9, 0)]
    assert festival_months(dates[3:], [(2, 29)], 13)[0, 12, 0]  # month 13 holds it
