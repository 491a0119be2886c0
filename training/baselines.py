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
from training.train import TrainingConfig, TrainResult, fit_recipe

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


def text_only_baseline(
    train: pd.DataFrame, test: pd.DataFrame, spec: DatasetSpec, folds: int = 4
) -> np.ndarray:
    """The words alone, as a data scientist would try first with scikit-learn: per text column
    a TF-IDF of character n-grams within words (``char_wb``, 1 to 4, sublinear tf, in at least
    2 texts), side by side, and one logistic regression, its C chosen on the latest of
    ``folds`` expanding time folds of the training period (by log loss), refitted on all of
    it. Independent of ``features.text`` on purpose."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import log_loss
    from threadpoolctl import threadpool_limits

    def texts(frame: pd.DataFrame, col: str) -> list[str]:
        return frame[col].fillna("").astype(str).tolist()

    def fit(rows: pd.DataFrame) -> tuple[list[TfidfVectorizer], Any]:
        vecs = [
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2)
            for _ in spec.text
        ]
        pairs = zip(vecs, spec.text, strict=True)
        return vecs, hstack([v.fit_transform(texts(rows, t.column)) for v, t in pairs]).tocsr()

    def apply(vecs: list[TfidfVectorizer], rows: pd.DataFrame) -> Any:
        pairs = zip(vecs, spec.text, strict=True)
        return hstack([v.transform(texts(rows, t.column)) for v, t in pairs]).tocsr()

    y = train["label"].to_numpy()
    cut = int(len(train) * folds / (folds + 1))  # the latest time block validates
    early, late = train.iloc[:cut], train.iloc[cut:]
    with threadpool_limits(1):  # OpenMP threads spin against every other busy core
        vecs, x_early = fit(early)
        x_late = apply(vecs, late)
        losses = {}
        for c in (0.1, 0.3, 1.0, 3.0):
            lr = LogisticRegression(C=c, max_iter=3000).fit(x_early, y[:cut])
            losses[c] = log_loss(y[cut:], lr.predict_proba(x_late)[:, 1], labels=[0, 1])
        vecs, x = fit(train)
        lr = LogisticRegression(C=min(losses, key=losses.__getitem__), max_iter=3000).fit(x, y)
        return lr.predict_proba(apply(vecs, test))[:, 1]


def baseline_probabilities(result: TrainResult, spec: DatasetSpec) -> dict[str, np.ndarray]:
    """P(hit) on the model's test rows from every baseline, and from the Bayes limit when the
    data has it (simulated data only). The logistic baseline sees the model's own features,
    text scores out of fold for its training rows (``training.text``), as the model does."""
    train, test = result.train, result.test
    fb = result.model.features
    rows = sample_rows(np.arange(len(train)), BASELINE_ROWS)
    fit = train.iloc[rows]
    x_fit = fb.transform(to_columns(fit, spec))
    if (text := result.extras.get("text")) is not None:
        text.into(x_fit, fb.text_features, rows)
    x_test = fb.transform(to_columns(test, spec))
    out = {
        "base_rate": base_rate_baseline(train, test, spec),
        "logistic": logistic_baseline(fb, x_fit, fit["label"].to_numpy(), x_test),
        "lightgbm_default": lightgbm_default_baseline(fit, test, spec),
    }
    if spec.text:
        out["text_only"] = text_only_baseline(fit, test, spec)
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
    for metric in ("auc", "logloss"):
        ci = bootstrap_ci(y, result.test_proba, metric, n_boot)
        out[f"{metric}_ci"] = [round(v, 5) for v in ci] if ci is not None else None
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


# ---- text ---------------------------------------------------------------------------------------
def text_quality(result: TrainResult) -> dict[str, dict[str, Any]]:
    """Per text field, its text model's own quality: on the training period's time folds (out
    of fold, ``training.text``) and on the test rows (the served text model's score alone)."""
    stack = result.extras.get("text")
    if stack is None:
        return {}
    y = result.test["label"].to_numpy()
    out = {}
    for col, model in result.model.features.text_models.items():
        p = 1.0 / (1.0 + np.exp(-model.scores(result.test[col].to_numpy(dtype=object))))
        test = score(y, p)
        out[col] = {
            **stack.report[col],
            "test_auc": round(float(test["auc"]), 5),
            "test_logloss": round(float(test["logloss"]), 5),
        }
    return out


def text_ablation(result: TrainResult, config: TrainingConfig) -> dict[str, Any]:
    """The model without its text scores, on the same rows: the recipe (LightGBM's and the
    linear part's half-lives and C as chosen with text; the trees and w chosen again on the
    time folds, then calibrated out of fold) fitted on the training matrix minus the text
    columns, scored on the test rows. Test metrics and the text's gain (with minus without)."""
    fb, spec = result.model.features, result.model.spec
    stack = result.extras.get("text")
    if stack is None:
        return {}
    drop = set(fb.text_features.values())
    keep = [j for j in range(len(fb.feature_names)) if j not in drop]
    names = [fb.feature_names[j] for j in keep]
    x = fb.transform(to_columns(result.train, spec))
    x_test = fb.transform(to_columns(result.test, spec))
    choice = result.extras.get("blend")
    if choice is not None:  # the choices made with text, so the text is all that differs
        blend = config.blend.model_copy(
            update={
                "lgbm_half_life_grid": [choice.lgbm_half_life],
                "linear_half_life_grid": [choice.linear.half_life],
                "c_grid": [choice.linear.C],
            }
        )
        config = config.model_copy(update={"blend": blend})
    y, days = result.train["label"].to_numpy(), result.train["launch_day"]
    days = days.to_numpy().astype("datetime64[D]").astype(np.int64)
    cats = [c for c in fb.categorical_features if c in names]
    recipe = fit_recipe(x[:, keep], y, days, names, cats, spec, result.params, config)
    p = recipe.calibrator(recipe.log_odds(x_test[:, keep]))
    without = pick(score(result.test["label"].to_numpy(), p))
    full = pick(result.test_metrics)
    return {
        "without_text": without,
        "auc_gain": round(full["auc"] - without["auc"], 5),
        "logloss_gain": round(without["logloss"] - full["logloss"], 5),
    }
