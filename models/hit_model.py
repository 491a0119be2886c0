"""The hit model: LightGBM booster + fitted feature builder + calibrator, saved natively.

On disk (no pickle anywhere)::

    booster.txt          LightGBM text model
    pre_test.txt         optional: booster trained with the small-sample test masked
    forecast_p10.txt     optional (with forecast_p50/p90): quantile boosters of log1p(outcome)
    forecast_curve_p10.txt  instead, for outcomes over time (with _p50/_p90): models.curve
    features.json        FeatureBuilder state, including the dataset spec
    model.json           calibrator, category norms, forecast conformal offsets, metadata
    linear.json          optional: the linear part (and its pre-test twin) and the blend weight
    interval_<i>.txt     optional (with interval.json): the interval's members (models.uncertainty)

model.json also holds the funnel card's norms (``training.funnel_norms``) when the spec has
a funnel.

With a linear part the raw log-odds are ``w * booster + (1 - w) * linear`` (``blend_weight`` w,
see ``models.linear`` and ``training.blend``); a folder without ``linear.json`` is LightGBM alone.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np

from features.build import Columns, FeatureBuilder
from features.profile import FieldDrift
from features.schema import ConceptSchema
from features.spec import DatasetSpec
from models.curve import CurveForecast
from models.fast_predict import CONTRIB, RAW_SCORE, SingleRowPredictor
from models.linear import LinearPart
from models.uncertainty import Assessment, Spread

FORMAT_VERSION = 1


class ModelLoadError(RuntimeError):
    """The model directory is missing, incomplete or corrupt: refuse to serve it."""


@dataclass
class Calibrator:
    """Maps raw log-odds to calibrated probability: identity, Platt or isotonic."""

    kind: str = "identity"
    params: dict[str, list[float] | float] = field(default_factory=dict)

    def __call__(self, raw_logit: np.ndarray) -> np.ndarray:
        if self.kind == "platt":
            z = float(self.params["a"]) * raw_logit + float(self.params["b"])
            return 1.0 / (1.0 + np.exp(-z))
        p = 1.0 / (1.0 + np.exp(-raw_logit))
        if self.kind == "isotonic":
            x, y = self._isotonic_xy()
            return np.clip(np.interp(p, x, y), 1e-4, 1 - 1e-4)
        return p

    def _isotonic_xy(self) -> tuple[np.ndarray, np.ndarray]:
        xy = self.__dict__.get("_xy")  # converted once: the service calls this per request
        if xy is None:
            xy = self.__dict__["_xy"] = (
                np.asarray(self.params["x"], dtype=float),
                np.asarray(self.params["y"], dtype=float),
            )
        return xy


@dataclass
class QuantileForecast:
    """Outcome quantiles (e.g. first-90-day GMV) from LightGBM quantile boosters on log1p(y).

    ``lower_offset`` / ``upper_offset`` widen the P10 / P90 predictions (log1p units) so the
    interval holds ``level`` of a held-out calibration slice (split-conformal, per side)."""

    boosters: dict[str, lgb.Booster]  # "p10", "p50", "p90"
    lower_offset: float = 0.0
    upper_offset: float = 0.0
    level: float = 0.8
    outcome: str = "outcome"

    QUANTILES: ClassVar[dict[str, float]] = {"p10": 0.1, "p50": 0.5, "p90": 0.9}

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Rows of the feature matrix -> {"p10", "p50", "p90"} in outcome units (ordered)."""
        threads = 1 if len(x) < 2000 else 0
        raw = {k: b.predict(x, num_threads=threads) for k, b in self.boosters.items()}
        lo = raw["p10"] - self.lower_offset
        hi = raw["p90"] + self.upper_offset
        mid = np.clip(raw["p50"], lo, hi)
        lo, hi = np.minimum(lo, mid), np.maximum(hi, mid)
        return {k: np.expm1(v).clip(0, None) for k, v in (("p10", lo), ("p50", mid), ("p90", hi))}

    def params(self) -> dict[str, Any]:
        return {
            "lower_offset": self.lower_offset,
            "upper_offset": self.upper_offset,
            "level": self.level,
            "outcome": self.outcome,
        }


