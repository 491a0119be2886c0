"""The consumer-product launch domain: categories, strategic consumer segments, brand tiers.

These constants drive the simulator and give the API its allowed values. A user's own launch
history (a dataset spec) may use other vocabularies; the model learns whatever its spec declares.
"""

from __future__ import annotations

import numpy as np

# category -> (typical retail price in CNY, base hit rate among new launches)
# Hit = first-90-day GMV at or above the category's top-decile GMV among established products;
# growing categories beat that bar more often, hence different base rates.
CATEGORIES: dict[str, tuple[float, float]] = {
    "skincare": (180.0, 0.12),
    "cosmetics": (150.0, 0.11),
    "mother_baby": (200.0, 0.10),
    "snacks": (35.0, 0.13),
    "beverages": (20.0, 0.09),
    "personal_care": (60.0, 0.10),
    "home_cleaning": (40.0, 0.08),
    "pet": (120.0, 0.14),
    "small_electronics": (400.0, 0.09),
    "apparel": (250.0, 0.10),
}

# the 8 strategic consumer segments -> (price sensitivity, log market-size effect)
SEGMENTS: dict[str, tuple[float, float]] = {
    "new_white_collar": (0.6, 0.10),
    "senior_middle_class": (0.3, 0.05),
    "refined_mothers": (0.5, 0.10),
    "small_town_youth": (1.2, 0.10),
    "gen_z": (0.9, 0.15),
    "urban_silver": (0.8, -0.10),
    "small_town_middle_aged": (1.1, -0.05),
    "urban_blue_collar": (1.0, 0.00),
}

# brand tier -> (price multiplier, typical marketing budget in CNY, log GMV effect)
BRAND_TIERS: dict[str, tuple[float, float, float]] = {
    "new_d2c": (0.85, 200_000.0, -0.25),
    "established": (1.0, 500_000.0, 0.10),
    "premium": (1.8, 800_000.0, 0.20),
}

# festivals as (month, day): launching in the weeks before them lifts the first 90 days
FESTIVALS: dict[str, tuple[int, int]] = {"double_11": (11, 11), "618": (6, 18)}

_STRONG_AFFINITIES = {
    ("mother_baby", "refined_mothers"): 0.9,
    ("skincare", "new_white_collar"): 0.6,
    ("skincare", "refined_mothers"): 0.4,
    ("cosmetics", "gen_z"): 0.7,
    ("cosmetics", "new_white_collar"): 0.4,
    ("snacks", "gen_z"): 0.6,
    ("snacks", "small_town_youth"): 0.5,
    ("beverages", "small_town_youth"): 0.5,
    ("beverages", "urban_blue_collar"): 0.4,
    ("personal_care", "urban_silver"): 0.4,
    ("home_cleaning", "small_town_middle_aged"): 0.5,
    ("home_cleaning", "refined_mothers"): 0.3,
    ("pet", "new_white_collar"): 0.6,
    ("pet", "gen_z"): 0.4,
    ("small_electronics", "senior_middle_class"): 0.5,
    ("small_electronics", "gen_z"): 0.3,
    ("apparel", "gen_z"): 0.5,
    ("apparel", "senior_middle_class"): 0.4,
    ("mother_baby", "urban_silver"): -0.6,
    ("cosmetics", "urban_silver"): -0.6,
    ("small_electronics", "urban_silver"): -0.4,
}


def _affinity_matrix() -> np.ndarray:
    """Category x segment appeal offsets: strong pairs by hand, weak fixed-seed noise elsewhere."""
    rng = np.random.default_rng(2024)
    cats, segs = list(CATEGORIES), list(SEGMENTS)
    aff = rng.uniform(-0.25, 0.15, size=(len(cats), len(segs)))
    for (c, s), v in _STRONG_AFFINITIES.items():
        aff[cats.index(c), segs.index(s)] = v
    return aff


AFFINITY = _affinity_matrix()
