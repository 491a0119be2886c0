"""The forecast's curve in an answer: P10 / P50 / P90 of the cumulative outcome at every
horizon of the spec's ``outcomes``, and the months after launch that hold the spec's festivals.

A model whose spec has a single outcome column answers as it always did: its quantiles, and no
curve (``curve`` and ``seasonal_peaks`` null).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from features.horizons import MONTH_DAYS, festival_dates, festival_months
from features.spec import DatasetSpec
from models.curve import CurveForecast
from models.hit_model import QuantileForecast

NO_CURVE = {"curve": None, "seasonal_peaks": None}


def forecast_parts(
    fc: QuantileForecast | CurveForecast,
    x: np.ndarray,
    concepts: Sequence[dict[str, Any]],
    spec: DatasetSpec,
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """(the headline quantiles per concept, the curve fields of each answer)."""
    if not isinstance(fc, CurveForecast):
        return fc.predict(x), [NO_CURVE] * len(concepts)
    curve = fc.curve(x)
    at = [c for c, _ in fc.horizons].index(fc.outcome)
    headline = {k: v[:, at] for k, v in curve.items()}
    peaks = seasonal_peaks(concepts, spec, max(d for _, d in fc.horizons))
    extras = []
    for i in range(len(concepts)):
        points = [
            {
                "column": column,
                "days": days,
                "month": round(days / MONTH_DAYS, 2),
                **{k: round(float(curve[k][i, j]), 2) for k in ("p10", "p50", "p90")},
            }
            for j, (column, days) in enumerate(fc.horizons)
        ]
        extras.append({"curve": points, "seasonal_peaks": peaks[i]})
    return headline, extras


def seasonal_peaks(
    concepts: Sequence[dict[str, Any]], spec: DatasetSpec, longest_days: int
) -> list[list[dict[str, Any]] | None]:
    """Per concept, the spec's festivals falling within the curve: the date and the month after
    launch that holds it (month k: days 30(k-1) to 30k), earliest first; None for a spec without
    festivals or whose dates are years."""
    if not spec.festivals or spec.date_is_year:
        return [None] * len(concepts)
    months = -(-longest_days // MONTH_DAYS)
    dates = np.array([str(c[spec.date_column]) for c in concepts], dtype="datetime64[D]")
    inside = festival_months(dates, spec.festivals, months)  # (concepts, months, festivals)
    out: list[list[dict[str, Any]] | None] = []
    for i, launch in enumerate(dates):
        found = []
        for k, f in zip(*np.nonzero(inside[i]), strict=True):
            start = launch + np.timedelta64(MONTH_DAYS * int(k), "D")
            month, day = spec.festivals[int(f)]
            year = int(start.astype("datetime64[Y]").astype(np.int64)) + 1970  # any year
            both = festival_dates(np.array([year, year + 1]), month, day)
            when = both[(both >= start) & (both < start + np.timedelta64(MONTH_DAYS, "D"))][0]
            found.append({"festival": f"{month:02d}-{day:02d}", "date": str(when),
                          "month": int(k) + 1})  # fmt: skip
        out.append(sorted(found, key=lambda p: p["date"]))
    return out
