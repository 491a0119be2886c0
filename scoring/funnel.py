"""The funnel card: a concept's conversion at each stage of its spec's ``funnel`` (e.g. reach ->
interested, samples sent -> tried -> positive -> would buy again), against its category.

Per stage: the concept's rate shrunk toward the training history's prior for its group (the
rate the model's features use), with an 80 % interval (the beta posterior of that prior and the
concept's counts); its category's norm, the median of past launches' out-of-fold shrunk rates
(``training.funnel_norms``), and the concept's percentile among them; ``gap``, how unusual the
concept's count is for a launch of its category: people who passed the stage minus what the
category median rate gives for the people who entered it, over that count's standard deviation
for a launch of the category (beta-binomial: the binomial noise of the concept's own count and
the spread of true rates between launches the prior's strength measures). The weakest stage is
the measured one with the most negative gap: where the concept loses the most people against
what its category's launches keep, for the evidence it has. A stage the concept has no counts
for (no small-sample test yet) shows the prior and is never the weakest.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import special

from features.build import Columns, pair_posterior
from models.hit_model import HitModel

INTERVAL_LEVEL = 0.8


class FunnelCards:
    """The card for any concept of one model (None from :meth:`of` without funnel norms)."""

    def __init__(self, model: HitModel) -> None:
        norms = model.funnel or {}
        pairs = {p.name: p for p in model.spec.count_pairs}
        self.by: str | None = norms.get("by")
        self.stages = [pairs[s] for s in norms.get("stages", [])]
        self.priors = {p.name: model.features.pair_priors[p.name] for p in self.stages}
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        for stage, per_category in norms.get("quantiles", {}).items():
            self.tables[stage] = {}
            for key, qs in per_category.items():
                self.tables[stage][key] = {
                    "q": [float(v) for v in qs],
                    "median": float(qs[len(qs) // 2]),
                    "n": int(norms["n"][stage][key]),
                }

    @classmethod
    def of(cls, model: HitModel) -> FunnelCards | None:
        return cls(model) if model.funnel and model.funnel.get("stages") else None

    def cards(self, concepts: Sequence[dict[str, Any]], cols: Columns) -> list[dict[str, Any]]:
        """One card per concept: its category, the stages in funnel order, the weakest."""
        per_stage = [self._stage(p, concepts, cols) for p in self.stages]
        out = []
        for i, c in enumerate(concepts):
            stages = [rows[i] for rows in per_stage]
            gaps = [(s["gap"], s["stage"]) for s in stages if s["gap"] is not None]
            worst = min(gaps, default=(None, None))
            weakest = worst[1] if worst[0] is not None and worst[0] < 0 else None
            for s in stages:
                s["weakest"] = s["stage"] == weakest
            category = str(c.get(self.by)) if self.by else "*"
            out.append(
                {
                    "category": category,
                    "stages": stages,
                    "weakest_stage": weakest,
                    "interval_level": INTERVAL_LEVEL,
                }
            )
        return out

    def _stage(self, pair: Any, concepts: Sequence[dict[str, Any]], cols: Columns) -> list[dict]:
        prior = self.priors[pair.name]
        succ, trials, mean = pair_posterior(cols, pair, prior)
        a = succ + prior.kappa * mean
        b = trials - succ + prior.kappa * (1 - mean)
        rate = a / (a + b)  # the shrunk rate of the model's features
        tail = (1 - INTERVAL_LEVEL) / 2
        low, high = special.betaincinv(a, b, tail), special.betaincinv(a, b, 1 - tail)
        table = self.tables.get(pair.name, {})
        rows = []
        for i, c in enumerate(concepts):
            key = str(c.get(self.by)) if self.by else "*"
            norm = table.get(key) or table.get("*")
            measured = bool(trials[i] > 0)
            row: dict[str, Any] = {
                "stage": pair.name,
                "from_field": pair.trials,
                "to_field": pair.successes,
                "people_in": int(trials[i]),
                "people_out": int(round(succ[i])),
                "measured": measured,
                "rate": float(rate[i]),
                "rate_low": float(low[i]),
                "rate_high": float(high[i]),
                "category_median": None,
                "category_percentile": None,
                "past_launches": None,
                "gap": None,
            }
            if norm is not None:
                row["category_median"] = norm["median"]
                row["past_launches"] = norm["n"]
                if measured:
                    q, r = norm["q"], float(rate[i])
                    # the share of past launches below the rate, ties counted half
                    pct = 50.0 * (bisect.bisect_left(q, r) + bisect.bisect_right(q, r)) / len(q)
                    row["category_percentile"] = round(pct, 1)
                    row["gap"] = round(_gap(succ[i], trials[i], norm["median"], prior.kappa), 3)
            rows.append(row)
        return rows


def _gap(people_out: float, people_in: float, rate: float, kappa: float) -> float:
    """(people out - people in x rate) / its s.d. for a launch whose true rate is drawn around
    ``rate`` with strength ``kappa``: the beta-binomial variance n m (1 - m) (n + k) / (1 + k)."""
    m = min(max(rate, 1e-9), 1 - 1e-9)
    var = people_in * m * (1 - m) * (people_in + kappa) / (1 + kappa)
    return float((people_out - people_in * m) / np.sqrt(var))
