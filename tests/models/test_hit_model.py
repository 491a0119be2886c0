from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from features.simulator import simulate
from features.spec import load_spec
from models.hit_model import HitModel, ModelLoadError
from training import DEFAULT_SPEC
from training.dataset import load_launches, to_columns
from training.train import train_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("model") / "launches.parquet"
    simulate(3000, 9).to_parquet(path)
    spec = load_spec(DEFAULT_SPEC)
    return train_model(load_launches(spec, data=path).frame, spec)


def test_round_trip_predicts_identically(trained, tmp_path: Path) -> None:
    model = trained.model
    loaded = HitModel.load(model.save(tmp_path / "m"))
    cols = to_columns(trained.test, model.features.spec)
    np.testing.assert_array_equal(model.predict_proba(cols), loaded.predict_proba(cols))
    files = {p.name for p in (tmp_path / "m").iterdir()}
    forecast = {"forecast_p10.txt", "forecast_p50.txt", "forecast_p90.txt"}
    assert files == {"booster.txt", "pre_test.txt", "features.json", "model.json"} | forecast
    q_saved = model.forecast.predict(model.matrix(cols))
    q_loaded = loaded.forecast.predict(loaded.matrix(cols))
    for key in ("p10", "p50", "p90"):
        np.testing.assert_array_equal(q_saved[key], q_loaded[key])
    assert loaded.norms == json.loads(json.dumps(model.norms))


def test_probabilities_not_labels(trained) -> None:
    p = trained.test_proba
    assert ((p > 0) & (p < 1)).all() and len(np.unique(p)) > 50


def test_missing_artifact_refuses(trained, tmp_path: Path) -> None:
    d = trained.model.save(tmp_path / "m")
    (d / "booster.txt").unlink()
    with pytest.raises(ModelLoadError, match="booster.txt is missing"):
        HitModel.load(d)


def test_corrupt_artifact_refuses(trained, tmp_path: Path) -> None:
    d = trained.model.save(tmp_path / "m")
    (d / "booster.txt").write_text("tree\ngarbage")
    with pytest.raises(ModelLoadError, match="corrupt"):
        HitModel.load(d)
    d2 = trained.model.save(tmp_path / "m2")
    (d2 / "features.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="corrupt"):
        HitModel.load(d2)
