"""The outcome over time: cumulative outcome (e.g. GMV) P10 / P50 / P90 at every horizon of the
spec's ``outcomes``, from one set of LightGBM quantile boosters on ``log1p(y)`` whose last
feature is the horizon in days (see ``training.forecast.fit_curve``).

The boosters see each launch once per horizon; a curve is their prediction at every horizon,
made coherent in this order (log1p units):

1. each raw quantile is made non-decreasing over horizons (a running maximum);
2. P10 and P90 are widened by the split-conformal offsets of their horizon;
3. widening only: P90 takes a running maximum, P10 a running minimum from the longest horizon
   back, so both stay non-decreasing and the interval never narrows;
4. P10 <= P90 (pointwise min / max), and P50 the middle of the three.

Every step keeps each quantile non-decreasing over horizons (the pointwise min, max and median
of non-decreasing sequences are non-decreasing), and the last one keeps P10 <= P50 <= P90.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np

HORIZON_FEATURE = "horizon_days"


@dataclass
class CurveForecast:
    boosters: dict[str, lgb.Booster]  # "p10", "p50", "p90": features + horizon_days
    horizons: list[tuple[str, int]]  # (column, days after launch), shortest first
    lower_offsets: list[float]  # per horizon, log1p units
    upper_offsets: list[float]
    level: float = 0.8
    outcome: str = "outcome"  # the headline horizon's column (``predict``)

    QUANTILES: ClassVar[dict[str, float]] = {"p10": 0.1, "p50": 0.5, "p90": 0.9}
    KIND: ClassVar[str] = "curve"

    @property
    def days(self) -> np.ndarray:
        return np.array([d for _, d in self.horizons], dtype=float)

    def raw(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Each booster at every horizon, (rows, horizons) in log1p units, made non-decreasing
        over horizons (step 1)."""
        n, h = len(x), len(self.horizons)
        stacked = np.empty((n * h, x.shape[1] + 1))
        stacked[:, :-1] = np.repeat(x, h, axis=0)
        stacked[:, -1] = np.tile(self.days, n)
        threads = 1 if len(stacked) < 2000 else 0
        return {
            k: np.maximum.accumulate(b.predict(stacked, num_threads=threads).reshape(n, h), 1)
            for k, b in self.boosters.items()
        }

    def curve(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Rows of the feature matrix -> {"p10", "p50", "p90"}: (rows, horizons) in outcome
        units, each row non-decreasing over horizons and P10 <= P50 <= P90."""
        return coherent(self.raw(x), np.array(self.lower_offsets), np.array(self.upper_offsets))

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The headline horizon's quantiles (``outcome``), as a single forecast gives them."""
        at = [c for c, _ in self.horizons].index(self.outcome)
        return {k: v[:, at] for k, v in self.curve(x).items()}

    def params(self) -> dict[str, Any]:
        return {
            "kind": self.KIND,
            "horizons": [list(h) for h in self.horizons],
            "lower_offsets": self.lower_offsets,
            "upper_offsets": self.upper_offsets,
            "level": self.level,
            "outcome": self.outcome,
        }

    @classmethod
    def from_params(cls, boosters: dict[str, lgb.Booster], params: dict[str, Any]) -> CurveForecast:
        p = {k: v for k, v in params.items() if k != "kind"}
        p["horizons"] = [(str(c), int(d)) for c, d in p["horizons"]]
        return cls(boosters, **p)


def coherent(
    raw: dict[str, np.ndarray], lower: np.ndarray, upper: np.ndarray
) -> dict[str, np.ndarray]:
    """Steps 2-4 of the module docstring on raw log1p quantiles (rows, horizons), back in
    outcome units."""
    lo = np.minimum.accumulate((raw["p10"] - lower)[:, ::-1], 1)[:, ::-1]
    hi = np.maximum.accumulate(raw["p90"] + upper, 1)
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    mid = np.clip(raw["p50"], lo, hi)
    return {k: np.expm1(v).clip(0, None) for k, v in (("p10", lo), ("p50", mid), ("p90", hi))}
