"""Comparing concepts (scoring.compare): the ranking, the intervals, "why A over B" summing
exactly to the log-odds difference for a blend and for another spec, and `compass compare`."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scoring.compare import compare, compare_example
from scoring.scorer import BadRequest, Scorer


def concepts_of(scorer: Scorer, test: pd.DataFrame, n: int) -> list[dict]:
    """The first ``n`` valid out-of-time test launches with distinct ids, as concepts of the
    scorer's schema (validated as `compass score` validates a file's rows)."""
    from scoring.batch import validate

    schema = scorer.schema
    frame = test.copy()
    date = schema.spec.date_column
    frame[date] = (
        frame["launch_day"].dt.year
        if schema.spec.date_is_year
        else frame["launch_day"].dt.strftime("%Y-%m-%d")
    )
    _, concepts, _ = validate(frame[[c for c in schema.names if c in frame]], schema)
    out = list({c[schema.id_field]: c for c in reversed(concepts)}.values())[::-1][:n]
    assert len(out) == n, f"fewer than {n} valid test concepts"
    return out


def all_pairs(concepts: list[dict], id_field: str) -> list[tuple[str, str]]:
    ids = [c[id_field] for c in concepts]
    return [(a, b) for a, b in itertools.permutations(ids, 2)]


def assert_why_sums(scorer: Scorer, concepts: list[dict]) -> dict:
    answer = compare(scorer, concepts, all_pairs(concepts, scorer.schema.id_field))
    raw = {r["concept_id"]: r["model_log_odds"] for r in answer["ranking"]}
    assert len(answer["pairs"]) == len(concepts) * (len(concepts) - 1)
    for p in answer["pairs"]:
        assert {d["field"] for d in p["why"]} == set(scorer.fields)  # every field, once
        total = sum(d["log_odds"] for d in p["why"])
        assert abs(total - p["log_odds_difference"]) < 1e-9, p
        assert abs(p["log_odds_difference"] - (raw[p["a"]] - raw[p["b"]])) < 1e-12
    return answer


def test_why_a_over_b_sums_exactly_for_a_blend(blended_scorer: Scorer, blended_result) -> None:
    assert blended_scorer.model.is_blend and blended_scorer.model.spread is not None
    concepts = concepts_of(blended_scorer, blended_result.test, 12)
    answer = assert_why_sums(blended_scorer, concepts)
    # and the contributions are the /score drivers' (same explain, same folding)
    scored = blended_scorer.score(concepts[:1])[0]["drivers"]
    assert answer["ranking"][0]["model_log_odds"] == pytest.approx(
        max(r["model_log_odds"] for r in answer["ranking"])
    )
    top = {d["field"]: d["log_odds"] for d in scored["top"]}
    first = concepts[0][blended_scorer.schema.id_field]
    second = concepts[1][blended_scorer.schema.id_field]
    pair = next(p for p in answer["pairs"] if p["a"] == first and p["b"] == second)
    other = blended_scorer.score(concepts[1:2])[0]["drivers"]
    other_top = {d["field"]: d["log_odds"] for d in other["top"]}
    for d in pair["why"]:
        if d["field"] in top and d["field"] in other_top:
            assert d["log_odds"] == pytest.approx(top[d["field"]] - other_top[d["field"]])


def test_why_a_over_b_sums_exactly_for_video_games(video_games_champion: dict) -> None:
    result = video_games_champion["train_result"]
    scorer = Scorer(result.model, video_games_champion["version"])
    assert scorer.schema.spec.name == "video_games" and scorer.model.spread is not None
    assert_why_sums(scorer, concepts_of(scorer, result.test, 10))


def test_ranking_and_intervals(blended_scorer: Scorer, blended_result) -> None:
    concepts = concepts_of(blended_scorer, blended_result.test, 10)
    answer = compare(blended_scorer, concepts, request_id="r1")
    ranking = answer["ranking"]
    assert [r["rank"] for r in ranking] == list(range(1, 11))
    p = [r["hit_probability"] for r in ranking]
    assert p == sorted(p, reverse=True)
    scored = {s["concept_id"]: s["hit_probability"] for s in blended_scorer.score(concepts)}
    for r in ranking:  # the probability /score answers, inside its interval
        assert r["hit_probability"] == pytest.approx(scored[r["concept_id"]], abs=1e-12)
        iv = r["interval"]
        assert 0 < iv["low"] < r["hit_probability"] < iv["high"] < 1 and iv["log_odds_sd"] > 0
    # by default: each concept against the top one, in rank order
    top = ranking[0]["concept_id"]
    assert [(q["a"], q["b"]) for q in answer["pairs"]] == [
        (r["concept_id"], top) for r in ranking[1:]
    ]
    for q in answer["pairs"]:
        assert 0 <= q["p_a_beats_b"] <= 0.5  # the top is the favourite
        assert q["too_close_to_call"] == (q["p_a_beats_b"] > 0.2)
    assert answer["interval_level"] == 0.8 and answer["request_id"] == "r1"


def test_twins_are_a_coin_flip_and_bad_requests_name_the_field(blended_scorer: Scorer) -> None:
    example = compare_example(blended_scorer.schema)[0]
    twin = example | {"concept_id": "twin"}
    pair = compare(blended_scorer, [example, twin])["pairs"][0]
    assert pair["p_a_beats_b"] == 0.5 and pair["too_close_to_call"] is True
    assert all(d["log_odds"] == 0 for d in pair["why"])
    with pytest.raises(BadRequest, match="concepts.1.concept_id: 'serum-2026-q4-01' repeats"):
        compare(blended_scorer, [example, example])
    with pytest.raises(BadRequest, match=r"pairs.0.b: 'nope' is not the id"):
        compare(blended_scorer, [example, twin], [("twin", "nope")])
    with pytest.raises(BadRequest, match="2 to 100"):
        compare(blended_scorer, [example])


def test_thin_evidence_is_less_sure(blended_scorer: Scorer) -> None:
    """A concept whose test flopped is rated far below most launches, where few launches and
    fewer hits back the estimate: its members spread more and its evidence is thinner, so its
    interval is wider in log-odds than the documented example's."""
    example = compare_example(blended_scorer.schema)[0]
    flop = example | {"concept_id": "flop", "test_positive": 0, "test_repurchase": 0}
    model = blended_scorer.model
    x = model.matrix(blended_scorer.columns([example, flop]))
    sure = model.uncertainty(x, model.log_odds(x))
    assert sure is not None
    assert sure.members.std(axis=0)[1] > sure.members.std(axis=0)[0]
    assert sure.evidence[1] > sure.evidence[0] and sure.sd[1] > 1.5 * sure.sd[0]


