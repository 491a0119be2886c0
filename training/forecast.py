"""What a trained hit model needs beyond P(hit) to be actionable: a volume forecast and norms.

* ``fit_forecast``: first-90-day outcome (GMV) quantiles P10 / P50 / P90 from LightGBM quantile
  boosters on ``log1p(outcome)``, split-conformalised per side on the latest slice of the training
  period so the 80 % interval holds 80 % of launches the boosters never saw.
* ``category_norms``: per category, the distribution of calibrated out-of-fold P(hit) of past
  launches (each scored by a model that had not seen it) and the category's observed hit rate;
  serving turns these into ``category_percentile`` and the go / refine / stop ``band``.
* ``evaluate_forecast``: ``coverage_80`` and ``mape_p50`` on an out-of-time test set, for the
  quality benchmark.
* ``fit_curve``: for a spec with ``outcomes`` over time, the same at every horizon from one set
  of quantile boosters with the horizon as a feature (``models.curve.CurveForecast``), each
  horizon conformalised on its own; it replaces the single forecast.

``attach_scoring_extras`` is the one call ``training.train.train_model`` makes into this module.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.build import FeatureBuilder
from features.spec import DatasetSpec
from models.curve import HORIZON_FEATURE, CurveForecast
from models.hit_model import HitModel, QuantileForecast
from training.boosting import dataset, sample_rows
from training.dataset import to_columns

# params copied from the hit model's; the objective-specific ones are replaced
_SHARED_PARAMS = (
    "num_leaves",
    "min_data_in_leaf",
    "feature_fraction",
    "bagging_fraction",
    "bagging_freq",
    "lambda_l2",
    "cat_smooth",
    "seed",
    "num_threads",
)
NORM_QUANTILES = 201  # stored points of each category's score distribution
# launches the quantile boosters (and their conformal slice) use, a seeded sample beyond this:
# the four boosters' cost grows with the history, the quantiles' precision hardly does
FORECAST_ROWS = 200_000
FORECAST_LEVEL = 0.8
# (launch, horizon) rows the curve's boosters fit on, a seeded sample beyond this: every launch
# appears once per horizon, and the boosters' cost grows with the rows
CURVE_ROWS = 60_000
CURVE_CALIBRATION = 20_000  # calibration launches, a seeded sample beyond (each predicted 12x)


def attach_scoring_extras(
    model: HitModel, train: pd.DataFrame, x: np.ndarray, oof_logit: np.ndarray, params: dict
) -> HitModel:
    """Add category norms and, when the spec has an outcome column, the volume forecast."""
    spec = model.spec
    model.norms = category_norms(model, train, oof_logit)
    if spec.outcomes:
        try:
            model.forecast = fit_curve(x, train, model.features, params)
        except ValueError as exc:  # too little outcome data: a hit model without a forecast
            model.metadata["forecast_skipped"] = str(exc)
    elif spec.outcome_column:
        outcome = pd.to_numeric(train[spec.outcome_column], errors="coerce").to_numpy(float)
        try:
            model.forecast = fit_forecast(x, outcome, model.features, params)
        except ValueError as exc:  # too little outcome data: a hit model without a forecast
            model.metadata["forecast_skipped"] = str(exc)
    return model


# ---- norms ------------------------------------------------------------------------------------
def norm_column(spec: DatasetSpec) -> str | None:
    """The column that defines 'its category': ``category`` if the spec has one, else the first
    categorical column, else none (norms over all launches)."""
    if "category" in spec.categorical:
        return "category"
    return spec.categorical[0] if spec.categorical else None


def category_norms(model: HitModel, train: pd.DataFrame, oof_logit: np.ndarray) -> dict[str, Any]:
    """Per category: quantiles of past launches' calibrated out-of-fold P(hit), hit rate, count.

    Out-of-fold scores (each launch scored by a fold model trained only on earlier launches) are
    what the model would have said before those launches; in-sample scores would be inflated
    for the hits the model memorised. Rows before the first validation block have no
    out-of-fold score and are left out. Key ``"*"`` holds all categories together."""
    by = norm_column(model.spec)
    has = np.isfinite(oof_logit)
    proba = model.calibrated(oof_logit[has])
    label = train["label"].to_numpy()[has]
    groups = {"*": np.ones(len(proba), dtype=bool)}
    if by is not None:
        values = train[by].astype(str).to_numpy()[has]
        groups |= {str(v): values == v for v in np.unique(values)}
    grid = np.linspace(0.0, 1.0, NORM_QUANTILES)
    out: dict[str, Any] = {"by": by, "quantiles": {}, "hit_rate": {}, "n": {}}
    for key, rows in groups.items():
        if rows.sum() < 20:  # too few past launches to call it a norm
            continue
        out["quantiles"][key] = np.round(np.quantile(proba[rows], grid), 6).tolist()
        out["hit_rate"][key] = float(label[rows].mean())
        out["n"][key] = int(rows.sum())
    return out


# ---- volume forecast --------------------------------------------------------------------------
def _quantile_params(params: dict[str, Any], alpha: float) -> dict[str, Any]:
    p = {k: params[k] for k in _SHARED_PARAMS if k in params}
    p |= {"objective": "quantile", "alpha": alpha, "metric": "quantile", "verbose": -1}
    # LightGBM refuses monotone constraints with the quantile objective, so the spec's
    # directions are not enforced on the volume forecast (only on P(hit))
    p["learning_rate"] = 0.1  # 0.05 took twice as long for the same out-of-time coverage
    return p


def _dataset(x: np.ndarray, y: np.ndarray, fb: FeatureBuilder) -> lgb.Dataset:
    return dataset(x, y, fb.feature_names, fb.categorical_features)


def conformal_offset(scores: np.ndarray, miss: float) -> float:
    """Split-conformal quantile of nonconformity ``scores`` for a one-sided miss rate."""
    n = len(scores)
    k = min(n, int(np.ceil((n + 1) * (1 - miss))))  # the k-th smallest score
    return float(np.sort(scores)[k - 1])


def fit_forecast(
    x: np.ndarray,
    outcome: np.ndarray,
    fb: FeatureBuilder,
    params: dict[str, Any],
    level: float = FORECAST_LEVEL,
    calib_fraction: float = 0.2,
    max_rounds: int = 1000,
) -> QuantileForecast:
    """Quantile boosters on the earlier training launches, conformalised on the latest ones.

    ``x`` rows are in launch-date order (as ``train_model`` builds them); beyond
    :data:`FORECAST_ROWS` launches with an outcome, a seeded sample of them (still in order) is
    used. The number of rounds is early-stopped for the median on the tail of the fitting part,
    never on the calibration slice, so the conformal offsets are computed on launches that
    influenced nothing."""
    ok = sample_rows(np.flatnonzero(np.isfinite(outcome) & (outcome >= 0)), FORECAST_ROWS)
    x, y = x[ok], np.log1p(outcome[ok])
    cut = int(len(y) * (1 - calib_fraction))
    inner = int(cut * 0.8)
    if inner < 50 or len(y) - cut < 20:
        raise ValueError(f"too few launches with an outcome for a forecast: {len(y)}")
    probe = lgb.train(
        _quantile_params(params, 0.5),
        _dataset(x[:inner], y[:inner], fb),
        num_boost_round=max_rounds,
        valid_sets=[_dataset(x[inner:cut], y[inner:cut], fb)],
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )
    rounds = max(20, int((probe.best_iteration or max_rounds) * 1.1))
    boosters = {
        key: lgb.train(_quantile_params(params, alpha), _dataset(x[:cut], y[:cut], fb), rounds)
        for key, alpha in QuantileForecast.QUANTILES.items()
    }
    xc, yc = x[cut:], y[cut:]
    miss = (1 - level) / 2
    return QuantileForecast(
        boosters,
        lower_offset=conformal_offset(boosters["p10"].predict(xc) - yc, miss),
        upper_offset=conformal_offset(yc - boosters["p90"].predict(xc), miss),
        level=level,
        outcome=fb.spec.outcome_column or "outcome",
    )


# ---- the outcome over time -------------------------------------------------------------------
def known_outcomes(train: pd.DataFrame, spec: DatasetSpec) -> np.ndarray:
    """(launches, horizons) cumulative outcomes of the training launches, NaN where unknown:
    missing, negative, or not yet known when the history ends (its latest launch day): a
    launch 100 days before then has no 180-day outcome yet, whatever the file says."""
    days = train["launch_day"].to_numpy().astype("datetime64[D]").astype(np.int64)
    out = np.full((len(train), len(spec.outcomes)), np.nan)
    for j, (col, horizon) in enumerate(spec.horizons()):
        y = pd.to_numeric(train[col], errors="coerce").to_numpy(float)
        ok = np.isfinite(y) & (y >= 0) & (days + horizon <= days.max())
        out[ok, j] = y[ok]
    return out


def _stack(x: np.ndarray, pairs: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Rows (launch, horizon index) of ``pairs`` -> the launch's features and the horizon."""
    return np.column_stack([x[pairs[:, 0]], days[pairs[:, 1]]])


