"""Honest evaluation of a trained model: baselines (and the Bayes limit on simulated data) on the
same out-of-time test rows, and the model's test summary with bootstrap intervals. Every training
run reports them (``training.report``); the quality benchmark builds on them.

Everything here is measured by running the pipeline; nothing is a constant.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from features.build import FeatureBuilder
from features.spec import DatasetSpec
from training.boosting import sample_rows
from training.dataset import to_columns
from training.evaluate import bootstrap_ci, score
from training.train import TrainResult

METRICS = ("auc", "logloss", "brier", "ece", "top_decile_precision")
BAYES_COLUMN = "p_hit_bayes"  # the simulator's oracle, present only on simulated data
# Training launches the logistic and default-LightGBM baselines are fitted on (a seeded sample
# beyond this): they are the report's yardsticks, and on a large history fitting them on every
# launch cost more than the rest of the report
BASELINE_ROWS = 200_000


def pick(metrics: dict[str, float]) -> dict[str, float]:
    """The benchmark's metric set (plus PR-AUC and lift, which cost nothing)."""
    keys = (*METRICS, "pr_auc", "top_decile_lift")
    return {k: round(float(metrics[k]), 5) for k in keys if k in metrics}


# ---- baselines ------------------------------------------------------------------------------
def base_rate_baseline(train: pd.DataFrame, test: pd.DataFrame, spec: DatasetSpec) -> np.ndarray:
    """Training-period hit rate of the test row's category (the spec's first categorical
    column); categories unseen in training get the overall training rate."""
    overall = float(train["label"].mean())
    if not spec.categorical:
        return np.full(len(test), overall)
    col = spec.categorical[0]
    rates = train.groupby(col, observed=True)["label"].mean().to_dict()
    return np.array([rates.get(v, overall) for v in test[col].to_numpy()], dtype=float)


def _signed_log(x: np.ndarray) -> np.ndarray:
    # counts, budgets and reach are heavy-tailed: give the linear model a fair shot
    return np.sign(x) * np.log1p(np.abs(x))


def logistic_baseline(
    fb: FeatureBuilder, x_train: np.ndarray, y: np.ndarray, x_test: np.ndarray
) -> np.ndarray:
    """Logistic regression on the model's own features: categorical codes one-hot encoded,
    numbers signed-log transformed, median-imputed (with missing indicators) and scaled."""
    n_cat = len(fb.categorical_features)
    cat_idx, num_idx = list(range(n_cat)), list(range(n_cat, x_train.shape[1]))
    prep = ColumnTransformer(
        [
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1.0),
                    OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10),
                ),
                cat_idx,
            ),
            (
                "num",
                make_pipeline(
                    FunctionTransformer(_signed_log),
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                num_idx,
            ),
        ]
    )
    model = Pipeline([("prep", prep), ("lr", LogisticRegression(C=1.0, max_iter=3000))])
    model.fit(np.where(np.isinf(x_train), np.nan, x_train), y)
    return model.predict_proba(np.where(np.isinf(x_test), np.nan, x_test))[:, 1]


def raw_frame(frame: pd.DataFrame, spec: DatasetSpec, vocab: dict[str, list[str]]) -> pd.DataFrame:
    """The spec's raw columns, no engineering: categorical codes (training vocabulary),
    numeric columns and the raw count-pair columns."""
    out = pd.DataFrame(index=frame.index)
    for col in spec.categorical:
        out[col] = pd.Categorical(frame[col].astype(str), categories=vocab[col])
    cols = list(spec.numeric)
    for p in spec.count_pairs:
        cols += [p.trials, p.successes or p.rate]  # type: ignore[list-item]
    for col in dict.fromkeys(cols):
        out[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return out


def lightgbm_default_baseline(
    train: pd.DataFrame, test: pd.DataFrame, spec: DatasetSpec, seed: int = 7
) -> np.ndarray:
    """LightGBM with its default parameters (100 trees, learning rate 0.1, 31 leaves) on raw
    columns: no shrinkage, no track records, no tuning, no calibration."""
    vocab = {c: sorted(train[c].astype(str).unique().tolist()) for c in spec.categorical}
    x_tr, x_te = raw_frame(train, spec, vocab), raw_frame(test, spec, vocab)
    params = {"objective": "binary", "verbose": -1, "seed": seed, "num_threads": 2}
    booster = lgb.train(params, lgb.Dataset(x_tr, train["label"].to_numpy()))
    return booster.predict(x_te)


def baseline_probabilities(result: TrainResult, spec: DatasetSpec) -> dict[str, np.ndarray]:
    """P(hit) on the model's test rows from every baseline, and from the Bayes limit when the
    data has it (simulated data only)."""
    train, test = result.train, result.test
    fb = result.model.features
    fit = train.iloc[sample_rows(np.arange(len(train)), BASELINE_ROWS)]
    x_fit = fb.transform(to_columns(fit, spec))
    x_test = fb.transform(to_columns(test, spec))
    out = {
        "base_rate": base_rate_baseline(train, test, spec),
        "logistic": logistic_baseline(fb, x_fit, fit["label"].to_numpy(), x_test),
        "lightgbm_default": lightgbm_default_baseline(fit, test, spec),
    }
    if BAYES_COLUMN in test:
        out["bayes"] = test[BAYES_COLUMN].to_numpy(float)
    return out


def evaluate_baselines(
    result: TrainResult, spec: DatasetSpec, probas: dict[str, np.ndarray] | None = None
) -> dict[str, dict[str, float]]:
    """Metrics of every baseline (and ``bayes``) on the model's test rows."""
    y_test = result.test["label"].to_numpy()
    probas = probas if probas is not None else baseline_probabilities(result, spec)
    return {name: pick(score(y_test, p)) for name, p in probas.items()}


def model_summary(result: TrainResult, n_boot: int = 500) -> dict[str, Any]:
    """Test metrics of the trained model with a 95 % bootstrap interval on AUC and log loss."""
    y = result.test["label"].to_numpy()
    out: dict[str, Any] = pick(result.test_metrics)
    out["auc_ci"] = [round(v, 5) for v in bootstrap_ci(y, result.test_proba, "auc", n_boot)]
    out["logloss_ci"] = [round(v, 5) for v in bootstrap_ci(y, result.test_proba, "logloss", n_boot)]
    out["calibrator"] = result.calibration.get("calibrator")
    out["n_rounds"] = result.cv.n_rounds
    out["cv_logloss"] = round(float(np.mean(result.cv.fold_logloss)), 5)
    blend = result.calibration.get("blend")
    if blend is not None:
        # what the time folds chose: learner (blend / lightgbm / linear), w, C, half-lives
        out["recipe"] = {
            "learner": blend["learner"],
            "w": blend["w"],
            "C": blend["linear"]["C"],
            "lgbm_half_life": blend["lgbm_half_life"],
            "linear_half_life": blend["linear"]["half_life"],
            "calibration": blend.get("calibration"),
            "oof_logloss": blend["oof_logloss"],
        }
    return out
