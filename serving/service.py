"""Hit Compass scoring service (BentoML 1.4).

The champion reaches the service through the BentoML model store: ``compass export`` copies the
MLflow ``champion`` version's native files into the store as ``hit-compass`` (``make serve`` and
``bentoml build`` do this first), so a running service never needs the tracking server.
"""

from __future__ import annotations

import os
from typing import Annotated

import bentoml
from pydantic import BaseModel, Field

from features.schema import EXAMPLE_CONCEPT, Concept
from models.hit_model import HitModel
from serving.scorer import Scorer

MODEL_TAG = os.environ.get("HIT_COMPASS_MODEL", "hit-compass:latest")
MAX_BATCH = int(os.environ.get("HIT_COMPASS_MAX_BATCH", "10000"))


class ScoredConcept(BaseModel):
    concept_id: str
    hit_probability: float = Field(description="Calibrated P(hit), 0..1.")
    model_version: str = Field(description="MLflow registered-model version that scored it.")


@bentoml.service(
    http={"host": os.environ.get("HIT_COMPASS_HOST", "127.0.0.1"), "port": 3000},
    traffic={"timeout": 60},
    workers=1,
)
class HitCompass:
    bento_model = bentoml.models.BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        model = HitModel.load(self.bento_model.path)
        version = str(
            self.bento_model.info.labels.get("mlflow_version", self.bento_model.tag.version)
        )
        self.scorer = Scorer(model, version)

    @bentoml.api(route="/score")
    def score(
        self,
        concepts: Annotated[
            list[Concept], Field(min_length=1, max_length=MAX_BATCH, examples=[[EXAMPLE_CONCEPT]])
        ],
    ) -> list[ScoredConcept]:
        """Hit probability for each concept."""
        return self.scorer.score([c.model_dump() for c in concepts])