def fit_curve(
    x: np.ndarray,
    train: pd.DataFrame,
    fb: FeatureBuilder,
    params: dict[str, Any],
    level: float = FORECAST_LEVEL,
    calib_fraction: float = 0.2,
    max_rounds: int = 1000,
) -> CurveForecast:
    """Quantile boosters of log1p(cumulative outcome) over (launch, horizon) rows, the horizon in
    days as the last feature; split-conformal offsets per horizon.

    The calibration launches are the latest ``calib_fraction`` of those whose outcome at the
    longest horizon is known (:func:`known_outcomes`), so known at every horizon; they fit
    nothing at any horizon (a launch fitted at month 9 would make its month-12 residual nearly
    in-sample). Every other launch is a fitting row at each horizon it has. Rounds are
    early-stopped for the median on a seeded fifth of the fitting launches (all their horizons).
    Beyond :data:`CURVE_ROWS` fitting rows (:data:`CURVE_CALIBRATION` calibration launches), a
    seeded sample of them. ``x`` rows are ``train``'s, in launch-date order."""
    spec = fb.spec
    y = np.log1p(known_outcomes(train, spec))
    days = np.array([d for _, d in spec.horizons()], dtype=float)
    longest = np.flatnonzero(np.isfinite(y[:, -1]))
    cut = int(len(longest) * (1 - calib_fraction))
    if cut < 50 or len(longest) - cut < 20:
        raise ValueError(
            f"too few launches with a known {spec.horizons()[-1][0]} for a forecast: {len(longest)}"
        )
    calib = longest[cut:]
    fitting = np.isfinite(y)
    fitting[calib] = False
    calib = sample_rows(calib, CURVE_CALIBRATION)
    flat = sample_rows(np.flatnonzero(fitting), CURVE_ROWS)  # (launch, horizon), launch order
    pairs = np.column_stack(np.divmod(flat, y.shape[1]))
    held = np.random.default_rng(0).random(len(y)) < 0.2  # early stopping's launches
    is_valid = held[pairs[:, 0]]
    xs, ys = _stack(x, pairs, days), y[pairs[:, 0], pairs[:, 1]]
    names = [*fb.feature_names, HORIZON_FEATURE]

    def data(rows: np.ndarray) -> lgb.Dataset:
        return dataset(xs[rows], ys[rows], names, fb.categorical_features)

    probe = lgb.train(
        _curve_params(params, 0.5),
        data(~is_valid),
        num_boost_round=max_rounds,
        valid_sets=[data(is_valid)],
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )
    rounds = max(20, int((probe.best_iteration or max_rounds) * 1.1))
    everything = dataset(xs, ys, names, fb.categorical_features)
    boosters = {
        key: lgb.train(_curve_params(params, alpha), everything, rounds)
        for key, alpha in CurveForecast.QUANTILES.items()
    }
    curve = CurveForecast(
        boosters,
        spec.horizons(),
        [0.0] * len(days),
        [0.0] * len(days),
        level=level,
        outcome=spec.headline_outcome(),  # type: ignore[arg-type]
    )
    miss = (1 - level) / 2
    raw = curve.raw(x[calib])
    for j in range(len(days)):
        curve.lower_offsets[j] = conformal_offset(raw["p10"][:, j] - y[calib, j], miss)
        curve.upper_offsets[j] = conformal_offset(y[calib, j] - raw["p90"][:, j], miss)
    return curve


