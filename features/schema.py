"""The concept schema: what a product team submits to be scored.

Launch features, pre-launch AIPL funnel counts (people reached, people interested) and the
optional small-sample test. Every field has a description, unit, bounds and an example; counts
must be consistent (positives never exceed trials). Error messages name the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from features.domain import BRAND_TIERS, CATEGORIES, SEGMENTS

Category = Literal[tuple(CATEGORIES)]  # type: ignore[valid-type]
Segment = Literal[tuple(SEGMENTS)]  # type: ignore[valid-type]
BrandTier = Literal[tuple(BRAND_TIERS)]  # type: ignore[valid-type]
Count = Annotated[StrictInt, Field(ge=0, le=1_000_000_000)]
Money = Annotated[float, Field(strict=True, ge=0, le=1e11, allow_inf_nan=False)]

EXAMPLE_CONCEPT = {
    "concept_id": "serum-2026-q4-01",
    "launch_date": "2026-10-20",
    "category": "skincare",
    "target_segment": "new_white_collar",
    "brand_tier": "established",
    "brand": "brand_0600",
    "price": 199.0,
    "novelty": 0.6,
    "marketing_budget": 800000.0,
    "seeding_posts": 40,
    "reach": 60000,
    "interested": 4200,
    "test_samples_sent": 300,
    "test_trials": 220,
    "test_positive": 150,
    "test_repurchase": 60,
}


class Concept(BaseModel):
    """One product concept, before launch."""

    model_config = ConfigDict(
        # "example" (singular): BentoML's OpenAPI component schema rejects model-level "examples"
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={"example": EXAMPLE_CONCEPT},
    )

    concept_id: str = Field(min_length=1, max_length=128, description="Your identifier.")
    launch_date: dt.date = Field(description="Planned launch date (ISO 8601, YYYY-MM-DD).")
    category: Category = Field(description="Product category.")  # type: ignore[valid-type]
    target_segment: Segment = Field(description="Strategic consumer segment targeted.")  # type: ignore[valid-type]
    brand_tier: BrandTier = Field(description="new_d2c, established or premium.")  # type: ignore[valid-type]
    brand: str = Field(
        "unknown",
        min_length=1,
        max_length=128,
        description="Brand identifier; its earlier launches form a track record.",
    )
    price: Annotated[float, Field(strict=True, gt=0, le=1e6, allow_inf_nan=False)] = Field(
        description="Retail price, CNY per unit."
    )
    novelty: Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)] = Field(
        description="How new the concept is to its category, 0 (me-too) to 1 (new to the world)."
    )
    marketing_budget: Money = Field(description="Launch marketing budget, CNY.")
    seeding_posts: Count = Field(description="Influencer seeding posts planned (count).")
    reach: Count = Field(description="AIPL 'A': people reached by pre-launch content (count).")
    interested: Count = Field(description="AIPL 'I': people who showed interest (count, <= reach).")
    test_samples_sent: Count = Field(
        0, description="Small-sample test: free samples sent (0 = no test)."
    )
    test_trials: Count = Field(0, description="Samples actually tried (count, <= samples sent).")
    test_positive: Count = Field(0, description="Positive ratings (count, <= trials).")
    test_repurchase: Count = Field(0, description="Would buy again (count, <= positive ratings).")

    @model_validator(mode="after")
    def _counts_consistent(self) -> Concept:
        for part, whole in (
            ("interested", "reach"),
            ("test_trials", "test_samples_sent"),
            ("test_positive", "test_trials"),
            ("test_repurchase", "test_positive"),
        ):
            if getattr(self, part) > getattr(self, whole):
                raise PydanticCustomError("count_exceeds", f"{part} exceeds {whole}")
        return self


CONCEPT_FIELDS = list(Concept.model_fields)
