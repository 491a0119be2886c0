"""What /score, /target, /whatif and /forecast answer over HTTP (in process)."""

from __future__ import annotations

import pytest

from features.domain import SEGMENTS

SCORE_FIELDS = {
    "request_id",
    "concept_id",
    "hit_probability",
    "pre_test_probability",
    "category_percentile",
    "band",
    "phrases",  # null: the simulated spec has no text
    "category_norms",
    "drivers",
    "warnings",
    "model_version",
}


def test_score_answers_every_field(client, concept: dict, champion: dict) -> None:
    r = client.post("/score", json={"concepts": [concept]})
    assert r.status_code == 200, r.text
    (out,) = r.json()
    assert set(out) == SCORE_FIELDS
    assert 0 < out["hit_probability"] < 1 and 0 < out["pre_test_probability"] < 1
    assert 0 <= out["category_percentile"] <= 100 and out["band"] in ("go", "refine", "stop")
    assert out["category_norms"]["category"] == concept["category"]
    assert out["drivers"]["unit"] == "log-odds" and len(out["drivers"]["top"]) == 5
    assert out["model_version"] == champion["version"] and len(out["request_id"]) == 32


def test_target_ranks_all_segments(client, concept: dict) -> None:
    r = client.post("/target", json={"concept": concept})
    assert r.status_code == 200, r.text
    out = r.json()
    assert [s["rank"] for s in out["segments"]] == list(range(1, 9))
    assert {s["segment"] for s in out["segments"]} == set(SEGMENTS)
    probs = [s["hit_probability"] for s in out["segments"]]
    assert probs == sorted(probs, reverse=True)
    own = next(s for s in out["segments"] if s["own"])
    assert own["segment"] == concept["target_segment"] and own["change_vs_own"] == 0
    for s in out["segments"]:
        assert s["change_vs_own"] == pytest.approx(s["hit_probability"] - out["own_probability"])


def test_whatif_each_lever(client, concept: dict) -> None:
    for lever in ("price", "marketing_budget", "seeding_posts", "launch_date", "test_samples_sent"):
        r = client.post("/whatif", json={"concept": concept, "lever": lever})
        assert r.status_code == 200, r.text
        out = r.json()
        values = [p["value"] for p in out["points"]]
        assert values == sorted(values) and len(values) >= 8
        current = [p for p in out["points"] if p["current"]]
        assert len(current) == 1
        assert current[0]["hit_probability"] == pytest.approx(out["current_probability"])


def test_whatif_custom_grid_and_errors(client, concept: dict) -> None:
    r = client.post(
        "/whatif", json={"concept": concept, "lever": "price", "grid": [250, 150.0, 199]}
    )
    assert r.status_code == 200
    assert [p["value"] for p in r.json()["points"]] == [150.0, 199.0, 250.0]
    bad = client.post("/whatif", json={"concept": concept, "lever": "price", "grid": [100, -5]})
    assert bad.status_code == 400 and "grid.1" in bad.text and "price" in bad.text
    frac = client.post(
        "/whatif", json={"concept": concept, "lever": "seeding_posts", "grid": [1.5]}
    )
    assert frac.status_code == 400 and "grid.0" in frac.text
    lever = client.post("/whatif", json={"concept": concept, "lever": "colour"})
    assert lever.status_code == 400 and "lever" in lever.text


def test_forecast(client, concept: dict) -> None:
    r = client.post("/forecast", json={"concepts": [concept, {**concept, "price": 99.0}]})
    assert r.status_code == 200, r.text
    for f in r.json():
        assert 0 < f["p10"] <= f["p50"] <= f["p90"]
        assert f["unit"] == "CNY" and f["outcome"] == "gmv_90d" and f["interval_level"] == 0.8


def test_forecast_curve_and_seasonal_peaks(client, concept: dict) -> None:
    """The simulated spec's outcomes over time: the cumulative curve to 12 months, its month 3
    the headline (first-90-day GMV), and the months holding Double 11 and 618."""
    f = client.post("/forecast", json={"concepts": [concept]}).json()[0]  # launch 2026-10-20
    curve = f["curve"]
    assert [p["month"] for p in curve] == [float(k) for k in range(1, 13)]
    assert [p["column"] for p in curve][2] == f["outcome"] == "gmv_90d"
    assert (curve[2]["p10"], curve[2]["p50"], curve[2]["p90"]) == (f["p10"], f["p50"], f["p90"])
    for key in ("p10", "p50", "p90"):
        values = [p[key] for p in curve]
        assert values == sorted(values), key
    assert all(p["p10"] <= p["p50"] <= p["p90"] for p in curve)
    assert f["seasonal_peaks"] == [
        {"festival": "11-11", "date": "2026-11-11", "month": 1},
        {"festival": "06-18", "date": "2027-06-18", "month": 9},
    ]


def test_funnel_card(client, concept: dict) -> None:
    losing = {**concept, "test_trials": 70, "test_positive": 48, "test_repurchase": 19}
    r = client.post("/funnel", json={"concepts": [concept, losing]})
    assert r.status_code == 200, r.text
    usual, card = r.json()
    assert card["weakest_stage"] == "test_trial" and usual["weakest_stage"] != "test_trial"
    assert [s["stage"] for s in card["stages"]] == [
        "interest", "test_trial", "test_positive", "test_repurchase"
    ]  # fmt: skip
    assert card["category"] == "skincare" and card["interval_level"] == 0.8


def test_openapi_documents_every_field(client) -> None:
    doc = client.get("/docs.json").json()
    assert {"/score", "/target", "/whatif", "/forecast", "/funnel"} <= set(doc["paths"])
    schemas = doc["components"]["schemas"]
    names = ("Concept", "ScoredConcept", "Drivers", "SegmentScore", "WhatIfResult", "Target")
    names += ("GmvForecast", "CurvePoint", "SeasonalPeak", "FunnelStage", "FunnelCard")
    for prefix in names:
        # single-object outputs appear as e.g. "WhatIfResultIODescriptor"
        name = next((n for n in schemas if n.startswith(prefix)), None)
        assert name is not None, (prefix, sorted(schemas))
        for field, prop in schemas[name]["properties"].items():
            has_doc = "description" in prop or "$ref" in prop or "allOf" in prop
            assert has_doc or any("$ref" in a for a in prop.get("anyOf", [])), (name, field)
    assert "example" in schemas["Concept"] and "example" in schemas["ScoredConcept"]
    docs = client.get("/docs")  # redirected to BentoML's Swagger UI at /
    assert docs.status_code == 200 and "swagger-ui" in docs.text.lower()


def test_explain_false_skips_only_the_drivers(client, concept: dict) -> None:
    full = client.post("/score", json={"concepts": [concept]}).json()[0]
    lean = client.post("/score", json={"concepts": [concept], "explain": False}).json()[0]
    assert lean["drivers"] is None and full["drivers"] is not None
    # the same log-odds, summed from contributions on one path: equal to rounding
    assert lean["hit_probability"] == pytest.approx(full["hit_probability"], abs=1e-12)
    assert lean["pre_test_probability"] == full["pre_test_probability"]
