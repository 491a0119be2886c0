"""MLflow pyfunc flavour of the hit model, logged as code (models-from-code: no pickle).

``predict`` returns P(hit) per row, never class labels. Used by ``mlflow models serve`` and by
anyone loading the registered model with ``mlflow.pyfunc.load_model``.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from models.hit_model import HitModel


class HitCompassPyfunc(PythonModel):
    def load_context(self, context) -> None:  # noqa: ANN001 - MLflow's signature
        self.model = HitModel.load(context.artifacts["hit_model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:  # noqa: ANN001
        spec = self.model.features.spec
        cols = {c: model_input[c].to_numpy() for c in spec.input_columns()}
        cols[spec.date_column] = pd.to_datetime(model_input[spec.date_column]).to_numpy()
        if spec.date_is_year:
            cols[spec.date_column] = pd.to_datetime(
                model_input[spec.date_column].astype(int).astype(str) + "-01-01"
            ).to_numpy()
        return self.model.predict_proba(cols)


mlflow.models.set_model(HitCompassPyfunc())
