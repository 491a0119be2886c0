from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.hit_model import HitModel, ModelLoadError
from training.dataset import to_columns


@pytest.fixture(scope="module")
def trained(small_result):
    """The session's small model (fast config): saving and loading are checked, not skill."""
    return small_result


def test_round_trip_predicts_identically(trained, tmp_path: Path) -> None:
    model = trained.model
    loaded = HitModel.load(model.save(tmp_path / "m"))
    cols = to_columns(trained.test, model.features.spec)
    np.testing.assert_array_equal(model.predict_proba(cols), loaded.predict_proba(cols))
    files = {p.name for p in (tmp_path / "m").iterdir()}
    # the simulated spec has outcomes over time: the forecast is the curve
    forecast = {"forecast_curve_p10.txt", "forecast_curve_p50.txt", "forecast_curve_p90.txt"}
    blend = {"linear.json"} if model.linear is not None else set()
    members = len(model.spread.boosters) if model.spread is not None else 0
    interval = {f"interval_{i}.txt" for i in range(members)}
    interval |= {"interval.json"} if members else set()
    base = {"booster.txt", "pre_test.txt", "features.json", "model.json"}
    assert files == base | forecast | blend | interval
    q_saved = model.forecast.curve(model.matrix(cols))
    q_loaded = loaded.forecast.curve(loaded.matrix(cols))
    for key in ("p10", "p50", "p90"):
        np.testing.assert_array_equal(q_saved[key], q_loaded[key])
    assert loaded.forecast.params() == json.loads(json.dumps(model.forecast.params()))
    assert loaded.norms == json.loads(json.dumps(model.norms))
    assert loaded.funnel == json.loads(json.dumps(model.funnel)) and loaded.funnel["stages"]


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


def test_blended_model_round_trip_serves_identically(blended_result, tmp_path: Path) -> None:
    """linear.json (no pickle) brings back the same answers, drivers and pre-test included."""
    from scoring.scorer import Scorer  # a layer above models: only this test needs it

    model = blended_result.model
    assert model.is_blend and model.pre_test_linear is not None
    path = model.save(tmp_path / "m")
    assert (path / "linear.json").is_file()
    loaded = HitModel.load(path)
    assert loaded.blend_weight == model.blend_weight
    cols = to_columns(blended_result.test, model.features.spec)
    np.testing.assert_array_equal(model.predict_proba(cols), loaded.predict_proba(cols))
    frame = blended_result.test.head(60).copy()
    frame["launch_date"] = frame["launch_day"].dt.strftime("%Y-%m-%d")
    concepts = [
        {k: (r[k].item() if hasattr(r[k], "item") else r[k]) for k in model.concept_schema.names}
        for r in frame.to_dict("records")
    ]
    assert Scorer(model, "1").score(concepts) == Scorer(loaded, "1").score(concepts)


def test_a_model_folder_without_linear_json_is_lightgbm_alone(
    blended_result, tmp_path: Path
) -> None:
    path = blended_result.model.save(tmp_path / "m")
    (path / "linear.json").unlink()
    loaded = HitModel.load(path)
    assert loaded.linear is None and loaded.blend_weight == 1.0 and not loaded.is_blend
    x = loaded.matrix(to_columns(blended_result.test, loaded.features.spec))
    np.testing.assert_array_equal(loaded.log_odds(x), loaded.booster.predict(x, raw_score=True))
    expected = loaded.booster.predict(x[:5], raw_score=True)
    for rows in (x[:5], x[:1]):  # a batch, and one row (the service's fast path)
        contrib, base, raw = loaded.explain(rows)
        np.testing.assert_allclose(raw, expected[: len(rows)], atol=1e-9)
        np.testing.assert_allclose(contrib.sum(axis=1) + base, expected[: len(rows)], atol=1e-9)


def test_corrupt_linear_json_refuses(blended_result, tmp_path: Path) -> None:
    path = blended_result.model.save(tmp_path / "m")
    (path / "linear.json").write_text('{"blend_weight": 0.5}')
    with pytest.raises(ModelLoadError, match="corrupt"):
        HitModel.load(path)


def test_a_model_saved_before_the_bounds_answers_as_it_did(blended_result, tmp_path: Path) -> None:
    """A model folder from before the bounds were recorded (no ranges in linear.json, no
    clip_inputs / trend_range and only the numeric columns' ranges in features.json) loads and
    answers unbounded, as it did: a price of 1e12 reaches its features and its linear part
    unclipped; on the training launches nothing changes."""
    model = blended_result.model
    path = model.save(tmp_path / "m")
    features = json.loads((path / "features.json").read_text())
    del features["clip_inputs"], features["trend_range"]
    numeric = model.spec.numeric
    features["numeric_ranges"] = {k: features["numeric_ranges"][k] for k in numeric}
    (path / "features.json").write_text(json.dumps(features))
    lin = json.loads((path / "linear.json").read_text())
    for part in (lin["linear"], lin["pre_test_linear"]):
        for enc in part["encoders"]:
            enc.pop("lo", None), enc.pop("hi", None)
    (path / "linear.json").write_text(json.dumps(lin))
    old = HitModel.load(path)
    cols = to_columns(blended_result.train, model.spec)  # inside the training range
    np.testing.assert_array_equal(old.predict_proba(cols), model.predict_proba(cols))
    far = {**cols, "price": np.full(len(cols["price"]), 1e12)}
    x_old = old.matrix(far)
    assert (x_old[:, old.features.feature_names.index("price")] == 1e12).all()
    w = old.blend_weight
    unbounded = w * old.booster.predict(x_old, raw_score=True) + (
        1 - w
    ) * old.linear.literal_log_odds(x_old)  # type: ignore[union-attr]
    np.testing.assert_allclose(old.log_odds(x_old), unbounded, atol=1e-9)
    assert (old.log_odds(x_old) != model.log_odds(model.matrix(far))).all()
