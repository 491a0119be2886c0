"""Choosing between concepts: rank several, say how sure, and say why one beats another.

``compare`` answers /compare and ``compass compare``: the concepts ranked by calibrated P(hit),
each with its interval (``models.uncertainty``: how much the estimate itself could move given
the launches behind it) and band; for each pair asked about (by default each concept against
the top one) the probability that the first truly beats the second, a "too close to call" flag,
and the fields that make the difference: per input field, the difference of the two concepts'
exact contributions (TreeSHAP plus the linear terms, folded to fields as /score's drivers),
summing to the difference of their raw log-odds.

Intervals cost one prediction per member and concept, which is why only this endpoint (not
/score) computes them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from features.schema import ConceptSchema
from features.tables import TableError, read_table, write_table
from scoring.batch import check_columns, read_numbers, validate
from scoring.prediction_log import PredictionLog, new_request_id
from scoring.scorer import BadRequest, Scorer

MIN_CONCEPTS, MAX_CONCEPTS = 2, 100
MAX_PAIRS = 500
# "too close to call": the model is less sure than this which of the two is truly better
CLOSE_CALL = 0.8
TOP_DIFFERENCES = 3  # field differences per row in the file `compass compare` writes


def compare(
    scorer: Scorer,
    concepts: Sequence[dict[str, Any]],
    pairs: Sequence[tuple[str, str]] | None = None,
    request_id: str = "",
) -> dict[str, Any]:
    """The comparison of ``concepts`` (validated concept dicts); ``pairs`` of concept ids
    (default: each concept against the top one). BadRequest names a repeated id, an unknown
    one, or a count out of bounds."""
    n = len(concepts)
    if not MIN_CONCEPTS <= n <= MAX_CONCEPTS:
        raise BadRequest(
            f"concepts: {n} given; a comparison takes {MIN_CONCEPTS} to {MAX_CONCEPTS}"
        )
    id_field = scorer.schema.id_field
    ids = [str(c[id_field]) for c in concepts]
    position: dict[str, int] = {}
    for i, cid in enumerate(ids):
        if cid in position:
            raise BadRequest(
                f"concepts.{i}.{id_field}: {cid!r} repeats concepts.{position[cid]} (pairs name "
                "concepts by id)"
            )
        position[cid] = i
    model = scorer.model
    cols = scorer.columns(concepts)
    x = model.matrix(cols)
    contrib, _, raw = model.explain(x)
    by_field = contrib @ scorer.fold
    proba = model.calibrated(raw)
    order = sorted(range(n), key=lambda i: (-proba[i], -raw[i], i))
    spread, sure = model.spread, model.uncertainty(x, raw)
    if spread is not None and sure is not None:
        lo, hi = spread.interval(sure, model.calibrated)
    if pairs is None:
        asked = [(i, order[0]) for i in order[1:]]
    else:
        asked = [_pair(k, p, position) for k, p in enumerate(pairs)]
    a = np.array([p[0] for p in asked], dtype=int)
    b = np.array([p[1] for p in asked], dtype=int)
    beats = spread.beats(sure, a, b) if spread is not None and sure is not None else None
    warnings = model.warnings(cols)
    norms = scorer.norms_for(concepts, proba)
    ranking = [
        {
            "rank": r,
            "concept_id": ids[i],
            "hit_probability": float(proba[i]),
            "interval": None
            if sure is None
            else {"low": float(lo[i]), "high": float(hi[i]), "log_odds_sd": float(sure.sd[i])},
            "band": norms[i]["band"],
            "category_percentile": norms[i]["category_percentile"],
            "model_log_odds": float(raw[i]),
            "warnings": warnings[i],
        }
        for r, i in enumerate(order, start=1)
    ]
    return {
        "request_id": request_id,
        "interval_level": spread.level if spread is not None else None,
        "ranking": ranking,
        "pairs": [
            _pair_answer(
                scorer, ids, proba, raw, by_field, i, j, None if beats is None else beats[k]
            )
            for k, (i, j) in enumerate(asked)
        ],
        "model_version": scorer.version,
    }


def _pair(k: int, pair: tuple[str, str], position: dict[str, int]) -> tuple[int, int]:
    out = []
    for side, cid in zip(("a", "b"), pair, strict=True):
        if cid not in position:
            raise BadRequest(
                f"pairs.{k}.{side}: {cid!r} is not the id of a concept in this request"
            )
        out.append(position[cid])
    return out[0], out[1]


def _pair_answer(
    scorer: Scorer,
    ids: list[str],
    proba: np.ndarray,
    raw: np.ndarray,
    by_field: np.ndarray,
    i: int,
    j: int,
    beats: float | None,
) -> dict[str, Any]:
    diff = by_field[i] - by_field[j]
    fields = sorted(range(len(scorer.fields)), key=lambda f: -abs(diff[f]))
    p = None if beats is None else float(beats)
    return {
        "a": ids[i],
        "b": ids[j],
        "probability_difference": float(proba[i] - proba[j]),
        "p_a_beats_b": p,
        "too_close_to_call": None if p is None else bool(max(p, 1 - p) < CLOSE_CALL),
        "log_odds_difference": float(raw[i] - raw[j]),
        "why": [{"field": scorer.fields[f], "log_odds": float(diff[f])} for f in fields],
    }


def compare_example(schema: ConceptSchema, size: int = 3) -> list[dict[str, Any]]:
    """The documented request: the schema's example and variants of it, each with one numeric
    lever at 80 % of the example's value (a variant the schema refuses is left out)."""
    example = dict(schema.example)
    cid = str(example.get(schema.id_field, "concept"))
    out = [example]
    for lever in schema.levers.values():
        value = example.get(lever.name)
        if len(out) >= size or lever.kind not in ("number", "count") or not value:
            continue
        new = 0.8 * float(value)
        variant = example | {
            schema.id_field: f"{cid}-{lever.name.lower().replace(' ', '-')}-80",
            lever.name: int(round(new)) if lever.kind == "count" else round(new, 2),
        }
        with contextlib.suppress(ValidationError):
            out.append(schema.validate(variant))
    if len(out) < MIN_CONCEPTS:
        out.append(example | {schema.id_field: f"{cid}-twin"})
    return out


