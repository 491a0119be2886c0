"""Promotion gate: a version becomes ``champion`` only if it beats the current champion on the
same out-of-time test set. Every decision is recorded as a tag on the version."""

from __future__ import annotations

from typing import Any

import pandas as pd

from models.hit_model import HitModel
from training import registry
from training.dataset import to_columns
from training.evaluate import score
from training.train import Promotion


def judge(
    challenger: HitModel,
    champion: HitModel | None,
    test: pd.DataFrame,
    min_logloss_gain: float,
    max_auc_drop: float,
) -> dict[str, Any]:
    """Pure decision: lower log loss by at least ``min_logloss_gain`` (strictly lower when 0)
    and AUC no more than ``max_auc_drop`` below the champion's, on ``test``."""
    spec = challenger.spec
    y = test["label"].to_numpy()
    new = score(y, challenger.predict_proba(to_columns(test, spec)))
    if champion is None:
        return {"promoted": True, "reason": "no champion yet", "challenger": new}
    if champion.spec.input_columns() != spec.input_columns():
        return {
            "promoted": False,
            "reason": "champion uses another dataset spec; use --force",
            "challenger": new,
        }
    old = score(y, champion.predict_proba(to_columns(test, champion.spec)))
    gain = old["logloss"] - new["logloss"]
    better = gain > 0 and gain >= min_logloss_gain and new["auc"] >= old["auc"] - max_auc_drop
    reason = (
        f"log loss {new['logloss']:.4f} vs {old['logloss']:.4f}, "
        f"AUC {new['auc']:.4f} vs {old['auc']:.4f}"
    )
    return {"promoted": bool(better), "reason": reason, "challenger": new, "champion": old}


def promote(
    version: str, gate: Promotion, force: bool = False, model_name: str = registry.MODEL_NAME
) -> dict[str, Any]:
    """Run the gate for a registered version against the current champion and record it."""
    with registry.gate_turn(model_name):
        return _promote(version, gate, force, model_name)


def _promote(version: str, gate: Promotion, force: bool, model_name: str) -> dict[str, Any]:
    challenger, test = registry.load_version(version, model_name)
    current = registry.champion_version(model_name)
    champion = None
    if current is not None and current != version:
        champion, _ = registry.load_version(current, model_name)
    if current == version:
        decision: dict[str, Any] = {"promoted": False, "reason": "already champion"}
    else:
        decision = judge(
            challenger,
            champion,
            test,
            gate.min_logloss_gain,
            gate.max_auc_drop,
        )
    if force and not decision["promoted"] and current != version:
        decision = decision | {"promoted": True, "forced": True}
    decision["previous_champion"] = current
    registry.record_decision(version, decision, model_name)
    return decision
