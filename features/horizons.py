"""Months after a launch and the festivals that fall in them: shared by the simulator (which
makes those months sell more) and the forecast's answer (which names them).

Month ``k`` (1-based) of a launch on day ``d`` covers days ``[d + 30(k-1), d + 30k)``: month 3
ends on day 90, so a first-90-day outcome is the curve's month 3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MONTH_DAYS = 30


def festival_dates(years: np.ndarray, month: int, day: int) -> np.ndarray:
    """The festival (month, day) in each of ``years`` as datetime64[D] (29 February falls on
    1 March in other years)."""
    start = (np.asarray(years) - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
    return start.astype("datetime64[D]") + (day - 1)


def festival_months(
    dates: np.ndarray, festivals: Sequence[tuple[int, int]], months: int
) -> np.ndarray:
    """(launches, months, festivals) booleans: True where the festival falls in that month
    after the launch (at most once per month and festival: a month is shorter than a year)."""
    dates = np.asarray(dates).astype("datetime64[D]")
    starts = dates[:, None] + (MONTH_DAYS * np.arange(months)).astype("timedelta64[D]")
    years = starts.astype("datetime64[Y]").astype(np.int64) + 1970
    out = np.zeros((*starts.shape, len(festivals)), dtype=bool)
    for i, (month, day) in enumerate(festivals):
        for dy in (0, 1):
            fest = festival_dates(years + dy, month, day)
            out[..., i] |= (fest >= starts) & (fest < starts + MONTH_DAYS)
    return out