def test_the_interval_survives_save_and_load(blended_result, tmp_path: Path) -> None:
    from models.hit_model import HitModel

    model = blended_result.model
    loaded = HitModel.load(model.save(tmp_path / "model"))
    assert loaded.spread is not None and len(loaded.spread.boosters) == len(model.spread.boosters)
    concepts = compare_example(model.concept_schema)
    before = compare(Scorer(model, "1"), concepts)
    after = compare(Scorer(loaded, "1"), concepts)
    assert after == before


def test_compass_compare_writes_the_ranking(champion: dict, tmp_path: Path) -> None:
    """A file with a bad row: the valid ones ranked (best first), the bad one kept with its
    error, exit status 1; the compared concepts are in the prediction log."""
    from compass.cli import app
    from scoring.prediction_log import PredictionLog

    schema = champion["train_result"].model.concept_schema
    rows = compare_example(schema) + [schema.example | {"concept_id": "bad", "category": "x"}]
    src, out, full = tmp_path / "ideas.csv", tmp_path / "ranked.csv", tmp_path / "answer.json"
    table = pd.DataFrame(rows).astype({"price": object})
    table.loc[0, "price"] = f"${rows[0]['price']:,.2f}"  # as a spreadsheet exports it
    table.to_csv(src, index=False)
    r = CliRunner().invoke(app, ["compare", str(src), "-o", str(out), "--json", str(full)])
    assert r.exit_code == 1 and "row 4 (concept_id 'bad'): category" in r.output, r.output
    assert "price: currency signs (1 value) read as numbers" in r.output
    assert "1. " in r.output and "beats the top with probability" in r.output
    ranked = pd.read_csv(out)
    assert ranked["rank"].tolist()[:3] == [1, 2, 3] and np.isnan(ranked["rank"].iloc[3])
    assert ranked["error"].notna().tolist() == [False, False, False, True]
    assert (ranked["interval_low"] <= ranked["hit_probability"]).iloc[:3].all()
    log = PredictionLog()
    logged = log.query("SELECT concept_id FROM predictions WHERE endpoint = 'compare'")
    log.close()
    assert {c["concept_id"] for c in rows[:3]} <= {row[0] for row in logged}
    pairs = CliRunner().invoke(
        app, ["compare", str(src), "-o", str(out), "--no-log", "--pair", "nope,bad"]
    )
    assert pairs.exit_code == 1 and "pairs.0.a: 'nope'" in pairs.output, pairs.output
