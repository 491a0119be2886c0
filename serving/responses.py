"""What the service answers: every field described, with its unit and an example (OpenAPI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Band = Literal["go", "refine", "stop"]

REQUEST_ID = Field(
    description="Identifier of the HTTP request (or batch run) in the prediction log.",
    examples=["7f3c2a9e0b1d4c8e9a6f5b4c3d2e1f00"],
)
MODEL_VERSION = Field(
    description="MLflow registered-model version that produced the answer.", examples=["3"]
)
CONCEPT_ID = Field(
    description="The identifier you sent (the spec's id column, e.g. concept_id).",
    examples=["serum-2026-q4-01"],
)


def _example(**example: object) -> ConfigDict:
    # "example" (singular): BentoML's OpenAPI component schema rejects model-level "examples"
    return ConfigDict(json_schema_extra={"example": example})


class Driver(BaseModel):
    model_config = _example(field="test_positive", log_odds=0.62)

    field: str = Field(description="Input field you typed (derived features folded into it).")
    log_odds: float = Field(
        description="Signed contribution to the model's raw log-odds of a hit (TreeSHAP). "
        "Positive pushes the probability up."
    )


class Drivers(BaseModel):
    """Why the model says what it says, in raw log-odds (natural log of odds), before
    calibration: ``base_value + sum(top[].log_odds) + other_fields == model_log_odds``."""

    model_config = _example(
        unit="log-odds",
        base_value=-2.31,
        model_log_odds=-0.42,
        top=[{"field": "test_positive", "log_odds": 0.62}, {"field": "price", "log_odds": -0.18}],
        other_fields=1.45,
    )

    unit: Literal["log-odds"] = Field(
        "log-odds", description="Unit of every number in this object: natural-log odds."
    )
    base_value: float = Field(
        description="The model's average raw log-odds over its training launches."
    )
    model_log_odds: float = Field(
        description="The model's raw log-odds for this concept; hit_probability is its "
        "calibration (a monotone map)."
    )
    top: list[Driver] = Field(description="Largest contributions by absolute size, signed.")
    other_fields: float = Field(description="Sum of the contributions of all other fields.")


class CategoryNorms(BaseModel):
    model_config = _example(
        category="skincare", past_launches=2589, hit_rate=0.118, go_at=0.19, stop_below=0.05
    )

    category: str = Field(description="The category the concept is compared with.")
    past_launches: int = Field(description="Past launches of that category behind the norm.")
    hit_rate: float = Field(description="Share of those launches that became hits (0..1).")
    go_at: float = Field(
        description="Band 'go' from this hit probability on: the category's 80th percentile."
    )
    stop_below: float = Field(
        description="Band 'stop' below this hit probability: the category's 40th percentile."
    )


class Phrase(BaseModel):
    model_config = _example(phrase="notion", log_odds=0.34)

    phrase: str = Field(
        description="A word of the text as written (in Chinese or Japanese, a "
        "run of characters between punctuation marks)."
    )
    log_odds: float = Field(
        description="Its term in the field's text score (log-odds): the summed terms of the "
        "character or word n-grams inside it. Positive raises the text score."
    )


class TextPhrases(BaseModel):
    """Which words of one text field push the answer up and down. The model's answer rises with
    each text score (a monotone constraint at training), so an ``up`` phrase can only raise
    hit_probability and a ``down`` phrase only lower it."""

    model_config = _example(
        text_score=-1.42,
        up=[{"phrase": "notion", "log_odds": 0.34}, {"phrase": "AI", "log_odds": 0.21}],
        down=[{"phrase": "free", "log_odds": -0.12}],
    )

    text_score: float = Field(
        description="The field's text score: log-odds of a hit from its words alone (the text "
        "model's intercept plus every phrase's term). Its contribution to the answer is the "
        "field's entry in drivers."
    )
    up: list[Phrase] = Field(description="Up to 3 phrases raising it most, largest first.")
    down: list[Phrase] = Field(description="Up to 3 phrases lowering it most, largest first.")


class ScoredConcept(BaseModel):
    model_config = _example(
        request_id="7f3c2a9e0b1d4c8e9a6f5b4c3d2e1f00",
        concept_id="serum-2026-q4-01",
        hit_probability=0.41,
        pre_test_probability=0.27,
        category_percentile=93.5,
        band="go",
        category_norms=CategoryNorms.model_config["json_schema_extra"]["example"],  # type: ignore[index]
        drivers=Drivers.model_config["json_schema_extra"]["example"],  # type: ignore[index]
        warnings=[],
        model_version="3",
        phrases=None,
    )

    request_id: str = REQUEST_ID
    concept_id: str = CONCEPT_ID
    hit_probability: float = Field(
        description="Calibrated probability (0..1) that the concept becomes a hit, using "
        "everything sent, including the small-sample test."
    )
    pre_test_probability: float = Field(
        description="Probability (0..1) from a model trained with the small-sample test masked: "
        "the concept as if no test had been run. Equals hit_probability when no test was sent. "
        "hit_probability - pre_test_probability is what the test added."
    )
    category_percentile: float | None = Field(
        description="Where hit_probability sits among past launches of the same category "
        "(0..100, their out-of-fold scores). Null if the model carries no norms."
    )
    band: Band | None = Field(
        description="go (at or above the category's 80th percentile), stop (below its 40th), "
        "refine (in between). Null if the model carries no norms."
    )
    category_norms: CategoryNorms | None = Field(description="The norm the band comes from.")
    drivers: Drivers | None = Field(
        description="Why: contributions per input field, in log-odds (null if explain=false)."
    )
    warnings: list[str] = Field(
        description="Extrapolation and thin-evidence notes: values outside the training range, "
        "categories never seen in training, a test too small to say much."
    )
    model_version: str = MODEL_VERSION
    phrases: dict[str, TextPhrases] | None = Field(
        description="Per text field of the spec (its `text`), the phrases pushing the answer "
        "up and down most; null for a spec without text fields, or if explain=false."
    )


class SegmentScore(BaseModel):
    model_config = _example(
        rank=1, segment="refined_mothers", hit_probability=0.46, change_vs_own=0.05, own=False
    )

    rank: int = Field(description="1 = the segment with the highest hit probability.")
    segment: str = Field(description="A value of the segment field (e.g. a consumer segment).")
    hit_probability: float = Field(description="Calibrated P(hit), 0..1, targeting it.")
    change_vs_own: float = Field(
        description="hit_probability minus that of the concept's own segment, in "
        "probability (0.05 = 5 percentage points)."
    )
    own: bool = Field(description="True for the concept's own segment.")


class TargetResult(BaseModel):
    request_id: str = REQUEST_ID
    concept_id: str = CONCEPT_ID
    segment_field: str = Field(
        description="The field swept (the spec's segment_column).", examples=["target_segment"]
    )
    own_segment: str = Field(description="The value of that field you sent.")
    own_probability: float = Field(description="Calibrated P(hit) for it, 0..1.")
    segments: list[SegmentScore] = Field(description="All segments, best first.")
    model_version: str = MODEL_VERSION


class WhatIfPoint(BaseModel):
    model_config = _example(value=179.0, hit_probability=0.43, current=False)

    value: float | str = Field(
        description="Lever value (unit: see the result's unit; dates as YYYY-MM-DD)."
    )
    hit_probability: float = Field(description="Calibrated P(hit), 0..1, at that value.")
    current: bool = Field(description="True for the concept's own value.")


class WhatIfResult(BaseModel):
    request_id: str = REQUEST_ID
    concept_id: str = CONCEPT_ID
    lever: str = Field(description="The lever swept (an input field).", examples=["price"])
    unit: str = Field(description="Unit of the lever's values.", examples=["CNY per unit"])
    current_value: float | str = Field(description="The concept's own value of the lever.")
    current_probability: float = Field(description="Calibrated P(hit) at the current value.")
    points: list[WhatIfPoint] = Field(description="The curve, in increasing lever value.")
    note: str | None = Field(None, description="How the sweep was built, where it needs saying.")
    model_version: str = MODEL_VERSION


class Wording(BaseModel):
    model_config = _example(
        text="The AI writing assistant for your whole team",
        hit_probability=0.19,
        text_score=-1.31,
        up=[{"phrase": "AI", "log_odds": 0.21}],
        down=[],
    )

    text: str = Field(description="The text scored.")
    hit_probability: float = Field(description="Calibrated P(hit), 0..1, with this text.")
    text_score: float = Field(description="The field's text score (log-odds, words alone).")
    up: list[Phrase] = Field(description="Up to 3 phrases raising it most.")
    down: list[Phrase] = Field(description="Up to 3 phrases lowering it most.")


class RankedWording(Wording):
    rank: int = Field(description="1 = the alternative with the highest hit probability.")
    change_vs_current: float = Field(
        description="hit_probability minus that of the concept's own text, in probability "
        "(0.05 = 5 percentage points)."
    )


class WordingsResult(BaseModel):
    request_id: str = REQUEST_ID
    concept_id: str = CONCEPT_ID
    field: str = Field(description="The text field compared.", examples=["tagline"])
    current: Wording = Field(description="The concept with its own text.")
    alternatives: list[RankedWording] = Field(description="Each alternative, best first.")
    model_version: str = MODEL_VERSION


class GmvForecast(BaseModel):
    model_config = _example(
        request_id="7f3c2a9e0b1d4c8e9a6f5b4c3d2e1f00",
        concept_id="serum-2026-q4-01",
        outcome="gmv_90d",
        unit="CNY",
        p10=410000.0,
        p50=1150000.0,
        p90=3300000.0,
        interval_level=0.8,
        model_version="3",
    )

    request_id: str = REQUEST_ID
    concept_id: str = CONCEPT_ID
    outcome: str = Field(description="The outcome forecast: first-90-day GMV.")
    unit: str = Field(description="Unit of p10 / p50 / p90.")
    p10: float = Field(description="10th percentile: 9 launches in 10 like this sell more.")
    p50: float = Field(description="Median forecast.")
    p90: float = Field(description="90th percentile: 1 launch in 10 like this sells more.")
    interval_level: float = Field(
        description="Share of out-of-sample launches inside [p10, p90] by construction "
        "(split-conformal on the latest training launches)."
    )
    model_version: str = MODEL_VERSION


class OutcomeReceipt(BaseModel):
    model_config = _example(
        recorded=2, duplicates=1, unmatched=1, unmatched_ids=["serum-2025-q1-07"]
    )

    recorded: int = Field(description="Outcomes recorded by this request (new rows).")
    duplicates: int = Field(
        description="Outcomes identical to one already recorded (same id, launch date, label "
        "and raw outcome): ignored, so a retried request changes nothing."
    )
    unmatched: int = Field(
        description="Distinct ids in the request that were never scored (their outcomes are "
        "recorded all the same)."
    )
    unmatched_ids: list[str] = Field(description="Those ids, sorted.")
