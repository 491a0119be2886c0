"""Scoring concepts with a loaded hit model, without pandas on the per-request path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from features.build import columns_from_records
from features.schema import CONCEPT_FIELDS
from models.hit_model import HitModel


class IncompatibleModel(RuntimeError):
    """The model needs inputs the concept schema does not provide."""


class Scorer:
    def __init__(self, model: HitModel, version: str) -> None:
        self.model = model
        self.version = version
        spec = model.features.spec
        missing = [c for c in spec.input_columns() if c not in CONCEPT_FIELDS]
        if missing:
            raise IncompatibleModel(
                f"model trained on spec {spec.name!r} needs inputs the concept schema lacks: "
                f"{', '.join(missing)}"
            )
        self.inputs = spec.input_columns()

    def columns(self, concepts: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
        cols = columns_from_records(concepts, self.inputs)
        date_col = self.model.features.spec.date_column
        cols[date_col] = np.array([str(c[date_col]) for c in concepts], dtype="datetime64[D]")
        return cols

    def score(self, concepts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        cols = self.columns(concepts)
        proba = self.model.predict_proba(cols)
        return [
            {
                "concept_id": c["concept_id"],
                "hit_probability": float(p),
                "model_version": self.version,
            }
            for c, p in zip(concepts, proba, strict=True)
        ]
