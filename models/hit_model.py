"""The hit model: LightGBM booster + fitted feature builder + calibrator, saved natively.

On disk (no pickle anywhere)::

    booster.txt          LightGBM text model
    pre_test.txt         optional: booster trained with the small-sample test masked
    forecast_p10.txt     optional (with forecast_p50/p90): quantile boosters of log1p(outcome)
    features.json        FeatureBuilder state, including the dataset spec
    model.json           calibrator, category norms, forecast conformal offsets, metadata
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np

from features.build import Columns, FeatureBuilder
from models.fast_predict import CONTRIB, RAW_SCORE, SingleRowPredictor

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
    forecast: QuantileForecast | None = None
    # per-category score distribution of past launches (see training.forecast.category_norms)
    norms: dict[str, Any] | None = None

    def matrix(self, columns: Columns) -> np.ndarray:
        return self.features.transform(columns)

    def raw_logit(self, x: np.ndarray, pre_test: bool = False) -> np.ndarray:
        booster = self.pre_test_booster if pre_test and self.pre_test_booster else self.booster
        if len(x) == 1:
            return self._single_row(booster, RAW_SCORE)(x)
        # one thread: OpenMP start-up costs ~3 ms per call on small batches
        threads = 1 if len(x) < 2000 else 0
        return booster.predict(x, raw_score=True, num_threads=threads)

    def _single_row(self, booster: lgb.Booster, kind: int) -> SingleRowPredictor:
        """Cached fast-path predictor for one row (per booster and output kind)."""
        cache = self.__dict__.setdefault("_fast", {})
        key = (id(booster), kind)
        if key not in cache:
            cache[key] = SingleRowPredictor(booster, kind)
        return cache[key]

    def predict_proba(self, columns: Columns) -> np.ndarray:
        """Calibrated P(hit) per row."""
        return self.calibrator(self.raw_logit(self.matrix(columns)))

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions in raw log-odds; last column is the base value."""
        if len(x) == 1:
            return self._single_row(self.booster, CONTRIB)(x)[None, :]
        return self.booster.predict(x, pred_contrib=True, num_threads=1)

    # ---- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(path / "booster.txt")
        if self.pre_test_booster is not None:
            self.pre_test_booster.save_model(path / "pre_test.txt")
        if self.forecast is not None:
            for key, booster in self.forecast.boosters.items():
                booster.save_model(path / f"forecast_{key}.txt")
        (path / "features.json").write_text(json.dumps(self.features.to_dict()))
        meta = {
            "format_version": FORMAT_VERSION,
            "calibrator": {"kind": self.calibrator.kind, "params": self.calibrator.params},
            "metadata": self.metadata,
            "forecast": self.forecast.params() if self.forecast is not None else None,
            "norms": self.norms,
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
        except ModelLoadError:
            raise
        except Exception as exc:  # any parse failure means a corrupt artifact
            raise ModelLoadError(f"model artifact in {path} is corrupt: {exc}") from exc
        if booster.num_feature() != len(features.feature_names):
            raise ModelLoadError(
                f"{path}: booster expects {booster.num_feature()} features, "
                f"features.json describes {len(features.feature_names)}"
            )
        cal = meta["calibrator"]
        return cls(
            booster,
            features,
            Calibrator(cal["kind"], cal["params"]),
            pre_booster,
            meta.get("metadata", {}),
            forecast,
            meta.get("norms"),
        )


def _load_forecast(path: Path, params: dict[str, Any] | None) -> QuantileForecast | None:
    if not params:
        return None
    boosters = {}
    for key in QuantileForecast.QUANTILES:
        file = path / f"forecast_{key}.txt"
        if not file.is_file():
            raise ModelLoadError(f"model artifact {file} is missing")
        boosters[key] = lgb.Booster(model_file=str(file))
    return QuantileForecast(boosters, **params)
