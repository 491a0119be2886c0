"""Training pipeline: out-of-time split -> features -> cross-validated LightGBM -> calibration.

Pure functions; ``train_model`` returns every intermediate value so tests and the benchmark can
assert on them. Nothing here touches MLflow (see ``training.registry``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from features.build import FeatureBuilder
from features.spec import DatasetSpec
from models.hit_model import Calibrator, HitModel
from training.boosting import booster_params, dataset
from training.dataset import to_columns
from training.evaluate import score
from training.forecast import attach_scoring_extras

CONFIG_PATH = Path(__file__).with_name("config.yaml")


class Promotion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_logloss_gain: float = Field(
        0.0, ge=0, description="The challenger's test log loss must be lower by more than this."
    )
    max_auc_drop: float = Field(
        0.002, ge=0, description="And its test AUC at most this much below the champion's."
    )


class TrainingConfig(BaseModel):
    """``training/config.yaml``: what training and tuning read (tuned params override
    ``lightgbm``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lightgbm: dict[str, Any] = Field(description="LightGBM params of the hit model.")
    max_rounds: int = Field(gt=0, description="Most boosting rounds per fit.")
    early_stopping_rounds: int = Field(gt=0, description="Rounds without gain before a fold stops.")
    cv_folds: int = Field(ge=2, description="Expanding-window out-of-time folds of training.")
    promotion: Promotion = Field(default_factory=Promotion)
    experiment: str = Field("hit-compass", description="MLflow experiment of runs and studies.")


def load_config(path: Path = CONFIG_PATH) -> TrainingConfig:
    """The training config, validated (an unknown or mistyped key names itself)."""
    return TrainingConfig.model_validate(yaml.safe_load(Path(path).read_text()))


def split_out_of_time(frame: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on the past, test on the most recent launches (frame is sorted by date)."""
    if spec.test_from_year is not None:
        is_test = frame["launch_day"].dt.year >= spec.test_from_year
    else:
        cut = frame["launch_day"].iloc[int(len(frame) * (1 - spec.test_fraction))]
        is_test = frame["launch_day"] >= cut
    train, test = frame[~is_test].reset_index(drop=True), frame[is_test].reset_index(drop=True)
    if len(train) < 50 or len(test) < 20 or train["label"].nunique() < 2:
        raise ValueError(
            f"too little data for an out-of-time split: {len(train)} train, {len(test)} test"
        )
    return train, test


def time_folds(days: np.ndarray, n_folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds: fold k trains on time blocks <= k and validates on block k+1.
    Blocks cut at day boundaries so no launch day straddles train and validation."""
    n = len(days)
    cuts = [int(n * k / (n_folds + 1)) for k in range(1, n_folds + 1)] + [n]
    # move each cut to the first row of its day
    cuts = [
        int(np.searchsorted(days, days[min(c, n - 1)], side="left")) if c < n else n for c in cuts
    ]
    folds = []
    for k in range(n_folds):
        tr, va = np.arange(0, cuts[k]), np.arange(cuts[k], cuts[k + 1])
        if len(tr) and len(va):
            folds.append((tr, va))
    return folds


def _dataset(x: np.ndarray, y: np.ndarray, fb: FeatureBuilder) -> lgb.Dataset:
    return dataset(x, y, fb.feature_names, fb.categorical_features)


def _params(params: dict[str, Any], fb: FeatureBuilder) -> dict[str, Any]:
    return booster_params(params, fb.spec, fb.feature_names)


@dataclass
class CVResult:
    oof_logit: np.ndarray  # NaN for rows never in a validation block
    best_iterations: list[int]
    fold_logloss: list[float]

    @property
    def mask(self) -> np.ndarray:
        return ~np.isnan(self.oof_logit)

    @property
    def n_rounds(self) -> int:
        # the full training set is larger than any fold's: a few more trees
        return max(10, int(np.mean(self.best_iterations) * 1.1))


def cross_validate(
    x: np.ndarray,
    y: np.ndarray,
    days: np.ndarray,
    names: list[str],
    categorical: list[str],
    spec: DatasetSpec,
    params: dict[str, Any],
    n_folds: int,
    max_rounds: int,
    early_stopping: int,
    latest_fold_callbacks: list[Any] | None = None,
) -> CVResult:
    """Out-of-time CV. ``latest_fold_callbacks`` (e.g. an Optuna pruning callback, which needs
    one increasing step sequence) run on the latest, largest fold only; that fold goes first
    so a hopeless trial is pruned before the others are paid for."""
    folds = time_folds(days, n_folds)
    oof = np.full(len(y), np.nan)
    best, losses = [0] * len(folds), [0.0] * len(folds)
    for k in reversed(range(len(folds))):
        tr, va = folds[k]
        extra = latest_fold_callbacks if k == len(folds) - 1 else None
        dtrain = dataset(x[tr], y[tr], names, categorical)
        dvalid = dataset(x[va], y[va], names, categorical)
        booster = lgb.train(
            booster_params(params, spec, names),
            dtrain,
            num_boost_round=max_rounds,
            valid_sets=[dvalid],
            callbacks=[
                lgb.early_stopping(early_stopping, verbose=False),
                *(extra or []),
            ],
        )
        oof[va] = booster.predict(x[va], raw_score=True, num_iteration=booster.best_iteration)
        best[k] = booster.best_iteration or max_rounds
        losses[k] = float(log_loss(y[va], 1 / (1 + np.exp(-oof[va])), labels=[0, 1]))
    return CVResult(oof, best, losses)


def fit_calibrator(raw_logit: np.ndarray, y: np.ndarray) -> tuple[Calibrator, dict[str, float]]:
    """Choose Platt (< 1k rows) or isotonic on out-of-fold predictions, keep it only if it
    lowers out-of-fold log loss (judged by 2-fold cross-fitting of the calibrator itself)."""
    kind = "platt" if len(y) < 1000 else "isotonic"
    p_raw = 1 / (1 + np.exp(-raw_logit))
    halves = np.arange(len(y)) % 2
    p_cal = np.empty(len(y))
    for h in (0, 1):
        fit, app = halves != h, halves == h
        p_cal[app] = _fit_one(kind, raw_logit[fit], y[fit])(raw_logit[app])
    before = float(log_loss(y, p_raw, labels=[0, 1]))
    after = float(log_loss(y, np.clip(p_cal, 1e-6, 1 - 1e-6), labels=[0, 1]))
    report = {"oof_logloss_uncalibrated": before, "oof_logloss_calibrated": after}
    if after < before:
        return _fit_one(kind, raw_logit, y), report | {"calibrator": kind}
    return Calibrator(), report | {"calibrator": "identity"}


def _fit_one(kind: str, raw_logit: np.ndarray, y: np.ndarray) -> Calibrator:
    if kind == "platt":
        lr = LogisticRegression(C=1e4).fit(raw_logit[:, None], y)
        return Calibrator("platt", {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])})
    iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4)
    iso.fit(1 / (1 + np.exp(-raw_logit)), y)
    return Calibrator(
        "isotonic", {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    )


@dataclass
class TrainResult:
    model: HitModel
    train: pd.DataFrame
    test: pd.DataFrame
    cv: CVResult
    test_proba: np.ndarray
    test_metrics: dict[str, float]
    calibration: dict[str, Any]
    params: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Prepared:
    """The out-of-time split with the feature state fitted on the training period only."""

    train: pd.DataFrame
    test: pd.DataFrame
    cols: dict[str, np.ndarray]
    y: np.ndarray
    fb: FeatureBuilder
    x: np.ndarray
    days: np.ndarray


def prepare(frame: pd.DataFrame, spec: DatasetSpec) -> Prepared:
    """Split out of time, fit the features on the past, build the training matrix."""
    train, test = split_out_of_time(frame, spec)
    cols = to_columns(train, spec)
    y = train["label"].to_numpy()
    fb = FeatureBuilder.fit(cols, y, spec, outcome_of(train, spec))
    days = train["launch_day"].to_numpy().astype("datetime64[D]").astype(np.int64)
    return Prepared(train, test, cols, y, fb, fb.transform(cols), days)


def cross_validate_model(
    prep: Prepared,
    params: dict[str, Any],
    config: TrainingConfig,
    latest_fold_callbacks: list[Any] | None = None,
) -> CVResult:
    """:func:`cross_validate` on the prepared training period with the config's folds."""
    fb = prep.fb
    return cross_validate(
        prep.x,
        prep.y,
        prep.days,
        fb.feature_names,
        fb.categorical_features,
        fb.spec,
        params,
        config.cv_folds,
        config.max_rounds,
        config.early_stopping_rounds,
        latest_fold_callbacks=latest_fold_callbacks,
    )


def train_model(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    params: dict[str, Any] | None = None,
    config: TrainingConfig | None = None,
) -> TrainResult:
    """Fit features and LightGBM on the past, calibrate out of fold, score the held-out future."""
    config = config or load_config()
    params = {**config.lightgbm, **(params or {})}
    prep = prepare(frame, spec)
    train, test, cols, y, fb, x = prep.train, prep.test, prep.cols, prep.y, prep.fb, prep.x
    cv = cross_validate_model(prep, params, config)
    calibrator, cal_report = fit_calibrator(cv.oof_logit[cv.mask], y[cv.mask])
    booster = lgb.train(_params(params, fb), _dataset(x, y, fb), num_boost_round=cv.n_rounds)
    pre_test = None
    if spec.pre_test_columns():
        # the same concepts with the small-sample test masked: an honest "before the test" score
        masked = mask_pre_test(cols, spec)
        pre_test = lgb.train(
            _params(params, fb),
            _dataset(fb.transform(masked), y, fb),
            num_boost_round=cv.n_rounds,
        )
    model = HitModel(
        booster, fb, calibrator, pre_test, {"spec": spec.name, "n_rounds": cv.n_rounds}
    )
    attach_scoring_extras(model, train, x, cv.oof_logit, params)  # norms + volume forecast
    test_proba = model.predict_proba(to_columns(test, spec))
    metrics = score(test["label"].to_numpy(), test_proba)
    return TrainResult(model, train, test, cv, test_proba, metrics, cal_report, params)


def outcome_of(frame: pd.DataFrame, spec: DatasetSpec) -> np.ndarray | None:
    """The continuous outcome column (for entity outcome histories), if the spec names one."""
    if spec.outcome_column is None or spec.outcome_column not in frame:
        return None
    return pd.to_numeric(frame[spec.outcome_column], errors="coerce").to_numpy(float)


def mask_pre_test(columns: dict[str, np.ndarray], spec: DatasetSpec) -> dict[str, np.ndarray]:
    """Columns as if no small-sample test had been run (test counts zero)."""
    out = dict(columns)
    for c in spec.pre_test_columns():
        out[c] = np.zeros(len(np.asarray(columns[c])))
    return out