@dataclass
class HitModel:
    booster: lgb.Booster
    features: FeatureBuilder
    calibrator: Calibrator = field(default_factory=Calibrator)
    pre_test_booster: lgb.Booster | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    forecast: QuantileForecast | CurveForecast | None = None
    # per-category score distribution of past launches (see training.forecast.category_norms)
    norms: dict[str, Any] | None = None
    # the blend: raw log-odds = blend_weight * booster + (1 - blend_weight) * linear
    linear: LinearPart | None = None
    pre_test_linear: LinearPart | None = None
    blend_weight: float = 1.0
    # refits of the recipe on half-samples: the interval on P(hit) (None: trained without)
    spread: Spread | None = None
    # per funnel stage and category, past launches' out-of-fold shrunk rates (training.funnel_norms)
    funnel: dict[str, Any] | None = None

    @property
    def is_blend(self) -> bool:
        """True if the log-odds blend a linear part with the booster (0 <= w < 1)."""
        return self.linear is not None and self.blend_weight < 1.0

    @property
    def spec(self) -> DatasetSpec:
        """The dataset spec the model was trained on (it travels inside the model)."""
        return self.features.spec

    def input_drift(self, columns: Columns) -> list[FieldDrift]:
        """PSI per input field of ``columns`` (recent concepts) against the training inputs
        (empty for models saved before profiles were kept)."""
        profile = self.features.input_profile
        if profile is None:
            return []
        return profile.drift(columns, text_models=self.features.text_models)

    @functools.cached_property
    def concept_schema(self) -> ConceptSchema:
        """What a concept must hold to be scored: the spec plus what training saw."""
        return ConceptSchema(self.spec, self.features)

    @property
    def has_pre_test(self) -> bool:
        """True if the model carries a booster trained with the small-sample test masked."""
        return self.pre_test_booster is not None

    @property
    def feature_sources(self) -> dict[str, str]:
        """Feature -> the input field it is derived from, in the matrix's column order."""
        return self.features.feature_sources

    def matrix(self, columns: Columns) -> np.ndarray:
        return self.features.transform(columns)

    def warnings(self, columns: Columns) -> list[list[str]]:
        """Per row: extrapolation and thin-evidence notes (see ``FeatureBuilder.warnings``)."""
        return self.features.warnings(columns)

    def log_odds(self, x: np.ndarray) -> np.ndarray:
        """Raw (uncalibrated) log-odds of a hit per row of the feature matrix."""
        return self._blend(self._raw(self.booster, x), self.linear, x)

    def probability(self, x: np.ndarray) -> np.ndarray:
        """Calibrated P(hit) per row of the feature matrix."""
        return self.calibrated(self.log_odds(x))

    def calibrated(self, log_odds: np.ndarray) -> np.ndarray:
        """Calibrated P(hit) from raw log-odds (a monotone map)."""
        return self.calibrator(log_odds)

    def predict_proba(self, columns: Columns) -> np.ndarray:
        """Calibrated P(hit) per row of input columns."""
        return self.probability(self.matrix(columns))

    def explain(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(contributions per feature (n, features), base value (n,), raw log-odds (n,)) in one
        tree walk: contributions and base sum to the log-odds. TreeSHAP for the booster; for a
        blend, ``w * TreeSHAP + (1 - w) * linear term`` per feature and base
        ``w * tree base + (1 - w) * linear base``."""
        if len(x) == 1:
            contrib = self._single_row(self.booster, CONTRIB)(x)[None, :]
        else:
            contrib = self.booster.predict(x, pred_contrib=True, num_threads=1)
        if not self.is_blend:
            return contrib[:, :-1], contrib[:, -1], contrib.sum(axis=1)
        # (1 - w) is folded into the linear part's prepared arrays: two array operations here,
        # in place (``contrib`` is this call's own array)
        contrib *= self.blend_weight
        contrib += self.linear.contributions(x, 1.0 - self.blend_weight)  # type: ignore[union-attr]
        return contrib[:, :-1], contrib[:, -1], contrib.sum(axis=1)

    def uncertainty(self, x: np.ndarray, log_odds: np.ndarray) -> Assessment | None:
        """How sure the raw ``log_odds`` of rows ``x`` are (``models.uncertainty``); None for
        a model trained without interval members."""
        if self.spread is None:
            return None
        gap = None
        if self.is_blend:  # LightGBM's log-odds minus the linear part's
            gap = self.booster.predict(x, raw_score=True, num_threads=1)
            gap -= self.linear.log_odds(x)  # type: ignore[union-attr]
        return self.spread.assess(x, log_odds, gap)

    def pre_test_probability(self, x_masked: np.ndarray) -> np.ndarray:
        """P(hit) as if untested, from rows whose small-sample test fields are masked.

        The pre-test booster's raw output (blended with the pre-test linear part, same weight)
        is used as is (identity calibration): both are trained with log loss on masked rows, and
        its out-of-time ECE is measured in the tests."""
        if self.pre_test_booster is None:
            raise ValueError("this model has no pre-test booster (its spec has no pre_test pair)")
        raw = self._raw(self.pre_test_booster, x_masked)
        linear, w = self.pre_test_linear, self.blend_weight
        if linear is not None and w < 1.0 and len(x_masked) == 1:
            # the service's path, in plain numbers: each numpy call on one row is overhead
            z = w * float(raw[0]) + linear.log_odds_one(x_masked, 1.0 - w)
            return np.array([_sigmoid(z)])
        return 1.0 / (1.0 + np.exp(-self._blend(raw, linear, x_masked)))

    def pair_prior_mean(self, pair: str, concept: Mapping[str, Any]) -> float:
        """The training prior's mean rate of count pair ``pair`` for the concept's group."""
        return self.features.prior_mean(pair, concept)

    def _raw(self, booster: lgb.Booster, x: np.ndarray) -> np.ndarray:
        if len(x) == 1:
            return self._single_row(booster, RAW_SCORE)(x)
        # one thread: OpenMP start-up costs ~3 ms per call on small batches
        threads = 1 if len(x) < 2000 else 0
        return booster.predict(x, raw_score=True, num_threads=threads)

    def _blend(self, tree: np.ndarray, linear: LinearPart | None, x: np.ndarray) -> np.ndarray:
        if linear is None or self.blend_weight >= 1.0:
            return tree
        if len(x) == 1:  # the service's path, in plain numbers
            w = self.blend_weight
            return np.array([w * float(tree[0]) + linear.log_odds_one(x, 1.0 - w)])
        return self.blend_weight * tree + linear.log_odds(x, 1.0 - self.blend_weight)

    def _single_row(self, booster: lgb.Booster, kind: int) -> SingleRowPredictor:
        """Cached fast-path predictor for one row (per booster and output kind)."""
        cache = self.__dict__.setdefault("_fast", {})
        key = (id(booster), kind)
        if key not in cache:
            cache[key] = SingleRowPredictor(booster, kind)
        return cache[key]

    # ---- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(path / "booster.txt")
        if self.pre_test_booster is not None:
            self.pre_test_booster.save_model(path / "pre_test.txt")
        if self.forecast is not None:
            for key, booster in self.forecast.boosters.items():
                booster.save_model(path / _forecast_file(self.forecast, key))
        (path / "features.json").write_text(json.dumps(self.features.to_dict()))
        if self.linear is not None:
            pre = self.pre_test_linear
            lin = {
                "blend_weight": self.blend_weight,
                "linear": self.linear.to_dict(),
                "pre_test_linear": pre.to_dict() if pre is not None else None,
            }
            (path / "linear.json").write_text(json.dumps(lin))
        if self.spread is not None:
            self.spread.save(path)
        meta = {
            "format_version": FORMAT_VERSION,
            "calibrator": {"kind": self.calibrator.kind, "params": self.calibrator.params},
            "metadata": self.metadata,
            "forecast": self.forecast.params() if self.forecast is not None else None,
            "norms": self.norms,
            "funnel": self.funnel,
        }
        (path / "model.json").write_text(json.dumps(meta, indent=2, default=str))
        return path

    @classmethod
    def load(cls, path: str | Path) -> HitModel:
        path = Path(path)
        for name in ("booster.txt", "features.json", "model.json"):
            if not (path / name).is_file():
                raise ModelLoadError(f"model artifact {path / name} is missing")
        try:
            meta = json.loads((path / "model.json").read_text())
            if meta.get("format_version") != FORMAT_VERSION:
                raise ModelLoadError(f"{path}/model.json: unsupported format_version")
            features = FeatureBuilder.from_dict(json.loads((path / "features.json").read_text()))
            booster = lgb.Booster(model_file=str(path / "booster.txt"))
            pre = path / "pre_test.txt"
            pre_booster = lgb.Booster(model_file=str(pre)) if pre.is_file() else None
            forecast = _load_forecast(path, meta.get("forecast"))
            linear, pre_linear, weight = _load_linear(path)
            spread = Spread.load(path)
        except ModelLoadError:
            raise
        except Exception as exc:  # any parse failure means a corrupt artifact
            raise ModelLoadError(f"model artifact in {path} is corrupt: {exc}") from exc
        if booster.num_feature() != len(features.feature_names):
            raise ModelLoadError(
                f"{path}: booster expects {booster.num_feature()} features, "
                f"features.json describes {len(features.feature_names)}"
            )
        for part in (linear, pre_linear):
            if part is not None and part.feature_names != features.feature_names:
                raise ModelLoadError(f"{path}/linear.json: its features differ from features.json")
        if spread is not None and any(
            b.num_feature() != len(features.feature_names) for b in spread.boosters
        ):
            raise ModelLoadError(f"{path}/interval_*.txt: its features differ from features.json")
        cal = meta["calibrator"]
        return cls(
            booster,
            features,
            Calibrator(cal["kind"], cal["params"]),
            pre_booster,
            meta.get("metadata", {}),
            forecast,
            meta.get("norms"),
            linear,
            pre_linear,
            weight,
            spread,
            funnel=meta.get("funnel"),
        )


def _sigmoid(z: float) -> float:
    # 1 / (1 + e^-z) without overflow: below -700 it is e^z to double precision
    return 1.0 / (1.0 + math.exp(-z)) if z > -700.0 else math.exp(z)


def _load_linear(path: Path) -> tuple[LinearPart | None, LinearPart | None, float]:
    """The blend's linear parts and weight from ``linear.json`` (none: LightGBM alone)."""
    file = path / "linear.json"
    if not file.is_file():
        return None, None, 1.0
    lin = json.loads(file.read_text())
    weight = float(lin["blend_weight"])
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"blend_weight {weight} is not in [0, 1]")
    pre = lin.get("pre_test_linear")
    return (
        LinearPart.from_dict(lin["linear"]),
        LinearPart.from_dict(pre) if pre else None,
        weight,
    )


def _forecast_file(forecast: QuantileForecast | CurveForecast, key: str) -> str:
    return (
        f"forecast_curve_{key}.txt"
        if isinstance(forecast, CurveForecast)
        else f"forecast_{key}.txt"
    )


def _load_forecast(
    path: Path, params: dict[str, Any] | None
) -> QuantileForecast | CurveForecast | None:
    if not params:
        return None
    curve = params.get("kind") == CurveForecast.KIND
    boosters = {}
    for key in QuantileForecast.QUANTILES:
        file = path / (f"forecast_curve_{key}.txt" if curve else f"forecast_{key}.txt")
        if not file.is_file():
            raise ModelLoadError(f"model artifact {file} is missing")
        boosters[key] = lgb.Booster(model_file=str(file))
    if curve:
        return CurveForecast.from_params(boosters, params)
    return QuantileForecast(boosters, **params)
