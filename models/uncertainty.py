"""How sure the hit model is: an interval on its log-odds from three data-derived spreads.

For a concept with raw log-odds ``z`` the standard error is
``sd = scale * sqrt(members^2 + (gap_weight * gap)^2 + evidence^2)``, and the interval's two
sides use the evidence's own two sides (below):

* ``members``: the spread of the model's own recipe refitted on half-samples of its training
  launches (``training.uncertainty``; the same params, tree count, linear part and blend
  weight). Across random halves a smooth estimate varies about as much as the full-data
  estimate varies between histories (half-sampling), so this is the estimate's sampling spread
  at the concept: wider where few launches like it were seen.
* ``gap``: for a blend, LightGBM's log-odds minus the linear part's. Where two learners of
  different shape disagree, at least one is off; were their errors independent and alike, the
  blend's would have sd ``gap_weight * |gap|`` with ``gap_weight = sqrt((w^2 + (1-w)^2) / 2)``.
  (LightGBM alone: no gap.)
* ``evidence``: how many hits back the calibrated level there: among the out-of-fold launches
  nearest in log-odds (a ``window`` share of them), the binomial standard error of their hit
  rate in log-odds, ``sqrt(1 / hits + 1 / misses)``. A concept rated 0.2 % rests on a handful of
  hits, one rated 20 % on hundreds: its interval is wider in log-odds. The interval's sides use
  the window's Jeffreys interval instead (``lower`` / ``upper``: the log-odds distances from
  the window's rate to its bounds, over the normal quantile): with few hits the rate could be
  far lower than it is likely to be higher, so the lower side is the longer.

Each part is measured on the training history alone (refits, out-of-fold log-odds, outcomes).
What none of them sees is the error every fit of the recipe shares (approximation error): its
size is ``scale`` (intervals) and ``pair_scale`` (pairs), fitted once on simulated histories
against their exact Bayes probability (``compass bench interval-scales``, seeds other than the
benchmark's; ``training/config.yaml`` says which).

The interval: the two sides ``q * sd_low`` and ``q * sd_high`` (``q`` the normal quantile of
the two-sided ``level``) carried through the model's calibrator into calibrated log-odds, and
centred where they should be. A calibrated probability is the *mean* of the true probabilities
of concepts rated alike, and the mean of a spread-out probability lies toward 0.5 from the
probability at its middle log-odds (a concept rated 1 % with sd 1 in log-odds has its true
log-odds centred near logit(0.6 %)): the interval is centred at the ``mu`` where a normal of the
sides' mean sd has that mean, which gives the Bayes probability about equal chances of lying
below and above (the benchmark reports both). The centre moves at most half a side, so the
interval always holds the calibrated probability.

For two concepts the same parts give the standard error of ``z_a - z_b``: the members' spread of
the difference (alike concepts move together), the difference of their gaps, and the evidence
terms with the share of window they have in common counted once, times ``pair_scale``.
``P(a truly beats b) = Phi((z_a - z_b) / sd_diff)``.

On disk, beside the model: ``interval_<i>.txt`` (LightGBM text) per member and ``interval.json``
(the members' linear parts, the weights, the evidence table, the report).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from scipy.special import expit, logit, ndtr, ndtri

from models.linear import LinearPart

FILE = "interval.json"


EDGE = 1e-12  # probabilities kept this far from 0 and 1 before their log-odds are taken
# Gauss-Hermite nodes and weights (probabilists', weights summing to 1) of E over a normal
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(24)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def member_file(i: int) -> str:
    return f"interval_{i}.txt"


def two_sided_quantile(level: float) -> float:
    """The standard normal quantile holding ``level`` between minus and plus it."""
    return float(ndtri(0.5 + level / 2))


def centre_of_mean(p: np.ndarray, sd: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """Per row, the ``mu`` with ``E[expit(mu + sd * e)] = p`` for a standard normal ``e``:
    Newton's method on the log-odds of that mean, nearly linear in ``mu`` (a few steps)."""
    target = logit(p)
    mu = target.copy()
    for _ in range(50):
        v = expit(mu[:, None] + sd[:, None] * _NODES)
        mean = np.clip(v @ _WEIGHTS, EDGE, 1 - EDGE)
        gap = logit(mean) - target
        if not np.any(np.abs(gap) > tol):
            break
        slope = ((v * (1 - v)) @ _WEIGHTS) / (mean * (1 - mean))
        mu -= gap / np.maximum(slope, 1e-6)
    return mu


