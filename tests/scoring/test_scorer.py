"""The Scorer in process: drivers, pre-test, bands, segments and levers, checked against the model
and the simulator's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from features.domain import AFFINITY, CATEGORIES, SEGMENTS
from features.simulator import bayes_hit_probability
from scoring.scorer import GO_PERCENTILE, STOP_PERCENTILE


def assert_drivers_add_up(scorer, concepts: list[dict]) -> np.ndarray:
    """base + top drivers + the rest == the model's raw log-odds, computed independently, and
    the probability is the calibration of exactly that log-odds; returns the log-odds."""
    out = scorer.score(concepts)
    model = scorer.model
    raw = model.log_odds(model.matrix(scorer.columns(concepts)))
    for o, expected in zip(out, raw, strict=True):
        d = o["drivers"]
        total = d["base_value"] + sum(t["log_odds"] for t in d["top"]) + d["other_fields"]
        assert total == pytest.approx(expected, abs=1e-6)
        assert d["model_log_odds"] == pytest.approx(expected, abs=1e-9)
        assert o["hit_probability"] == pytest.approx(
            float(model.calibrated(np.array([expected]))[0])
        )
        sizes = [abs(t["log_odds"]) for t in d["top"]]
        assert sizes == sorted(sizes, reverse=True)
        assert {t["field"] for t in d["top"]} <= set(scorer.fields)
    return raw


def assert_monotone(scorer, concepts: list[dict], lever: str) -> None:
    """The what-if curve of a lever declared monotone (+1) never goes down."""
    assert scorer.model.spec.monotone.get(lever) == 1
    for c in concepts:
        curve = [p["hit_probability"] for p in scorer.whatif(c, lever)["points"]]
        assert all(b >= a - 1e-12 for a, b in zip(curve, curve[1:], strict=False)), (c, curve)
        assert len(curve) >= 10


def test_drivers_sum_to_the_models_log_odds(scorer, test_concepts: list[dict]) -> None:
    assert_drivers_add_up(scorer, test_concepts)


def test_drivers_add_up_for_a_blended_model(blended_scorer, test_concepts: list[dict]) -> None:
    """w * TreeSHAP + (1 - w) * linear terms, with the blended base, sum to the blended
    log-odds; the probability is its calibration."""
    model = blended_scorer.model
    assert model.is_blend and 0 < model.blend_weight < 1
    raw = assert_drivers_add_up(blended_scorer, test_concepts[:100])
    # the blend is what the parts say: w * booster + (1 - w) * linear
    x = model.matrix(blended_scorer.columns(test_concepts[:100]))
    w = model.blend_weight
    tree = model.booster.predict(x, raw_score=True)
    np.testing.assert_allclose(raw, w * tree + (1 - w) * model.linear.log_odds(x), atol=1e-9)


@pytest.mark.parametrize("lever", ["marketing_budget", "seeding_posts"])
def test_monotone_levers_never_zigzag_for_a_blended_model(
    blended_scorer, test_concepts: list[dict], lever: str
) -> None:
    assert_monotone(blended_scorer, test_concepts[:100], lever)


def test_drivers_fold_derived_features_into_typed_fields(scorer) -> None:
    fields = set(scorer.fields)
    # e.g. price_vs_category_median and the festival distances fold into what a person typed
    assert {"price", "launch_date", "test_positive", "brand"} <= fields
    assert not any(f.endswith("_median") or f.startswith("days_to") for f in fields)


def test_pre_test_probability(scorer, concept: dict) -> None:
    untested = {
        **concept,
        "test_samples_sent": 0,
        "test_trials": 0,
        "test_positive": 0,
        "test_repurchase": 0,
    }
    tested, blank = scorer.score([concept, untested])
    assert blank["pre_test_probability"] == blank["hit_probability"]
    assert tested["pre_test_probability"] != tested["hit_probability"]
    # the pre-test score cannot depend on the test's results
    worse = {**concept, "test_positive": 20, "test_repurchase": 5}
    (w,) = scorer.score([worse])
    assert w["pre_test_probability"] == pytest.approx(tested["pre_test_probability"])
    assert w["hit_probability"] < tested["hit_probability"]


def test_pre_test_model_is_calibrated_out_of_time(champion: dict) -> None:
    """The pre-test booster's raw output is served as a probability: check its ECE on the
    out-of-time test set with the test fields masked."""
    from training.dataset import to_columns
    from training.evaluate import score
    from training.train import mask_pre_test

    result = champion["train_result"]
    model, spec = result.model, result.model.features.spec
    cols = mask_pre_test(to_columns(result.test, spec), spec)
    p = model.pre_test_probability(model.matrix(cols))
    metrics = score(result.test["label"].to_numpy(), p)
    assert metrics["ece"] < 0.04, metrics
    assert metrics["auc"] < result.test_metrics["auc"]  # the test adds information


def test_band_follows_the_category_norm(scorer, test_concepts: list[dict]) -> None:
    out = scorer.score(test_concepts)
    for o in out:
        n, p = o["category_norms"], o["hit_probability"]
        expected = "go" if p >= n["go_at"] else "stop" if p < n["stop_below"] else "refine"
        assert o["band"] == expected
        if o["band"] == "go":
            assert o["category_percentile"] >= GO_PERCENTILE - 1
        if o["band"] == "stop":
            assert o["category_percentile"] <= STOP_PERCENTILE + 1
    by_cat: dict[str, list] = {}
    for o in out:
        by_cat.setdefault(o["category_norms"]["category"], []).append(o)
    for rows in by_cat.values():  # within a category, percentile rises with probability
        rows.sort(key=lambda o: o["hit_probability"])
        pct = [o["category_percentile"] for o in rows]
        assert pct == sorted(pct)


def test_band_separates_outcomes_out_of_time(scorer, champion: dict) -> None:
    """Launches banded 'go' became hits far more often than 'stop' ones (out-of-time test)."""
    test = champion["train_result"].test
    frame = test.assign(launch_date=test["launch_day"].dt.strftime("%Y-%m-%d"))
    concepts = frame[scorer.schema.names].to_dict("records")
    bands = pd.Series([o["band"] for o in scorer.score(concepts)])
    rate = test["label"].groupby(bands.to_numpy()).mean()
    assert rate["go"] > 2 * test["label"].mean() > rate["stop"] * 4, rate.to_dict()


def test_target_finds_the_best_affinity_segment(scorer, test_concepts: list[dict]) -> None:
    """Where the simulator's exact posterior (segment swapped) says the category's
    best-affinity segment is the best target, /target puts it first far more often than the
    1-in-8 of chance."""
    segments, categories = list(SEGMENTS), list(CATEGORIES)
    frame = pd.DataFrame(test_concepts)
    truth = np.column_stack(
        [bayes_hit_probability(frame.assign(target_segment=s)) for s in segments]
    )
    best_affinity = np.array(
        [segments[int(AFFINITY[categories.index(c)].argmax())] for c in frame["category"]]
    )
    says_so = np.array(segments)[truth.argmax(1)] == best_affinity
    assert says_so.sum() >= 30, "too few concepts to judge"
    hits = sum(
        scorer.target(c)["segments"][0]["segment"] == best
        for c, best, keep in zip(test_concepts, best_affinity, says_so, strict=True)
        if keep
    )
    test = binomtest(hits, int(says_so.sum()), 1 / len(segments), alternative="greater")
    assert test.pvalue < 1e-3, (hits, int(says_so.sum()))


@pytest.mark.parametrize("lever", ["marketing_budget", "seeding_posts"])
def test_monotone_levers_never_zigzag(scorer, test_concepts: list[dict], lever: str) -> None:
    assert_monotone(scorer, test_concepts[:150], lever)


def test_whatif_sample_size_untested_uses_prior_rates(scorer, concept: dict) -> None:
    untested = {**concept, "test_samples_sent": 0, "test_trials": 0}
    untested |= {"test_positive": 0, "test_repurchase": 0}
    out = scorer.whatif(untested, "test_samples_sent")
    assert "no test yet" in out["note"]
    assert out["points"][0]["value"] == 0 and out["points"][0]["current"]


def test_pre_test_in_a_mixed_batch_matches_one_by_one(scorer, test_concepts: list[dict]) -> None:
    """Tested and untested concepts stacked in one transform give the same answers alone."""
    batch = scorer.score(test_concepts[:40])
    for c, b in zip(test_concepts[:40], batch, strict=True):
        (alone,) = scorer.score([c])
        assert alone["pre_test_probability"] == pytest.approx(b["pre_test_probability"])
        assert alone["hit_probability"] == pytest.approx(b["hit_probability"])


def test_a_new_value_of_an_inferred_open_vocabulary_costs_only_a_warning(
    tmp_path, fast_config
) -> None:
    """A history whose subcategories keep growing: the vocabulary is inferred open, and a batch
    with one value training never saw is scored whole, with a warning on that concept alone."""
    from features.spec import DatasetSpec
    from scoring.scorer import Scorer
    from training.dataset import load_launches
    from training.train import train_model

    rng = np.random.default_rng(1)
    n = 1200
    day = np.sort(rng.integers(0, 600, n))
    added = rng.uniform(size=n) < 0.15  # a new subcategory every 60 days
    sub = np.where(added, [f"new_{d // 60}" for d in day], rng.choice(["art", "games"], n))
    goal = rng.uniform(1, 100, n).round(1)
    history = pd.DataFrame(
        {
            "campaign": [f"c{i}" for i in range(n)],
            "launched": (pd.Timestamp("2020-01-01") + pd.to_timedelta(day, "D")).strftime(
                "%Y-%m-%d"
            ),
            "subcategory": sub,
            "goal": goal,
            "hit": (rng.uniform(size=n) < 0.1 + 0.3 * (goal < 30)).astype(int),
        }
    )
    history.to_csv(tmp_path / "campaigns.csv", index=False)
    spec = DatasetSpec.model_validate(
        {
            "name": "campaigns",
            "source": str(tmp_path / "campaigns.csv"),
            "id_column": "campaign",
            "date_column": "launched",
            "target": {"column": "hit"},
            "categorical": ["subcategory"],
            "numeric": ["goal"],
        }
    )
    model = train_model(load_launches(spec).frame, spec, config=fast_config).model
    assert model.features.vocabularies["subcategory"].open
    scorer = Scorer(model, "growing")
    batch = [
        {"campaign": f"x{i}", "launched": "2021-09-01", "subcategory": s, "goal": 20.0}
        for i, s in enumerate(["art", "games", "pottery", "new_3"])
    ]
    answers = scorer.score([scorer.schema.validate(c) for c in batch])
    assert [a["concept_id"] for a in answers] == ["x0", "x1", "x2", "x3"]
    assert all(0 < a["hit_probability"] < 1 for a in answers)
    assert [a["warnings"] for a in answers] == [
        [],
        [],
        ["subcategory: 'pottery' never seen in training"],
        [],
    ]
