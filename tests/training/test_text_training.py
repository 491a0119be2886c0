"""Fitting and stacking the text models: out of fold along the time folds, no look-ahead, the
served text model on the whole training period; a small spec with Chinese text trained through
the pipeline; a spec without text trained exactly as before text existed."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from features.columns import from_records
from features.spec import DatasetSpec
from training.text import TextTraining, stack_text
from training.train import TrainResult, time_folds, train_model

GOOD, BAD = (
    "敏感肌可用",
    "买一送一",
)  # "fine for sensitive skin" raises the odds, "buy one get one" lowers
CLAIMS = ["补水保湿", "清爽不油腻", "持久留香", "天然成分", "温和无刺激", "国货精品", GOOD, BAD]


def chinese_launches(n: int = 1200, seed: int = 5) -> pd.DataFrame:
    """A launch history whose claims are Chinese (no spaces), each of two or three phrases
    joined by full-width commas; GOOD in a claim raises its hit odds, BAD lowers them."""
    rng = np.random.default_rng(seed)
    claims = [
        "，".join(rng.choice(CLAIMS, rng.integers(2, 4), replace=False).tolist()) for _ in range(n)
    ]
    good = np.array([GOOD in c for c in claims])
    bad = np.array([BAD in c for c in claims])
    category = rng.choice(["护肤", "彩妆", "零食"], n)
    z = -1.6 + 1.8 * good - 1.5 * bad + 0.3 * (category == "护肤")
    days = np.sort(rng.integers(0, 730, n))
    return pd.DataFrame(
        {
            "concept_id": [f"c{i}" for i in range(n)],
            "launch_date": (np.datetime64("2023-01-01") + days).astype(str),
            "category": category,
            "claim": claims,
            "hit": (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int),
        }
    )


CHINESE_SPEC = {
    "name": "chinese_claims",
    "source": "claims.csv",
    "id_column": "concept_id",
    "date_column": "launch_date",
    "target": {"column": "hit"},
    "categorical": ["category"],
    "text": ["claim"],  # the defaults: character n-grams, 1 to 4
    "test_fraction": 0.25,
}


@pytest.fixture(scope="module")
def chinese_result(fast_config) -> TrainResult:
    """Trained in process on the frame ``load_launches`` would give (sorted, labelled)."""
    spec = DatasetSpec.model_validate(CHINESE_SPEC)
    frame = chinese_launches()
    frame["launch_day"] = pd.to_datetime(frame["launch_date"])
    frame["label"] = frame["hit"]
    return train_model(frame, spec, config=fast_config)


def test_a_small_chinese_spec_learns_its_words(chinese_result: TrainResult) -> None:
    """Trained through the pipeline on Chinese claims: the served text model scores a claim
    with GOOD above the same claim with BAD, the whole model's probability follows (its text
    score enters monotonically), and GOOD is the phrase pushing the claim up."""
    model = chinese_result.model
    text = model.features.text_models["claim"]
    assert any(len(g.strip()) == 2 and g.strip()[0] >= "\u4e00" for g in text.vocabulary)
    with_good, with_bad = f"补水保湿，{GOOD}", f"补水保湿，{BAD}"
    good, bad = text.scores([with_good, with_bad])
    assert good > bad + 1.0
    row = {"concept_id": "x", "launch_date": "2025-01-10", "category": "护肤"}
    rows = [row | {"claim": with_good}, row | {"claim": with_bad}]
    p = model.predict_proba(from_records(rows, model.spec))
    assert p[0] > p[1]
    up = max(text.phrases(with_good), key=lambda t: t[1])
    assert up[0] == GOOD
    assert chinese_result.test_metrics["auc"] > 0.65  # the words carry the signal


def test_text_scores_enter_the_model_out_of_fold(chinese_result: TrainResult) -> None:
    """The training matrix holds the stacked out-of-fold scores (NaN in the first block), not
    the served text model's in-sample ones; the text report is kept with the model."""
    stack = chinese_result.extras["text"]
    oof = stack.oof["claim"]
    days = chinese_result.train["launch_day"].to_numpy().astype("datetime64[D]").astype(int)
    first_block = time_folds(days, 3)[0][0]
    assert np.isnan(oof[first_block]).all() and np.isfinite(np.delete(oof, first_block)).all()
    assert chinese_result.model.metadata["text"]["claim"]["C"] in TextTraining().c_grid


def test_stacking_never_looks_ahead() -> None:
    """A launch's out-of-fold text score depends on earlier blocks only: changing the labels and
    the words of the latest block changes no score of any block (the latest block's scores
    come from the blocks before it), changing a middle block's changes only later ones."""
    frame = chinese_launches(600, seed=9)
    spec = DatasetSpec.model_validate(CHINESE_SPEC)
    days = np.arange(len(frame)) // 3
    folds = time_folds(days, 3)
    cfg = TextTraining(c_grid=[1.0])  # one C: the choice among several pools every fold
    y = frame["hit"].to_numpy()
    base = stack_text({"claim": frame["claim"].to_numpy()}, y, spec, folds, cfg).oof["claim"]

    latest = folds[-1][1]
    y2, claims = y.copy(), frame["claim"].to_numpy().copy()
    y2[latest] = 1 - y2[latest]
    claims[latest] = "全新说法"
    moved = stack_text({"claim": claims}, y2, spec, folds, cfg).oof["claim"]
    np.testing.assert_array_equal(moved[: latest[0]], base[: latest[0]])
    middle = folds[1][1]
    y3 = y.copy()
    y3[middle] = 1 - y3[middle]
    moved = stack_text({"claim": frame["claim"].to_numpy()}, y3, spec, folds, cfg).oof["claim"]
    np.testing.assert_array_equal(moved[: latest[0]], base[: latest[0]])  # up to the block
    assert not np.allclose(moved[latest], base[latest])  # the block after it learnt from it


def test_a_spec_without_text_trains_as_before(small_result: TrainResult) -> None:
    """The simulated spec (no text) with the quick test config trains exactly as before text
    existed: booster, pre-test booster and test probabilities pinned from main at 4488fef. A
    change meant to alter training re-pins them with the ``small_result`` fixture's code:
    sha256 (first 16 hex) of ``model_to_string()`` and of ``test_proba.tobytes()``. Re-pinned
    once: the test probabilities with bounded inputs (test launches beyond the training range
    answer as its edge), the boosters unchanged."""

    def digest(b: bytes) -> str:
        return hashlib.sha256(b).hexdigest()[:16]

    model = small_result.model
    assert digest(model.booster.model_to_string().encode()) == "91c50b6eb1851c3c"
    assert digest(model.pre_test_booster.model_to_string().encode()) == "6bbede82a09910fa"  # type: ignore[union-attr]
    assert digest(np.asarray(small_result.test_proba).tobytes()) == "7bb8d3201e893ad3"
