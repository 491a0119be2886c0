"""LightGBM's single-row fast path (C API ``PredictForMatSingleRowFast``).

``Booster.predict`` re-parses parameters and sets up a predictor on every call (~100 µs); the
fast-config handle does that once, so one concept costs only the tree walk. Used for one-row
requests; batches go through ``Booster.predict``.
"""

from __future__ import annotations

import ctypes
import threading

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB, _c_str, _safe_call

RAW_SCORE, CONTRIB = 1, 3  # C_API_PREDICT_RAW_SCORE, C_API_PREDICT_CONTRIB
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64


class SingleRowPredictor:
    def __init__(self, booster: lgb.Booster, predict_type: int) -> None:
        self._booster = booster  # keeps the booster (and its C handle) alive
        n_features = booster.num_feature()
        self._out = np.empty(n_features + 1 if predict_type == CONTRIB else 1)
        # ctypes conversions cost microseconds per call: build the fixed arguments once
        self._out_ptr = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._out_len = ctypes.c_int64()
        self._out_len_ref = ctypes.byref(self._out_len)
        self._handle = ctypes.c_void_p()
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(predict_type),
                ctypes.c_int(0),
                ctypes.c_int(-1),
                ctypes.c_int(_FLOAT64),
                ctypes.c_int32(n_features),
                _c_str("num_threads=1"),
                ctypes.byref(self._handle),
            )
        )
        self._lock = threading.Lock()  # the handle's output buffer is shared

    def __call__(self, row: np.ndarray) -> np.ndarray:
        row = np.ascontiguousarray(row, dtype=np.float64).ravel()
        with self._lock:
            _safe_call(
                _LIB.LGBM_BoosterPredictForMatSingleRowFast(
                    self._handle, ctypes.c_void_p(row.ctypes.data), self._out_len_ref, self._out_ptr
                )
            )
            return self._out[: self._out_len.value].copy()

    def __del__(self) -> None:
        if getattr(self, "_handle", None) is not None and self._handle.value:
            _LIB.LGBM_FastConfigFree(self._handle)
