"""Serving a launch history with the concepts' own words, written here: an English name and a
Chinese claim as text fields, launch timestamps with mixed UTC offsets and the hour of launch
(``timing``).

Trained through the real pipeline (MLflow registry, its own registered model and champion, the
text ablation in its report), exported, served by a real ``bentoml serve``: its API (phrases,
drivers, /wordings, the text length limit, a datetime lever), fuzzed; then batch scoring,
outcomes, the monitor's text drift, retraining on the outcomes and a reload, end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import serving
from schemathesis import GenerationMode
from test_fuzz import fuzz_live

pytestmark = pytest.mark.e2e

GOOD, BAD = "敏感肌可用", "买一送一"
CLAIMS = ["补水保湿", "清爽不油腻", "持久留香", "天然成分", "温和无刺激", GOOD, BAD]
WORDS = ["Glow", "Pure", "Daily", "Cloud", "Silk", "Hydra", "Bloom", "Zen"]
SPEC = {
    "name": "claims",
    "source": "claims.csv",
    "id_column": "sku",
    "date_column": "launched",
    "target": {"column": "hit"},
    "categorical": ["category"],
    "text": ["name", {"column": "claim", "max_length": 300}],
    "timing": ["weekday", "hour"],
    "inputs": {"claim": {"description": "The claims on the pack, in Chinese."}},
}


def launches(n: int = 1200, seed: int = 4, start: str = "2023-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = np.sort(rng.integers(0, 730, n))
    hours = np.where(rng.uniform(size=n) < 0.6, 0, rng.integers(1, 24, n))
    stamps = pd.Timestamp(start) + pd.to_timedelta(days, "D") + pd.to_timedelta(hours, "h")
    # Pacific-style offsets: -07:00 in summer, -08:00 otherwise (mixed in one column)
    offsets = np.where(stamps.month.isin(range(4, 11)), "-07:00", "-08:00")
    claims = [
        "，".join(rng.choice(CLAIMS, rng.integers(2, 4), replace=False).tolist()) for _ in range(n)
    ]
    good = np.array([GOOD in c for c in claims])
    bad = np.array([BAD in c for c in claims])
    z = -1.4 + 1.6 * good - 1.4 * bad - 1.0 * (hours > 0)
    return pd.DataFrame(
        {
            "sku": [f"sku-{seed}-{i}" for i in range(n)],
            "launched": [f"{s:%Y-%m-%dT%H:%M:%S}{o}" for s, o in zip(stamps, offsets, strict=True)],
            "category": rng.choice(["skincare", "snacks"], n),
            "name": [" ".join(rng.choice(WORDS, 2, replace=False).tolist()) for _ in range(n)],
            "claim": claims,
            "hit": (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int),
        }
    )


@pytest.fixture(scope="module")
def text_served(tmp_path_factory, quick_params_file: Path) -> Iterator[dict]:
    from training.pipeline import run_training
    from training.registry import export_version

    folder = tmp_path_factory.mktemp("claims")
    launches().to_csv(folder / "claims.csv", index=False)
    spec_path = folder / "claims.yaml"
    spec_path.write_text(yaml.safe_dump(SPEC, allow_unicode=True))
    result = run_training(data=None, spec_path=spec_path, params_path=quick_params_file)
    assert result["promotion"]["promoted"], result["promotion"]
    tag = export_version(model_name=result["model_name"])
    with serving({"HIT_COMPASS_MODEL": tag}) as (url, _):
        yield {"url": url, "result": result, "spec_path": spec_path, "folder": folder}


@pytest.fixture(scope="module")
def quick_params_file(tmp_path_factory) -> Path:
    import json

    from benchmarks.loop import QUICK_PARAMS

    path = tmp_path_factory.mktemp("quick") / "quick.json"
    path.write_text(json.dumps(QUICK_PARAMS))
    return path


def post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, timeout=60)


def example_of(url: str) -> dict:
    doc = httpx.get(f"{url}/docs.json", timeout=10).json()
    return doc["components"]["schemas"]["Concept"]["example"]


def test_its_words_in_the_api(text_served: dict) -> None:
    url, result = text_served["url"], text_served["result"]
    text = result["evaluation"]["text"]  # the report: each text model alone, and without text
    assert set(text["models"]) == {"name", "claim"} and "without_text" in text["ablation"]

    props = httpx.get(f"{url}/docs.json", timeout=10).json()["components"]["schemas"]["Concept"]
    props = props["properties"]
    assert props["claim"]["maxLength"] == 300 and props["claim"]["type"] == "string"
    assert props["launched"]["format"] == "date-time"
    meta = {f["name"]: f for f in httpx.get(f"{url}/ui/meta.json", timeout=10).json()["fields"]}
    assert meta["claim"]["kind"] == "text" and meta["launched"]["kind"] == "datetime"

    example = example_of(url) | {
        "claim": f"补水保湿，{GOOD}",
        "launched": "2025-02-03T00:01:00-08:00",
    }
    r = post(url, "/score", {"concepts": [example]})
    assert r.status_code == 200, r.text
    scored = r.json()[0]
    d = scored["drivers"]
    total = d["base_value"] + sum(t["log_odds"] for t in d["top"]) + d["other_fields"]
    assert total == pytest.approx(d["model_log_odds"], abs=1e-9)
    assert {"name", "claim"} <= {t["field"] for t in d["top"]}  # one field each, as typed
    phrases = scored["phrases"]
    assert set(phrases) == {"name", "claim"}
    assert phrases["claim"]["up"][0]["phrase"] == GOOD
    lean = post(url, "/score", {"concepts": [example], "explain": False}).json()[0]
    # without drivers the trees are summed by predict, not by pred_contrib: the last bit may differ
    assert lean["phrases"] is None
    assert lean["hit_probability"] == pytest.approx(scored["hit_probability"], rel=1e-12)

    # two wordings of the claim: two answers, the better one first
    w = post(
        url,
        "/wordings",
        {"concept": example, "field": "claim", "alternatives": [f"清爽不油腻，{BAD}", GOOD]},
    )
    assert w.status_code == 200, w.text
    alts = w.json()["alternatives"]
    assert [a["text"] for a in alts] == [GOOD, f"清爽不油腻，{BAD}"]
    assert alts[0]["hit_probability"] > alts[1]["hit_probability"]
    assert alts[1]["down"][0]["phrase"] == BAD
    assert w.json()["current"]["hit_probability"] == pytest.approx(scored["hit_probability"])
    r = post(url, "/wordings", {"concept": example, "field": "category", "alternatives": ["x"]})
    assert r.status_code == 400 and "field" in r.text

    long = post(url, "/score", {"concepts": [example | {"claim": "保" * 100_000}]})
    assert long.status_code == 400, long.text
    assert long.json()["detail"][0]["loc"] == ["concepts", 0, "claim"]
    too_long = post(
        url, "/wordings", {"concept": example, "field": "claim", "alternatives": ["保" * 301]}
    )
    assert too_long.status_code == 400 and "claim" in too_long.text

    grid = ["2025-02-03T00:01:00-08:00", "2025-02-03T14:00:00-08:00"]
    hours = post(url, "/whatif", {"concept": example, "lever": "launched", "grid": grid})
    assert hours.status_code == 200, hours.text
    first, later = (p["hit_probability"] for p in hours.json()["points"])
    assert first > later  # launched at midnight, as the history's hits were


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_its_openapi(text_served: dict, mode: GenerationMode) -> None:
    paths = ("/score", "/wordings", "/whatif", "/compare")
    fuzz_live(text_served["url"], paths, mode, examples=30, check_answers=False)


def test_batch_outcomes_monitor_retraining_and_reload(
    text_served: dict, quick_params_file: Path, tmp_path: Path
) -> None:
    """After launch: a batch scored from a file (phrases in its columns, logged), the outcomes
    of those launches recorded over HTTP, the monitor's drift of the text fields (its text
    score and its unseen n-grams), a retraining on the outcomes, the new version reloaded."""
    from scoring.batch import score_file
    from scoring.prediction_log import PredictionLog
    from scoring.scorer import Scorer
    from training.monitor import run_monitor
    from training.pipeline import run_training
    from training.registry import export_version

    url, result = text_served["url"], text_served["result"]
    later = launches(150, seed=8, start="2030-01-01")  # launches after today: scored before
    src = tmp_path / "concepts.csv"
    later.drop(columns="hit").to_csv(src, index=False)
    scorer = Scorer(result["train_result"].model, result["version"])
    log = PredictionLog()
    try:
        report = score_file(src, tmp_path / "scored.csv", scorer, log, progress=False)
    finally:
        log.close()
    assert report.scored == 150, report.errors
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert {"claim_text_score", "claim_phrases_up", "name_phrases_down"} <= set(scored.columns)

    outcomes = later[["sku", "launched", "hit"]].to_dict("records")
    r = post(url, "/outcomes", {"outcomes": outcomes})
    assert r.status_code == 200 and r.json()["recorded"] == 150, r.text

    summary = run_monitor(result["model_name"], None, tmp_path / "monitor", n_boot=20)
    drift = {d["field"]: d for d in summary["drift"]}
    assert drift["claim"]["psi"] is not None and drift["claim"]["unseen_ngrams"] is not None
    assert drift["claim"]["unseen_ngrams_training"] is not None
    assert summary["live"]["n"] == 150

    again = run_training(
        data=None,
        spec_path=text_served["spec_path"],
        params_path=quick_params_file,
        with_outcomes=True,
        gate=False,
    )
    assert again["data_report"]["scored_with_outcomes"] == 150
    tag = export_version(again["version"], again["model_name"])
    r = post(url, "/admin/reload", {"tag": tag})
    assert r.status_code == 200, r.text
    answer = post(url, "/score", {"concepts": [example_of(url)]}).json()[0]
    assert answer["model_version"] == again["version"] and answer["phrases"]["claim"] is not None
