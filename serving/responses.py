"""What the service answers: every field described, with its unit and an example (OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import TypeAliasType

from features.schema import ConceptSchema

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


# Unions among the fields of an answer that is one object are named types: BentoML's OpenAPI
# document inlines such an answer and flattens a union written in place to its first member (a
# date lever's value would read as a number, a null note as a string); a named one stays a
# component that says "either".
LeverValue = TypeAliasType("LeverValue", float | str)
OptionalText = TypeAliasType("OptionalText", str | None)


class WhatIfResult(BaseModel):
    request_id: str = REQUEST_ID
    concept_id: str = CONCEPT_ID
    lever: str = Field(description="The lever swept (an input field).", examples=["price"])
    unit: str = Field(description="Unit of the lever's values.", examples=["CNY per unit"])
    current_value: LeverValue = Field(description="The concept's own value of the lever.")
    current_probability: float = Field(description="Calibrated P(hit) at the current value.")
    points: list[WhatIfPoint] = Field(description="The curve, in increasing lever value.")
    note: OptionalText = Field(None, description="How the sweep was built, where it needs saying.")
    model_version: str = MODEL_VERSION


class CurvePoint(BaseModel):
    model_config = _example(
        column="gmv_180d", days=180, month=6.0, p10=520000.0, p50=1480000.0, p90=4400000.0
    )

    column: str = Field(description="The spec's outcome column of this horizon.")
    days: int = Field(description="Days after launch the cumulative outcome covers.")
    month: float = Field(description="The same in months of 30 days (the chart's axis).")
    p10: float = Field(description="10th percentile of the cumulative outcome to this horizon.")
    p50: float = Field(description="Median.")
    p90: float = Field(description="90th percentile.")


class SeasonalPeak(BaseModel):
    model_config = _example(festival="11-11", date="2026-11-11", month=1)

    festival: str = Field(description="The spec's festival, as MM-DD (e.g. 11-11: Double 11).")
    date: str = Field(description="Its date within the curve (YYYY-MM-DD).")
    month: int = Field(
        description="The month after launch that holds it (month k: days 30(k-1) to 30k)."
    )


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
    curve: list[CurvePoint] | None = Field(
        None,
        description="For a spec with outcomes over time: the cumulative outcome at every "
        "horizon, shortest first. Each quantile never decreases over horizons, p10 <= p50 <= "
        "p90 at each, and each horizon's interval holds interval_level of held-out launches. "
        "p10 / p50 / p90 above are the point of the outcome named by 'outcome'. Null for a "
        "single outcome.",
    )
    seasonal_peaks: list[SeasonalPeak] | None = Field(
        None,
        description="The spec's festivals within the curve and the months holding them. Null "
        "without a curve or festivals.",
    )
    model_version: str = MODEL_VERSION


class FieldProblem(BaseModel):
    model_config = _example(
        type="literal_error",
        loc=["concepts", 3, "category"],
        msg="'skincar' is not one of the 10 allowed values; closest: 'skincare'",
    )

    type: str = Field(description="What kind of problem (pydantic's error type).")
    loc: list[str | int] = Field(
        description="Where: the request's list, the concept's position in it (from 0), and the "
        "field (none when the concept itself is not an object)."
    )
    msg: str = Field(
        description="What is wrong. Never repeats the value sent, except a closed vocabulary's "
        "value, named with the closest allowed values."
    )


class ConceptError(BaseModel):
    """An answer's item for a concept that failed validation, in its place: the request's
    other concepts are answered all the same."""

    model_config = _example(
        request_id="7f3c2a9e0b1d4c8e9a6f5b4c3d2e1f00",
        index=3,
        concept_id="serum-2026-q4-04",
        error="concepts.3 (concept_id 'serum-2026-q4-04'): category: 'skincar' is not one of the "
        "10 allowed values; closest: 'skincare'",
        detail=[FieldProblem.model_config["json_schema_extra"]["example"]],  # type: ignore[index]
    )

    request_id: str = REQUEST_ID
    index: int = Field(description="The concept's position in the request's list (from 0).")
    concept_id: str | None = Field(
        description="The identifier you sent for it (the spec's id column), null when the "
        "identifier is what is wrong or missing."
    )
    error: str = Field(description="Everything wrong with it, in one line: position, id, fields.")
    detail: list[FieldProblem] = Field(
        description="One entry per problem, as a 400's detail lists them."
    )


# A list endpoint's item: the answer or the error, in the concept's place. Named types: the
# OpenAPI document keeps them as components that say "either" (BentoML flattens a union written
# in place to its first member).
ScoreItem = TypeAliasType(
    "ScoreItem",
    Annotated[
        ScoredConcept | ConceptError,
        Field(description="The concept scored, or why it could not be (an error item)."),
    ],
)
ForecastItem = TypeAliasType(
    "ForecastItem",
    Annotated[
        GmvForecast | ConceptError,
        Field(description="The concept's forecast, or why it could not be made (an error item)."),
    ],
)


def concept_error(
    request_id: str, index: int, concept: Any, exc: ValidationError, schema: ConceptSchema
) -> dict[str, Any]:
    """A :class:`ConceptError` as the JSON dict the service sends, for the request's
    ``index``-th concept (``exc``: :meth:`ConceptSchema.check`'s for it alone)."""
    return {
        "request_id": request_id,
        "index": index,
        "concept_id": schema.id_of(concept, exc),
        "error": schema.error_line(f"concepts.{index}", concept, exc),
        "detail": [
            {"type": e["type"], "loc": ["concepts", index, *e["loc"]], "msg": e["msg"]}
            for e in exc.errors()
        ],
    }


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


# ---- /compare (scoring.compare) ----------------------------------------------------------------
class ProbabilityInterval(BaseModel):
    model_config = _example(low=0.33, high=0.49, log_odds_sd=0.17)

    low: float = Field(description="Lower end of the interval on hit_probability (0..1).")
    high: float = Field(description="Upper end of the interval on hit_probability (0..1).")
    log_odds_sd: float = Field(
        description="Standard error of the model's raw log-odds behind the interval."
    )


class RankedConcept(BaseModel):
    model_config = _example(
        rank=1,
        concept_id="serum-2026-q4-01",
        hit_probability=0.41,
        interval=ProbabilityInterval.model_config["json_schema_extra"]["example"],  # type: ignore[index]
        band="go",
        category_percentile=93.5,
        model_log_odds=-0.42,
        warnings=[],
    )

    rank: int = Field(description="1 = the highest hit probability of the concepts compared.")
    concept_id: str = CONCEPT_ID
    hit_probability: float = Field(description="Calibrated P(hit), 0..1, as /score answers it.")
    interval: ProbabilityInterval | None = Field(
        description="How much the estimate itself could move given the launches behind it, "
        "at interval_level (e.g. 80 %): not the launch's own luck, which hit_probability "
        "already holds. Wider for a concept unlike the training launches. Null if the model "
        "was trained without interval members."
    )
    band: Band | None = Field(description="go / refine / stop against its category (see /score).")
    category_percentile: float | None = Field(
        description="Where hit_probability sits among its category's past launches (0..100)."
    )
    model_log_odds: float = Field(description="The model's raw log-odds (before calibration).")
    warnings: list[str] = Field(description="Extrapolation and thin-evidence notes (see /score).")


class FieldDifference(BaseModel):
    model_config = _example(field="test_positive", log_odds=0.48)

    field: str = Field(description="Input field (derived features folded into it).")
    log_odds: float = Field(
        description="This field's contribution to a's log-odds minus its contribution to b's. "
        "Positive: the field favours a."
    )


class PairComparison(BaseModel):
    """a against b: ``sum(why[].log_odds) == log_odds_difference`` (exactly, up to rounding)."""

    model_config = _example(
        a="serum-2026-q4-01",
        b="serum-2026-q4-02",
        probability_difference=0.07,
        p_a_beats_b=0.86,
        too_close_to_call=False,
        log_odds_difference=0.31,
        why=[{"field": "test_positive", "log_odds": 0.48}, {"field": "price", "log_odds": -0.17}],
    )

    a: str = Field(description="concept_id of the first concept.")
    b: str = Field(description="concept_id of the second concept.")
    probability_difference: float = Field(
        description="a's hit_probability minus b's (0.05 = 5 percentage points)."
    )
    p_a_beats_b: float | None = Field(
        description="Probability (0..1) that a's true hit probability is higher than b's, "
        "given how sure the model is of both (their intervals, and how the two estimates move "
        "together). Null if the model has no interval members."
    )
    too_close_to_call: bool | None = Field(
        description="True when the model is less than 80 % sure which of the two is better "
        "(p_a_beats_b between 0.2 and 0.8)."
    )
    log_odds_difference: float = Field(description="a's raw log-odds minus b's.")
    why: list[FieldDifference] = Field(
        description="Every input field, largest difference first; they sum to log_odds_difference."
    )


class CompareResult(BaseModel):
    request_id: str = REQUEST_ID
    interval_level: float | None = Field(
        description="Share of concepts whose true hit probability the intervals should hold "
        "(0.8: 80 % intervals); null without interval members.",
        examples=[0.8],
    )
    ranking: list[RankedConcept] = Field(description="The concepts, best first.")
    pairs: list[PairComparison] = Field(
        description="The pairs asked about, in the order asked; by default each concept "
        "(a) against the top one (b), in rank order."
    )
    invalid: list[ConceptError] = Field(
        default_factory=list,
        description="The concepts that failed validation, each with its place, id and "
        "fields: left out of the ranking, the others compared all the same.",
    )
    model_version: str = MODEL_VERSION


class FunnelStage(BaseModel):
    model_config = _example(
        stage="test_trial",
        from_field="test_samples_sent",
        to_field="test_trials",
        people_in=300,
        people_out=90,
        measured=True,
        rate=0.7187,
        rate_low=0.7171,
        rate_high=0.7203,
        category_median=0.7199,
        category_percentile=0.0,
        past_launches=2210,
        gap=-16.4,
        weakest=True,
    )

    stage: str = Field(description="The count pair of this stage (the spec's funnel order).")
    from_field: str = Field(description="The field counting people entering the stage.")
    to_field: str = Field(description="The field counting people passing it.")
    people_in: int = Field(description="Your count entering the stage.")
    people_out: int = Field(description="Your count passing it.")
    measured: bool = Field(
        description="False when you have no counts for this stage (e.g. no small-sample test "
        "yet): the rate is then the training history's prior for your group."
    )
    rate: float = Field(
        description="Your conversion rate shrunk toward the training history's rate for your "
        "group (category, segment: the spec's prior_by), as the model uses it (0..1)."
    )
    rate_low: float = Field(description="Lower end of its interval (interval_level).")
    rate_high: float = Field(description="Upper end of its interval.")
    category_median: float | None = Field(
        description="Median shrunk rate of your category's past launches at this stage (each "
        "shrunk toward what was known before it launched). Null if too few ran the stage."
    )
    category_percentile: float | None = Field(
        description="Where your rate sits among them (0..100). Null if not measured."
    )
    past_launches: int | None = Field(description="Past launches behind the norm.")
    gap: float | None = Field(
        description="How unusual your count is for a launch of your category: (people_out - "
        "people_in x category_median) over its standard deviation for such a launch (the "
        "binomial noise of your count and the spread of rates between the category's "
        "launches). 0 = as usual; -2 = a shortfall about 1 launch in 40 shows; -5 and below = "
        "far outside anything usual. Null if not measured."
    )
    weakest: bool = Field(description="True for the weakest stage (see weakest_stage).")


class FunnelCard(BaseModel):
    """A concept's funnel against its category (the spec's funnel: its count pairs in order)."""

    request_id: str = REQUEST_ID
    concept_id: str = CONCEPT_ID
    category: str = Field(description="The category compared with ('*': all launches).")
    stages: list[FunnelStage] = Field(description="The stages in the order people pass them.")
    weakest_stage: str | None = Field(
        description="Where the concept loses the most people against its category, for the "
        "evidence it has: the measured stage with the most negative gap. Null if no stage is "
        "below its category's median."
    )
    interval_level: float = Field(description="Coverage of each rate's interval (0.8).")
    model_version: str = MODEL_VERSION


FunnelItem = TypeAliasType(
    "FunnelItem",
    Annotated[
        FunnelCard | ConceptError,
        Field(
            description="The concept's funnel card, or why it could not be made (an error item)."
        ),
    ],
)
