"""MLflow pyfunc flavour of the hit model, logged as code (models-from-code: no pickle).

``predict`` returns P(hit) per row, never class labels. Used by ``mlflow models serve`` and by
anyone loading the registered model with ``mlflow.pyfunc.load_model``.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from features.columns import from_frame
from models.hit_model import HitModel


class HitCompassPyfunc(PythonModel):
    def load_context(self, context) -> None:  # noqa: ANN001 - MLflow's signature
        self.model = HitModel.load(context.artifacts["hit_model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:  # noqa: ANN001
        return self.model.predict_proba(from_frame(model_input, self.model.spec))


mlflow.models.set_model(HitCompassPyfunc())