@dataclass
class Evidence:
    """The evidence table: out-of-fold log-odds quantiles ``z`` (increasing), their rank as a
    share of the launches (``rank``, 0..1), the evidence standard error ``se`` there, and the
    one-sided ones of the interval's ``lower`` and ``upper`` sides (models saved before they
    existed: ``se`` on both sides)."""

    z: list[float]
    rank: list[float]
    se: list[float]
    window: float  # share of the out-of-fold launches each concept's window holds
    lower: list[float] | None = None
    upper: list[float] | None = None

    def at(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rank share, evidence se) per log-odds value (flat beyond the ends)."""
        zz = np.asarray(self.z)
        return np.interp(z, zz, self.rank), np.interp(z, zz, self.se)

    def sides(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) one-sided evidence se per log-odds value."""
        if self.lower is None or self.upper is None:
            se = self.at(z)[1]
            return se, se
        zz = np.asarray(self.z)
        return np.interp(z, zz, self.lower), np.interp(z, zz, self.upper)


@dataclass
class Assessment:
    """One batch of concepts' uncertainty parts (see :meth:`Spread.assess`)."""

    z: np.ndarray  # raw log-odds
    members: np.ndarray  # (members, rows)
    gap: np.ndarray  # weighted learner gap per row (zeros without a blend)
    rank: np.ndarray
    evidence: np.ndarray
    sd: np.ndarray  # the log-odds standard error per row
    sd_low: np.ndarray  # the interval's lower side's, per row
    sd_high: np.ndarray  # its upper side's


