"""What came back, as launch history: each scored concept whose outcome was recorded becomes a
launch row (``compass train --with-outcomes``).

Its inputs are exactly what was submitted in the last answer logged before its launch (the
monitor's join: an answer after the launch could have seen the outcome coming), its date is the
actual launch date the outcome gave, and its label the outcome's. Only answers of the registered
model being retrained count: the log is shared by every spec's model.
"""

from __future__ import annotations

import pandas as pd

from features.spec import DatasetSpec
from scoring.prediction_log import PredictionLog
from training.dataset import OUTCOME_LABEL
from training.monitor import answers_of, join_outcomes, read_log


def scored_launches(spec: DatasetSpec, model_name: str, log: PredictionLog) -> pd.DataFrame:
    """Launch rows in the spec's own columns (plus :data:`OUTCOME_LABEL`), one per concept."""
    said, outcomes = read_log(log, spec.name)
    inputs = set(spec.input_columns())
    # rows logged before the log named the model count when they hold this spec's inputs
    ours, _, _ = answers_of(model_name, said, lambda concept: inputs <= concept.keys())
    if outcomes.empty or ours.empty:
        return pd.DataFrame(columns=[*inputs, spec.date_column, OUTCOME_LABEL])
    matched = join_outcomes(ours, outcomes).matched
    latest = outcomes.set_index("concept_id")  # one row per concept: the outcome that counts
    rows = [
        {
            **concept,
            **latest.at[cid, "raw"],  # raw outcome columns given (a rule's, the spec's outcome)
            spec.date_column: latest.at[cid, "launch_date"],
            OUTCOME_LABEL: int(latest.at[cid, "label"]),
        }
        for concept, cid in zip(matched["inputs"], matched["concept_id"], strict=True)
    ]
    return pd.DataFrame(rows)
