"""Retraining on what came back: scored concepts with outcomes become launch rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from features.simulator import simulate
from features.spec import load_spec
from scoring.outcomes import Outcome, OutcomeStore
from scoring.prediction_log import PredictionLog
from training import DEFAULT_SPEC
from training.dataset import OUTCOME_LABEL, load_launches
from training.outcome_history import scored_launches

SPEC = load_spec(DEFAULT_SPEC)
# a month ahead: computed at import, so a run that crosses midnight still scores before launch
LAUNCH = dt.date.today() + dt.timedelta(days=30)


def _concepts(n: int) -> list[dict]:
    """Concepts launching from a month ahead, as the API logs them (column names, ISO dates)."""
    frame = simulate(n, 3, str(LAUNCH), str(LAUNCH + dt.timedelta(days=60)))
    frame["launch_date"] = frame["launch_date"].dt.strftime("%Y-%m-%d")
    return frame[["concept_id", *SPEC.input_columns()]].to_dict("records")


def _outcome(concept: dict, label: int, launch: dt.date = LAUNCH) -> Outcome:
    return Outcome("simulated", concept["concept_id"], str(launch), label, {"gmv_90d": 1.0 + label})


def test_each_outcome_gives_one_row_with_the_inputs_last_submitted_before_launch(
    tmp_path: Path,
) -> None:
    concepts = _concepts(4)
    revised = {**concepts[0], "price": concepts[0]["price"] * 2}  # resubmitted with a new price
    other = {**concepts[1], "price": 1.0}
    log = PredictionLog(tmp_path / "p.db")
    try:
        log.append("score", "r1", "1", concepts, [{}] * 4, model="hit-compass")
        log.append("score", "r2", "2", [revised], [{}], model="hit-compass")
        log.append("score", "r3", "1", [other], [{}], model="hit-compass-other")  # another spec
        log.append("whatif", "r4", "2", [{**concepts[2], "price": 5.0}], [{}], model="hit-compass")
        store = OutcomeStore(log)
        store.record([_outcome(c, 0) for c in concepts[:3]], "file")
        store.record([_outcome(concepts[1], 1)], "file")  # a correction: the newest counts
        store.record([_outcome({"concept_id": "never-scored"}, 1)], "file")
        # concepts[3] has an outcome for a launch before it was ever scored: no answer before it
        store.record([_outcome(concepts[3], 1, dt.date(2020, 1, 1))], "file")
        rows = scored_launches(SPEC, "hit-compass", log)
    finally:
        log.close()
    rows = rows.set_index("concept_id")
    assert sorted(rows.index) == sorted(c["concept_id"] for c in concepts[:3])
    assert rows.at[concepts[0]["concept_id"], "price"] == revised["price"]
    assert rows.at[concepts[1]["concept_id"], "price"] == concepts[1]["price"]  # not other spec's
    assert rows.at[concepts[2]["concept_id"], "price"] == concepts[2]["price"]  # not the what-if
    assert rows[OUTCOME_LABEL].to_dict() == {
        concepts[0]["concept_id"]: 0,
        concepts[1]["concept_id"]: 1,
        concepts[2]["concept_id"]: 0,
    }
    assert (rows["launch_date"] == str(LAUNCH)).all()
    assert (rows["gmv_90d"] == 1.0 + rows[OUTCOME_LABEL]).all()


def test_scored_rows_join_the_history_once_with_their_recorded_labels(tmp_path: Path) -> None:
    history = simulate(600, 5)
    history.to_parquet(tmp_path / "history.parquet", index=False)
    concepts = _concepts(30)
    scored = pd.DataFrame(concepts).assign(**{OUTCOME_LABEL: [i % 2 for i in range(30)]})
    scored["hit"] = 1 - scored[OUTCOME_LABEL]  # the recorded outcome wins over a stale column
    # a concept the history already holds (the team added it to its file) is not added twice
    dup = history.iloc[[0]].drop(columns="p_hit_bayes").assign(**{OUTCOME_LABEL: 1})
    loaded = load_launches(
        SPEC, tmp_path / "history.parquet", scored=pd.concat([scored, dup], ignore_index=True)
    )
    frame = loaded.frame
    assert loaded.report["scored_with_outcomes"] == 30
    assert loaded.report["scored_already_in_history"] == 1
    assert len(frame) == 630 and frame["concept_id"].is_unique
    new = frame.set_index("concept_id").loc[scored["concept_id"]]
    assert new["label"].tolist() == scored[OUTCOME_LABEL].tolist()
    assert (new["launch_day"] >= pd.Timestamp(LAUNCH)).all()
    assert frame["launch_day"].is_monotonic_increasing  # the newest launches are the test set
    assert OUTCOME_LABEL not in frame


def test_with_outcomes_needs_a_prediction_log(tmp_path: Path, monkeypatch) -> None:
    from training.pipeline import run_training

    monkeypatch.setenv("HIT_COMPASS_STATE", str(tmp_path / "nothing-scored"))
    with pytest.raises(FileNotFoundError, match="no prediction log"):
        run_training(None, DEFAULT_SPEC, with_outcomes=True)