# ---- files: `compass compare` ----------------------------------------------------------------
@dataclass
class ComparedFile:
    table: pd.DataFrame  # the ranking, one row per input row in input order, errors kept
    answer: dict[str, Any] | None  # the whole answer; None if fewer than two rows are valid
    errors: dict[int, str]  # row position -> its error
    notes: list[str] = field(default_factory=list)  # numbers read as exports write them


def compare_file(
    src: Path,
    scorer: Scorer,
    log: PredictionLog | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> ComparedFile:
    """A CSV / Parquet of concepts (the columns ``compass score`` takes, read as it reads them)
    compared."""
    frame = read_table(src, as_text=True)
    check_columns(frame.columns, scorer, src)
    if len(frame) > MAX_CONCEPTS:
        raise TableError(f"{src}: {len(frame)} rows; a comparison takes at most {MAX_CONCEPTS}")
    readable, notes = read_numbers(frame, scorer.schema)
    pos, concepts, errors = validate(readable, scorer.schema)
    answer = None
    if len(concepts) >= MIN_CONCEPTS:
        answer = compare(scorer, concepts, pairs, new_request_id())
        if log is not None:
            by_id = {r["concept_id"]: r for r in answer["ranking"]}
            id_field = scorer.schema.id_field
            outputs = [by_id[str(c[id_field])] for c in concepts]
            log.append(
                "compare", answer["request_id"], scorer.version, concepts, outputs, pos,
                id_field, scorer.model_name,
            )  # fmt: skip
    table = ranking_table(frame, scorer, concepts, pos, errors, answer)
    return ComparedFile(table, answer, errors, notes)


def ranking_table(
    frame: pd.DataFrame,
    scorer: Scorer,
    concepts: list[dict[str, Any]],
    pos: list[int],
    errors: dict[int, str],
    answer: dict[str, Any] | None,
) -> pd.DataFrame:
    """The input rows with the answer's columns: rank, probability, interval, band, and
    against the top concept: P(it beats the top), too close to call, the largest field
    differences (its log-odds minus the top's)."""
    rows: list[dict[str, Any]] = [{} for _ in range(len(frame))]
    if answer is not None:
        id_field = scorer.schema.id_field
        at = {str(c[id_field]): p for c, p in zip(concepts, pos, strict=True)}
        top = answer["ranking"][0]["concept_id"]
        against_top = {p["a"]: p for p in answer["pairs"] if p["b"] == top}
        for r in answer["ranking"]:
            interval = r["interval"] or {}
            row = {
                "rank": r["rank"],
                "hit_probability": r["hit_probability"],
                "interval_low": interval.get("low"),
                "interval_high": interval.get("high"),
                "band": r["band"],
                "p_beats_top": None,
                "too_close_to_top": None,
            }
            pair = against_top.get(r["concept_id"])
            if pair is not None:
                row["p_beats_top"] = pair["p_a_beats_b"]
                row["too_close_to_top"] = pair["too_close_to_call"]
                for k, d in enumerate(pair["why"][:TOP_DIFFERENCES], start=1):
                    row[f"vs_top_field_{k}"] = d["field"]
                    row[f"vs_top_log_odds_{k}"] = d["log_odds"]
            row["model_version"] = answer["model_version"]
            row["request_id"] = answer["request_id"]
            rows[at[r["concept_id"]]] = row
    answers = pd.DataFrame(rows, index=frame.index)
    out = frame.drop(columns=[c for c in answers.columns if c in frame.columns])
    out = pd.concat([out, answers], axis=1)
    out["error"] = [errors.get(i) for i in range(len(frame))]
    return out


def write_ranking(table: pd.DataFrame, dst: Path) -> None:
    write_table(table.sort_values("rank", na_position="last", kind="stable"), dst)
