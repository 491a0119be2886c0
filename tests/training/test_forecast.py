"""Volume forecast, category norms and batch scoring."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.simulator import simulate
from training.batch import score_file, validate
from training.forecast import conformal_offset, evaluate_forecast


def test_forecast_interval_covers_80_percent_out_of_time(champion: dict) -> None:
    result = champion["train_result"]
    q = evaluate_forecast(result.model, result.test)
    assert q["n"] == len(result.test)
    assert 0.75 <= q["coverage_80"] <= 0.85, q
    assert q["below_p10"] < 0.15 and q["above_p90"] < 0.15, q
    assert 0 < q["mape_p50"] < 2.0


def test_forecast_beats_a_constant(champion: dict) -> None:
    """The median forecast explains volume: lower absolute log error than the training median."""
    from training.dataset import to_columns

    result = champion["train_result"]
    model, test = result.model, result.test
    p50 = model.forecast.predict(model.matrix(to_columns(test, model.features.spec)))["p50"]
    y = np.log1p(test["gmv_90d"].to_numpy())
    constant = np.median(np.log1p(result.train["gmv_90d"].to_numpy()))
    assert np.mean(np.abs(np.log1p(p50) - y)) < 0.8 * np.mean(np.abs(constant - y))


def test_conformal_offset() -> None:
    scores = np.arange(1, 100, dtype=float)  # 99 scores 1..99
    # the ceil((n+1)(1-miss))/n empirical quantile: ceil(100 * 0.9) = 90th smallest
    assert conformal_offset(scores, 0.1) == 90.0
    assert conformal_offset(scores[:5], 0.1) == 5.0  # too few: the largest


def test_category_norms_are_out_of_fold(champion: dict) -> None:
    result = champion["train_result"]
    norms = result.model.norms
    assert norms["by"] == "category"
    assert norms["n"]["*"] == int(result.cv.mask.sum()) < len(result.train)
    for key, q in norms["quantiles"].items():
        assert q == sorted(q) and len(q) == 201 and 0 <= q[0] <= q[-1] <= 1
        assert 0 <= norms["hit_rate"][key] <= 1
    cats = result.train["category"][result.cv.mask]
    assert norms["n"]["skincare"] == int((cats == "skincare").sum())


def test_model_without_outcome_has_no_forecast(champion: dict) -> None:
    from serving.scorer import BadRequest, Scorer

    model = champion["train_result"].model
    bare = type(model)(model.booster, model.features, model.calibrator, model.pre_test_booster)
    with pytest.raises(BadRequest, match="no volume forecast"):
        Scorer(bare, "x").forecast([{"concept_id": "a"}])
    with pytest.raises(ValueError, match="no volume forecast"):
        evaluate_forecast(bare, champion["train_result"].test)


# ---- batch scoring ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scorer(champion: dict):
    from serving.scorer import Scorer

    return Scorer(champion["train_result"].model, champion["version"])


@pytest.fixture(scope="module")
def concepts_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = simulate(300, 21)
    frame["launch_date"] = frame["launch_date"].dt.strftime("%Y-%m-%d")
    frame = frame.astype(
        {c: object for c in ("price", "reach", "test_positive", "test_repurchase")}
    )
    frame.loc[4, "price"] = "cheap"  # a bad cell
    frame.loc[9, "reach"] = -3  # out of bounds
    frame.loc[12, "test_positive"] = ""  # optional: defaults to 0 ...
    frame.loc[12, "test_repurchase"] = ""  # ... and so must this, to stay consistent
    path = tmp_path_factory.mktemp("batch") / "concepts.csv"
    frame.to_csv(path, index=False)
    return path


def test_batch_scores_like_the_api(scorer, concepts_csv: Path, tmp_path: Path) -> None:
    from serving.prediction_log import PredictionLog

    log = PredictionLog(tmp_path / "log.db")
    out_path = tmp_path / "scored.parquet"
    report = score_file(concepts_csv, out_path, scorer, log, chunk_size=128, progress=False)
    out = pd.read_parquet(out_path)
    src = pd.read_csv(concepts_csv, dtype=str, keep_default_na=False)
    assert len(out) == len(src) == report.rows  # nothing lost
    assert out["concept_id"].tolist() == src["concept_id"].tolist()
    assert report.scored == 298 and log.count() == 298
    assert out.loc[4, "error"].startswith("row 5: price")
    assert out.loc[9, "error"].startswith("row 10: reach")
    assert np.isnan(out.loc[4, "hit_probability"])
    assert out["error"].isna().sum() == 298
    assert "p_hit_bayes" in out.columns  # unknown columns carried through
    # the same numbers as the API's code path for the same concepts
    ok, concepts, _ = validate(src.iloc[:3])
    for pos, api in zip(ok, scorer.score(concepts), strict=True):
        assert out.loc[pos, "hit_probability"] == api["hit_probability"]
        assert out.loc[pos, "driver_1_field"] == api["drivers"]["top"][0]["field"]
    assert {"gmv_90d_p10", "gmv_90d_p50", "gmv_90d_p90", "band", "warnings"} <= set(out.columns)
    logged = next(log.rows())[0]
    assert logged[4] == "batch" and json.loads(logged[8])["request_id"] == report.request_id


def test_compass_score_and_log_export(champion: dict, concepts_csv: Path, tmp_path: Path) -> None:
    from training.cli import app

    runner = CliRunner()
    out = tmp_path / "scored.csv"
    r = runner.invoke(app, ["score", str(concepts_csv), "-o", str(out)])
    assert r.exit_code == 1, r.output  # two invalid rows: reported, and the status says so
    assert "298 of 300 concepts scored" in r.output and "row 5: price" in r.output
    scored = pd.read_csv(out)
    assert len(scored) == 300 and scored["hit_probability"].notna().sum() == 298
    exported = tmp_path / "log.parquet"
    r = runner.invoke(app, ["log", "export", "-o", str(exported)])
    assert r.exit_code == 0, r.output
    log = pd.read_parquet(exported)
    batch = log[log["request_id"] == scored["request_id"].dropna().iloc[0]]
    assert len(batch) == 298 and set(batch["endpoint"]) == {"batch"}
    assert batch["hit_probability"].tolist() == pytest.approx(
        scored["hit_probability"].dropna().tolist()
    )