def _curve_params(params: dict[str, Any], alpha: float) -> dict[str, Any]:
    # measured on the default history (20,000 simulated launches, seed 7): at 0.15 and 8 leaves
    # half the CPU of the single forecast's 0.1 and the hit model's 6 leaves, for the same
    # coverage and pinball loss against the exact quantiles at 1, 3, 6 and 12 months
    return _quantile_params(params, alpha) | {"learning_rate": 0.15, "num_leaves": 8}


def evaluate_forecast(model: HitModel, test: pd.DataFrame) -> dict[str, float]:
    """On out-of-time test rows: share inside the 80 % interval and the median's MAPE.

    Returns ``coverage_80``, ``below_p10``, ``above_p90``, ``mape_p50`` (mean |P50 - y| / y over
    launches with y > 0) and ``n``. Raises ValueError if the model has no forecast."""
    spec = model.spec
    if model.forecast is None or not spec.headline_outcome():
        raise ValueError(f"model for spec {spec.name!r} has no volume forecast")
    y = pd.to_numeric(test[spec.headline_outcome()], errors="coerce").to_numpy(float)
    ok = np.isfinite(y) & (y >= 0)
    q = model.forecast.predict(model.matrix(to_columns(test[ok], spec)))
    y = y[ok]
    pos = y > 0
    return {
        "coverage_80": float(np.mean((q["p10"] <= y) & (y <= q["p90"]))),
        "below_p10": float(np.mean(y < q["p10"])),
        "above_p90": float(np.mean(y > q["p90"])),
        "mape_p50": float(np.mean(np.abs(q["p50"][pos] - y[pos]) / y[pos])),
        "n": int(len(y)),
    }
