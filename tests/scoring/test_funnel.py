"""The funnel card: each stage's shrunk rate against its category, and the weakest stage."""

from __future__ import annotations

import pytest

from features.spec import load_spec
from scoring.scorer import BadRequest, Scorer
from training import DEFAULT_SPEC

EXAMPLE = dict(load_spec(DEFAULT_SPEC).example or {})  # skincare, 300 samples sent


@pytest.fixture(scope="module")
def cards(small_result) -> Scorer:
    return Scorer(small_result.model, "funnel")


def _card(scorer: Scorer, **change) -> dict:
    return scorer.funnel([{**EXAMPLE, **change}])[0]


def test_a_concept_losing_people_at_trial_is_named_there(cards: Scorer) -> None:
    # 70 of 300 samples tried (the example: 220); positive and repurchase rates as usual
    card = _card(cards, test_trials=70, test_positive=48, test_repurchase=19)
    assert card["weakest_stage"] == "test_trial"
    trial = next(s for s in card["stages"] if s["stage"] == "test_trial")
    assert trial["weakest"] and trial["measured"] and trial["gap"] < -5
    assert trial["category_percentile"] < 5 and trial["rate"] < trial["category_median"]
    assert [s["stage"] for s in card["stages"]] == cards.spec.funnel
    assert sum(s["weakest"] for s in card["stages"]) == 1


def test_losing_people_elsewhere_names_that_stage(cards: Scorer) -> None:
    assert _card(cards, interested=600)["weakest_stage"] == "interest"  # 1 % of reach
    assert _card(cards, test_repurchase=5)["weakest_stage"] == "test_repurchase"
    assert _card(cards)["weakest_stage"] != "test_trial"  # the example tries as usual


def test_the_card_uses_the_model_rates_and_says_what_it_does_not_know(cards: Scorer) -> None:
    untested = {k: 0 for k in cards.spec.pre_test_columns()}
    card = _card(cards, **untested)
    x = cards.model.matrix(cards.columns([{**EXAMPLE, **untested}]))
    names = cards.model.features.feature_names
    for stage in card["stages"]:
        # the shrunk rate is the model's own feature, inside its interval
        assert stage["rate"] == pytest.approx(x[0, names.index(f"{stage['stage']}_rate_eb")])
        assert stage["rate_low"] < stage["rate"] < stage["rate_high"]
        if stage["stage"].startswith("test_"):  # no test yet: the prior, never the weakest
            assert not stage["measured"] and stage["gap"] is None and not stage["weakest"]
            assert stage["category_percentile"] is None and stage["people_in"] == 0
    assert card["weakest_stage"] in (None, "interest")


def test_a_spec_without_funnel_has_no_card(small_result) -> None:
    import dataclasses

    model = small_result.model
    spec = model.spec.model_copy(update={"funnel": []})
    bare = dataclasses.replace(
        model, features=dataclasses.replace(model.features, spec=spec), funnel=None
    )
    with pytest.raises(BadRequest, match="no funnel"):
        Scorer(bare, "x").funnel([EXAMPLE])
