"""Training pipeline: out-of-time split -> features -> cross-validated LightGBM (blended with a
linear part when ``config.yaml``'s ``blend`` is on, see ``training.blend``) -> calibration.

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
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from features.build import FeatureBuilder
from features.spec import DatasetSpec, SpecError
from models.hit_model import Calibrator, HitModel
from models.linear import LinearPart
from models.uncertainty import Spread
from training.blend import BlendChoice, choose_blend, fit_linear, forward_platt, recency_weights
from training.boosting import booster_params, dataset, sample_rows
from training.dataset import day_numbers, to_columns
from training.evaluate import score
from training.forecast import attach_scoring_extras
from training.funnel_norms import funnel_norms
from training.stages import Stages
from training.text import TextStack, TextTraining, stack_text
from training.uncertainty import fit_spread

CONFIG_PATH = Path(__file__).with_name("config.yaml")
# Launches the pre-test model (the second opinion "before the small-sample test") is fitted on,
# a seeded sample of the training period beyond this: on a large history it was a second full
# fit, as costly as the served model's, for an estimate shown beside it.
PRE_TEST_ROWS = 200_000


class Promotion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_logloss_gain: float = Field(
        0.0, ge=0, description="The challenger's test log loss must be lower by more than this."
    )
    max_auc_drop: float = Field(
        0.002, ge=0, description="And its test AUC at most this much below the champion's."
    )


class Blend(BaseModel):
    """LightGBM + a linear part in log-odds, every choice made on the time folds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="Blend (off: LightGBM alone, early-stopped CV).")
    half_life_grid: list[float | None] = Field(
        [None, 8.0, 4.0, 2.0],
        min_length=1,
        description="Recency-weight half-lives in years (null = no decay), per learner.",
    )
    c_grid: list[float] = Field(
        [0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
        min_length=1,
        description="Inverse L2 strengths of the linear part (sklearn's C).",
    )
    lgbm_half_life_grid: list[float | None] | None = Field(
        None, min_length=1, description="LightGBM's own half-lives (tuned); null: the shared grid."
    )
    linear_half_life_grid: list[float | None] | None = Field(
        None, min_length=1, description="The linear part's own (tuned); null: the shared grid."
    )
    w_step: float = Field(0.05, gt=0, le=1, description="Grid step of the LightGBM weight w.")
    w_values: list[float] | None = Field(
        None, min_length=1, description="An explicit grid of w in [0, 1] instead of the step."
    )
    min_frequency: int = Field(
        10, ge=1, description="A category needs this many training rows for its own coefficient."
    )

    @field_validator("w_values")
    @classmethod
    def _weights(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and not all(0.0 <= w <= 1.0 for w in v):
            raise ValueError("every w must be in [0, 1]")
        return v

    @field_validator("half_life_grid", "lgbm_half_life_grid", "linear_half_life_grid")
    @classmethod
    def _half_lives(cls, v: list[float | None] | None) -> list[float | None] | None:
        if v is not None and not all(h is None or h > 0 for h in v):
            raise ValueError("a half-life is positive (or null: no decay)")
        return v

    @field_validator("c_grid")
    @classmethod
    def _cs(cls, v: list[float]) -> list[float]:
        if not all(c > 0 for c in v):
            raise ValueError("C is positive")
        return v

    @property
    def lgbm_half_lives(self) -> tuple[float | None, ...]:
        own = self.lgbm_half_life_grid
        return tuple(self.half_life_grid if own is None else own)

    @property
    def linear_half_lives(self) -> tuple[float | None, ...]:
        own = self.linear_half_life_grid
        return tuple(self.half_life_grid if own is None else own)

    @property
    def w_grid(self) -> tuple[float, ...]:
        if self.w_values is not None:
            return tuple(float(w) for w in self.w_values)
        n = max(1, round(1 / self.w_step))
        return tuple(float(w) for w in np.round(np.linspace(0.0, 1.0, n + 1), 4))


class Interval(BaseModel):
    """The interval on P(hit) (``models.uncertainty``): how many refits, at what level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    members: int = Field(
        8, ge=0, description="Half-sample refits of the recipe (0: no interval; else at least 2)."
    )
    level: float = Field(0.8, gt=0, lt=1, description="Two-sided level of the interval.")
    evidence_window: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Share of out-of-fold launches, nearest in log-odds, whose hits measure "
        "the evidence behind a concept's calibrated level.",
    )
    member_rows: int = Field(
        100_000, ge=50, description="Training launches per refit at most (a seeded sample)."
    )
    scale: float = Field(
        1.0,
        gt=0,
        description="Multiplies the interval's standard error: the error every fit of the recipe "
        "shares, which its parts do not see (fitted by `compass bench interval-scales`).",
    )
    pair_scale: float = Field(
        1.0,
        gt=0,
        description="Multiplies the standard error of two concepts' difference (P(A truly beats "
        "B)); fitted with `scale`.",
    )

    @field_validator("members")
    @classmethod
    def _members(cls, v: int) -> int:
        if v == 1:
            raise ValueError("an interval needs at least 2 members (0: none)")
        return v


class TrainingConfig(BaseModel):
    """``training/config.yaml``: what training and tuning read (tuned params override
    ``lightgbm``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lightgbm: dict[str, Any] = Field(description="LightGBM params of the hit model.")
    max_rounds: int = Field(gt=0, description="Most boosting rounds per fit.")
    early_stopping_rounds: int = Field(gt=0, description="Rounds without gain before a fold stops.")
    cv_folds: int = Field(ge=2, description="Expanding-window out-of-time folds of training.")
    promotion: Promotion = Field(default_factory=Promotion)
    blend: Blend = Field(default_factory=Blend)
    interval: Interval = Field(default_factory=Interval)
    text: TextTraining = Field(default_factory=TextTraining)
    experiment: str = Field("hit-compass", description="MLflow experiment of runs and studies.")


def load_config(path: Path = CONFIG_PATH) -> TrainingConfig:
    """The training config, validated (an unknown or mistyped key names itself)."""
    return TrainingConfig.model_validate(yaml.safe_load(Path(path).read_text()))


def split_out_of_time(frame: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on the past, test on the most recent launches (frame is sorted by date)."""
    if spec.test_from_year is not None:
        is_test = frame["launch_day"].dt.year >= spec.test_from_year
    elif spec.test_from_date is not None:
        is_test = frame["launch_day"] >= pd.Timestamp(spec.test_from_date)
    elif len(frame):
        cut = frame["launch_day"].iloc[int(len(frame) * (1 - spec.test_fraction))]
        is_test = frame["launch_day"] >= cut
    else:
        is_test = pd.Series(False, index=frame.index)
    train, test = frame[~is_test].reset_index(drop=True), frame[is_test].reset_index(drop=True)
    if len(train) < MIN_TRAIN or len(test) < MIN_TEST or train["label"].nunique() < 2:
        raise SpecError(_too_little(train, test, spec))
    return train, test


MIN_TRAIN, MIN_TEST = 50, 20  # launches an out-of-time split needs on each side


def _too_little(train: pd.DataFrame, test: pd.DataFrame, spec: DatasetSpec) -> str:
    """Why the split cannot be made, with its counts and dates, and what to look at."""

    def side(name: str, part: pd.DataFrame) -> str:
        if part.empty:
            return f"0 {name} launches"
        first, last = part["launch_day"].min().date(), part["launch_day"].max().date()
        hits = int(part["label"].sum())
        return f"{len(part)} {name} launches ({first} to {last}, {hits} hits)"

    if spec.test_from_year is not None:
        split = f"test_from_year: {spec.test_from_year}"
    elif spec.test_from_date is not None:
        split = f"test_from_date: {spec.test_from_date}"
    else:
        split = f"test_fraction: {spec.test_fraction} (the latest launches)"
    if len(train) >= MIN_TRAIN and len(test) >= MIN_TEST:
        one = int(train["label"].iloc[0])
        return (
            f"the training period holds only {'hits' if one else 'non-hits'}: "
            f"{side('training', train)}, {side('test', test)}, split by {split}; check the "
            "target (the rule's threshold, or target.positive) and the date column"
        )
    return (
        f"too little data for an out-of-time split: {side('training', train)} and "
        f"{side('test', test)}, split by {split}; it needs at least {MIN_TRAIN} training "
        f"launches with hits and non-hits among them and {MIN_TEST} test launches: check that "
        "the date column reads as it should (the data report's date_format and missing_date) "
        "or move the split (test_fraction, test_from_date, test_from_year)"
    )


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


def blend_calibrator(
    z: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[Calibrator, dict[str, Any]]:
    """Platt on the latest fold if the forward check approves it, else :func:`fit_calibrator`
    on the pooled out-of-fold log-odds ``z`` (NaN outside the folds)."""
    platt, forward = forward_platt(z, y, folds)
    if platt is not None:
        return Calibrator("platt", platt), {"calibrator": "platt (latest fold)", **forward}
    mask = ~np.isnan(z)
    calibrator, report = fit_calibrator(z[mask], y[mask])
    return calibrator, {**forward, **report}


@dataclass
class Recipe:
    """The model's recipe fitted on one matrix: booster (+ linear part and weight), calibrator,
    the out-of-fold log-odds the calibrator saw, and what was chosen."""

    booster: lgb.Booster
    calibrator: Calibrator
    cv: CVResult  # LightGBM's (honest, for a blend) time-fold CV
    oof_logit: np.ndarray  # the served log-odds' out-of-fold twin (NaN outside the folds)
    calibration: dict[str, Any]
    linear: LinearPart | None = None
    w: float = 1.0
    choice: BlendChoice | None = None

    def log_odds(self, x: np.ndarray) -> np.ndarray:
        tree = self.booster.predict(x, raw_score=True)
        if self.linear is None or self.w >= 1.0:
            return tree
        return self.w * tree + (1.0 - self.w) * self.linear.log_odds(x)

    def refit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        days: np.ndarray,
        names: list[str],
        categorical: list[str],
        spec: DatasetSpec,
        params: dict[str, Any],
        min_frequency: int = 10,
    ) -> tuple[lgb.Booster, LinearPart | None]:
        """The same choices (trees, half-lives, C) fitted on another matrix of the same rows
        (the pre-test model's masked one)."""
        return _fit_parts(
            x,
            y,
            days,
            names,
            categorical,
            spec,
            params,
            self.cv.n_rounds,
            self.choice,
            min_frequency,
        )


def _fit_parts(
    x: np.ndarray,
    y: np.ndarray,
    days: np.ndarray,
    names: list[str],
    categorical: list[str],
    spec: DatasetSpec,
    params: dict[str, Any],
    n_rounds: int,
    choice: BlendChoice | None,
    min_frequency: int,
) -> tuple[lgb.Booster, LinearPart | None]:
    hl = choice.lgbm_half_life if choice is not None else None
    data = dataset(x, y, names, categorical, recency_weights(days, hl))
    booster = lgb.train(booster_params(params, spec, names), data, num_boost_round=n_rounds)
    if choice is None or choice.w >= 1.0:
        return booster, None
    lin = choice.linear
    weight = recency_weights(days, lin.half_life)
    monotone = spec.feature_monotone()
    linear = fit_linear(x, y, names, categorical, monotone, lin.C, weight, min_frequency)
    return booster, linear


def fit_recipe(
    x: np.ndarray,
    y: np.ndarray,
    days: np.ndarray,
    names: list[str],
    categorical: list[str],
    spec: DatasetSpec,
    params: dict[str, Any],
    config: TrainingConfig,
    stages: Stages | None = None,
) -> Recipe:
    """Time-fold CV picks the trees (and, with ``blend`` on, the half-lives, C and w), calibrate
    out of fold, refit on the whole training period."""
    bc = config.blend
    stages = stages or Stages()
    if not bc.enabled:
        with stages("time_folds"):
            cv = cross_validate(
                x,
                y,
                days,
                names,
                categorical,
                spec,
                params,
                config.cv_folds,
                config.max_rounds,
                config.early_stopping_rounds,
            )
            calibrator, report = fit_calibrator(cv.oof_logit[cv.mask], y[cv.mask])
        with stages("final_fit"):
            booster, _ = _fit_parts(
                x, y, days, names, categorical, spec, params, cv.n_rounds, None, bc.min_frequency
            )
        return Recipe(booster, calibrator, cv, cv.oof_logit, report)
    with stages("time_folds"):
        folds = time_folds(days, config.cv_folds)
        choice = _choose_blend(x, y, days, folds, names, categorical, spec, params, config)
        honest = choice.lgbm
        cv = CVResult(honest.oof_logit, honest.best_iterations, honest.fold_logloss)
        calibrator, report = blend_calibrator(choice.oof_logit, y, choice.folds)
        choice.report["calibration"] = report["calibrator"]
    with stages("final_fit"):
        booster, linear = _fit_parts(
            x, y, days, names, categorical, spec, params, cv.n_rounds, choice, bc.min_frequency
        )
    report = {**report, "blend": choice.report}
    return Recipe(booster, calibrator, cv, choice.oof_logit, report, linear, choice.w, choice)


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
    x: np.ndarray  # the training matrix: text scores out of fold (training.text)
    days: np.ndarray
    text: TextStack | None = None  # the spec's text models and their out-of-fold scores


def prepare(
    frame: pd.DataFrame, spec: DatasetSpec, config: TrainingConfig | None = None
) -> Prepared:
    """Split out of time, fit the features on the past, build the training matrix. With
    ``text`` in the spec, its text models are stacked along the config's time folds first:
    the training matrix holds their out-of-fold scores (``training.text``)."""
    train, test = split_out_of_time(frame, spec)
    cols = to_columns(train, spec)
    y = train["label"].to_numpy()
    days = day_numbers(train)
    text = None
    if spec.text:
        config = config or load_config()
        text = stack_text(cols, y, spec, time_folds(days, config.cv_folds), config.text)
    models = text.models if text is not None else None
    fb = FeatureBuilder.fit(cols, y, spec, outcome_of(train, spec), models)
    x = fb.transform(cols)
    if text is not None:
        text.into(x, fb.text_features)
        if fb.input_profile is not None:
            fb.input_profile = fb.input_profile.with_text(text.reference)
    return Prepared(train, test, cols, y, fb, x, days, text)


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


def choose_blend_model(
    prep: Prepared,
    params: dict[str, Any],
    config: TrainingConfig,
    latest_fold_callbacks: list[Any] | None = None,
) -> BlendChoice:
    """:func:`choose_blend` on the prepared training period with the config's folds and grids."""
    fb = prep.fb
    folds = time_folds(prep.days, config.cv_folds)
    names, categorical = fb.feature_names, fb.categorical_features
    return _choose_blend(
        prep.x, prep.y, prep.days, folds, names, categorical, fb.spec, params, config,
        latest_fold_callbacks,
    )  # fmt: skip


def _choose_blend(
    x: np.ndarray,
    y: np.ndarray,
    days: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    names: list[str],
    categorical: list[str],
    spec: DatasetSpec,
    params: dict[str, Any],
    config: TrainingConfig,
    latest_fold_callbacks: list[Any] | None = None,
) -> BlendChoice:
    """:func:`choose_blend` with the config's rounds and grids (the one place they are read)."""
    bc = config.blend
    return choose_blend(
        x,
        y,
        days,
        folds,
        names,
        categorical,
        spec,
        params,
        config.max_rounds,
        config.early_stopping_rounds,
        bc.lgbm_half_lives,
        bc.linear_half_lives,
        tuple(bc.c_grid),
        bc.w_grid,
        bc.min_frequency,
        latest_fold_callbacks,
    )


def train_model(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    params: dict[str, Any] | None = None,
    config: TrainingConfig | None = None,
    stages: Stages | None = None,
) -> TrainResult:
    """Fit features and the recipe on the past, calibrate out of fold, score the held-out
    future. ``stages`` collects the seconds of each step."""
    config = config or load_config()
    params = {**config.lightgbm, **(params or {})}
    stages = stages or Stages()
    with stages("features"):
        prep = prepare(frame, spec, config)
    train, test, cols, y, fb, x = prep.train, prep.test, prep.cols, prep.y, prep.fb, prep.x
    names, cats = fb.feature_names, fb.categorical_features
    recipe = fit_recipe(x, y, prep.days, names, cats, spec, params, config, stages)
    cv = recipe.cv
    pre_test = pre_test_linear = None
    with stages("pre_test_and_forecast"):
        if spec.pre_test_columns():
            # the same concepts with the small-sample test masked: an honest "before the test"
            # (on at most PRE_TEST_ROWS of them)
            rows = sample_rows(np.arange(len(y)), PRE_TEST_ROWS)
            masked = fb.transform(mask_pre_test({k: v[rows] for k, v in cols.items()}, spec))
            if prep.text is not None:  # out of fold, as in the served model's matrix
                prep.text.into(masked, fb.text_features, rows)
            pre_test, pre_test_linear = recipe.refit(
                masked, y[rows], prep.days[rows], names, cats, spec, params,
                config.blend.min_frequency,
            )  # fmt: skip
        meta: dict[str, Any] = {"spec": spec.name, "n_rounds": cv.n_rounds}
        if pre_test is not None:
            meta["pre_test_rows"] = len(rows)
        if recipe.choice is not None:
            meta["blend"] = recipe.choice.report
        model = HitModel(
            recipe.booster,
            fb,
            recipe.calibrator,
            pre_test,
            meta,
            linear=recipe.linear,
            pre_test_linear=pre_test_linear,
            blend_weight=recipe.w,
        )
        # norms + volume forecast; norms from the served log-odds' out-of-fold twin
        attach_scoring_extras(model, train, x, recipe.oof_logit, params)
    if config.interval.members:
        with stages("interval"):
            model.spread = fit_interval(recipe, x, y, prep.days, fb, params, config)
            meta["interval"] = model.spread.report
        # the funnel card's norms, each launch's rates out of fold over the same time folds
        model.funnel = funnel_norms(spec, cols, time_folds(prep.days, config.cv_folds))
    with stages("test_scores"):
        test_proba = model.predict_proba(to_columns(test, spec))
        metrics = score(test["label"].to_numpy(), test_proba)
    extras: dict[str, Any] = {"blend": recipe.choice} if recipe.choice is not None else {}
    if prep.text is not None:
        extras["text"] = prep.text
        model.metadata["text"] = prep.text.report
    return TrainResult(
        model, train, test, cv, test_proba, metrics, recipe.calibration, params, extras
    )


def fit_interval(
    recipe: Recipe,
    x: np.ndarray,
    y: np.ndarray,
    days: np.ndarray,
    fb: FeatureBuilder,
    params: dict[str, Any],
    config: TrainingConfig,
) -> Spread:
    """The interval's parts (``training.uncertainty``): the recipe's choices refitted on
    half-samples, each with its own LightGBM seed; the evidence from its out-of-fold log-odds."""
    names, cats, spec = fb.feature_names, fb.categorical_features, fb.spec
    seed = int(params.get("seed", 0))

    def member(rows: np.ndarray, k: int) -> tuple[lgb.Booster, LinearPart | None]:
        return _fit_parts(
            x[rows], y[rows], days[rows], names, cats, spec, params | {"seed": k},
            recipe.cv.n_rounds, recipe.choice, config.blend.min_frequency,
        )  # fmt: skip

    iv = config.interval
    return fit_spread(
        y, recipe.oof_logit, member, recipe.w, iv.members, iv.level, iv.evidence_window,
        iv.member_rows, iv.scale, seed, iv.pair_scale,
    )  # fmt: skip


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