@dataclass
class Spread:
    boosters: list[lgb.Booster]
    linear: list[LinearPart | None]
    evidence: Evidence
    blend_weight: float = 1.0
    gap_weight: float = 0.0
    scale: float = 1.0
    level: float = 0.8
    report: dict[str, Any] = field(default_factory=dict)
    pair_scale: float = 1.0
    member_rescale: float = 1.0  # sqrt(m / (n - m)) for members fitted on m of n launches

    def __post_init__(self) -> None:
        if len(self.boosters) < 2 or len(self.linear) != len(self.boosters):
            raise ValueError("an interval needs at least two members, each with its linear part")
        if not 0.0 < self.level < 1.0 or min(self.scale, self.pair_scale) <= 0.0:
            raise ValueError(
                f"interval level {self.level}, scale {self.scale} or pair scale "
                f"{self.pair_scale} out of range"
            )

    @property
    def quantile(self) -> float:
        """The normal quantile of the two-sided ``level`` (1.28 for 80 %)."""
        return two_sided_quantile(self.level)

    def members(self, x: np.ndarray) -> np.ndarray:
        """(members, rows): each member's raw log-odds."""
        threads = 1 if len(x) < 2000 else 0
        w = self.blend_weight
        out = np.empty((len(self.boosters), len(x)))
        for i, (booster, linear) in enumerate(zip(self.boosters, self.linear, strict=True)):
            tree = booster.predict(x, raw_score=True, num_threads=threads)
            out[i] = tree if linear is None or w >= 1.0 else w * tree + linear.log_odds(x, 1 - w)
        return out

    def assess(self, x: np.ndarray, z: np.ndarray, gap: np.ndarray | None) -> Assessment:
        """The parts for rows ``x`` with raw log-odds ``z`` and learner gap ``gap`` (LightGBM
        minus linear; None without a blend)."""
        members = self.members(x)
        weighted = np.zeros(len(z)) if gap is None else self.gap_weight * gap
        rank, evidence = self.evidence.at(z)
        lower, upper = self.evidence.sides(z)
        shared = members.var(axis=0, ddof=1) * self.member_rescale**2 + weighted**2
        return Assessment(
            z,
            members,
            weighted,
            rank,
            evidence,
            self.scale * np.sqrt(shared + evidence**2),
            self.scale * np.sqrt(shared + lower**2),
            self.scale * np.sqrt(shared + upper**2),
        )

    def interval(
        self, a: Assessment, calibrated: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``level`` interval on P(hit) (see the module's docstring), given the model's
        calibrator from raw log-odds to probability."""
        q = self.quantile
        p = np.clip(calibrated(a.z), EDGE, 1 - EDGE)
        at = logit(p)
        low = (at - logit(np.clip(calibrated(a.z - q * a.sd_low), EDGE, 1 - EDGE))) / q
        high = (logit(np.clip(calibrated(a.z + q * a.sd_high), EDGE, 1 - EDGE)) - at) / q
        # the mean of a very spread-out probability can lie beyond its 90th percentile; an
        # interval that leaves out its own estimate reads as a mistake: the centre moves at
        # most half a side, so the estimate stays well inside
        mu = np.clip(centre_of_mean(p, (low + high) / 2), at - q * high / 2, at + q * low / 2)
        return expit(mu - q * low), expit(mu + q * high)

    def beats(self, a: Assessment, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """P(true log-odds of row ``i`` > those of row ``j``), per pair of row indices."""
        diff = a.z[i] - a.z[j]
        shared = np.clip(1.0 - np.abs(a.rank[i] - a.rank[j]) / self.evidence.window, 0.0, 1.0)
        var = (
            (a.members[:, i] - a.members[:, j]).var(axis=0, ddof=1) * self.member_rescale**2
            + (a.gap[i] - a.gap[j]) ** 2
            + a.evidence[i] ** 2
            + a.evidence[j] ** 2
            - 2 * shared * a.evidence[i] * a.evidence[j]
        )
        sd = self.pair_scale * np.sqrt(np.maximum(var, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(sd > 0, diff / sd, np.sign(diff) * np.inf)
        # no spread at all (a concept against its twin): a tie is a coin flip, else certain
        return np.where(np.isnan(t), 0.5, ndtr(t))

    # ---- persistence ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        for i, booster in enumerate(self.boosters):
            booster.save_model(path / member_file(i))
        state = {
            "members": len(self.boosters),
            "blend_weight": self.blend_weight,
            "gap_weight": self.gap_weight,
            "scale": self.scale,
            "pair_scale": self.pair_scale,
            "member_rescale": self.member_rescale,
            "level": self.level,
            "evidence": vars(self.evidence),
            "linear": [lin.to_dict() if lin is not None else None for lin in self.linear],
            "report": self.report,
        }
        (path / FILE).write_text(json.dumps(state))

    @classmethod
    def load(cls, path: Path) -> Spread | None:
        """The interval saved in ``path``; None if the model has none (trained without)."""
        file = path / FILE
        if not file.is_file():
            return None
        state = json.loads(file.read_text())
        boosters = [
            lgb.Booster(model_file=str(path / member_file(i))) for i in range(state["members"])
        ]
        linear = [LinearPart.from_dict(d) if d else None for d in state["linear"]]
        return cls(
            boosters,
            linear,
            Evidence(**state["evidence"]),
            float(state["blend_weight"]),
            float(state["gap_weight"]),
            float(state["scale"]),
            float(state["level"]),
            state.get("report", {}),
            # saved before the two were apart: one scale (the members' rescale folded in)
            float(state.get("pair_scale", state["scale"])),
            float(state.get("member_rescale", 1.0)),
        )
