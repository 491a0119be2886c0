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
