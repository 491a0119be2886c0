"""Batch scoring: a CSV / Parquet of concepts in, the /score answers flattened to columns out.

Every row is validated with the model's concept schema, as the HTTP API validates it, once
the number fields' cells written as exports write them (``$8,500.00``, ``1.200,50``, ``12%``)
are read as training reads its history (``features.numbers``; what that took is said per
column; the HTTP API takes JSON numbers only). A row that fails keeps its place in the output
with an ``error`` naming the row and column, and no scores: nothing is lost and nothing is
silently repaired. Columns the schema does not know (e.g. outcomes of a simulated history) are
carried through untouched. Every scored row goes to the prediction log.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError
from tqdm.auto import tqdm

from features.numbers import parse_numbers
from features.schema import ConceptSchema
from features.tables import TableError, read_table, write_table
from scoring.prediction_log import PredictionLog, new_request_id
from scoring.scorer import TOP_DRIVERS, Scorer


@dataclass
class BatchReport:
    rows: int = 0
    scored: int = 0
    errors: list[str] = field(default_factory=list)  # the messages (Spark: the first 20 only)
    request_id: str = ""
    notes: list[str] = field(default_factory=list)  # numbers read as exports write them

    @property
    def invalid(self) -> int:
        return self.rows - self.scored


def missing(v: Any) -> bool:
    """An empty cell (CSV) or a null (Parquet)."""
    return v is None or v == "" or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT


def coerce(kind: str, v: Any) -> Any:
    """A cell -> the JSON type (``kind``) the schema expects, when it unambiguously is one;
    otherwise the cell unchanged, so the schema rejects it with its own message."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, pd.Timestamp):  # a launch time keeps its time of day (timing: hour)
        v = v.isoformat() if kind == "date-time" else v.date().isoformat()
    try:
        if kind == "integer" and not isinstance(v, bool):
            f = float(v)
            return int(f) if f.is_integer() else v
        if kind == "number" and not isinstance(v, bool):
            return float(v)
    except (TypeError, ValueError):
        return v
    return v if kind != "string" or isinstance(v, str) else str(v)


def json_types(model: type[BaseModel]) -> dict[str, str]:
    """Field -> the JSON type a request model asks for ("integer", "number", "string"), or
    "date-time" for a string holding a timestamp."""
    out = {}
    for name, prop in model.model_json_schema(by_alias=True)["properties"].items():
        options = [prop, *prop.get("anyOf", [])]
        if any(o.get("format") == "date-time" for o in options):
            out[name] = "date-time"
            continue
        types = [o.get("type") for o in options]
        out[name] = next((t for t in types if t and t != "null"), "string")
    return out


def number_fields(schema: ConceptSchema) -> set[str]:
    """The fields a request takes as JSON numbers (whole or not)."""
    return {k for k, t in json_types(schema.model).items() if t in ("number", "integer")}


def read_numbers(frame: pd.DataFrame, schema: ConceptSchema) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` with its number fields' cells read as training reads a history's (``$8,500.00``
    is 8500, ``1.200,50`` is 1200.5: ``features.numbers``), and a note per column that took
    it. A cell that still reads as no number stays as written, for the schema to refuse by row
    and field."""
    numbers = number_fields(schema)
    out, notes = frame, []
    for col in frame.columns:
        if col not in numbers:
            continue
        parsed = parse_numbers(frame[col])
        if parsed.cleaned:
            out = out.copy() if out is frame else out
            read = parsed.values.astype(object)
            out[col] = read.where(read.notna(), frame[col])
            said = parsed.describe_cleaning()
            notes.append(f"{col}: {said} read as numbers, as training reads them")
    return out, notes


def validate(
    frame: pd.DataFrame,
    schema: ConceptSchema,
    start: int = 0,
    names: Sequence[str] | None = None,
) -> tuple[list[int], list[dict], dict[int, str]]:
    """(positions of valid rows, their concept dicts, {position: error}). Messages name a row
    by ``names`` (one per row of ``frame``), else by its number from 1 (row 1 = the first data
    row, CSV line 2), then its id and each field at fault, as the HTTP API's do."""
    types = json_types(schema.model)
    known = [c for c in frame.columns if c in types]
    ok_pos, concepts, errors = [], [], {}
    for pos, values in enumerate(frame[known].itertuples(index=False, name=None), start=start):
        raw = {k: coerce(types[k], v) for k, v in zip(known, values, strict=True) if not missing(v)}
        try:
            concepts.append(schema.validate(raw))
            ok_pos.append(pos)
        except ValidationError as exc:
            name = names[pos - start] if names is not None else f"row {pos + 1}"
            errors[pos] = schema.error_line(name, raw, exc)
    return ok_pos, concepts, errors


def flatten(scored: dict[str, Any]) -> dict[str, Any]:
    """One /score answer -> flat columns."""
    norms = scored.get("category_norms") or {}
    drivers = scored["drivers"]
    out = {
        "hit_probability": scored["hit_probability"],
        "pre_test_probability": scored["pre_test_probability"],
        "category_percentile": scored["category_percentile"],
        "band": scored["band"],
        "category_hit_rate": norms.get("hit_rate"),
        "band_go_at": norms.get("go_at"),
        "band_stop_below": norms.get("stop_below"),
        "drivers_base_log_odds": drivers["base_value"],
        "model_log_odds": drivers["model_log_odds"],
    }
    for k in range(TOP_DRIVERS):
        top = drivers["top"][k] if k < len(drivers["top"]) else {"field": None, "log_odds": None}
        out[f"driver_{k + 1}_field"] = top["field"]
        out[f"driver_{k + 1}_log_odds"] = top["log_odds"]
    out["drivers_other_fields_log_odds"] = drivers["other_fields"]
    for column, text in (scored.get("phrases") or {}).items():  # a spec with text fields
        out[f"{column}_text_score"] = text["text_score"]
        for way in ("up", "down"):
            out[f"{column}_phrases_{way}"] = "; ".join(p["phrase"] for p in text[way])
    out["warnings"] = "; ".join(scored["warnings"])
    out["model_version"] = scored["model_version"]
    out["request_id"] = scored["request_id"]
    return out


def answer_columns(scorer: Scorer) -> dict[str, type]:
    """The columns :func:`score_frame` adds, in order, with their type (float or str), for
    engines that declare an output schema before scoring (Spark): :func:`flatten` of an answer
    whose every value has its type."""
    top = [{"field": "", "log_odds": 0.0}] * TOP_DRIVERS
    typed = {
        **dict.fromkeys(("hit_probability", "pre_test_probability", "category_percentile"), 0.0),
        "category_norms": dict.fromkeys(("hit_rate", "go_at", "stop_below"), 0.0),
        "drivers": {"base_value": 0.0, "model_log_odds": 0.0, "top": top, "other_fields": 0.0},
        **dict.fromkeys(("band", "model_version", "request_id"), ""),
        "warnings": [],
        "phrases": {c: {"text_score": 0.0, "up": [], "down": []} for c in scorer.text_columns},
    }
    out = flatten(typed)
    fc = scorer.model.forecast
    if fc is not None:
        quantiles = dict.fromkeys(("p10", "p50", "p90"), 0.0)
        curve = [{"column": c, **quantiles} for c, _ in getattr(fc, "horizons", [])] or None
        out |= _forecast_columns({"outcome": fc.outcome, **quantiles, "curve": curve})
    return {name: type(value) for name, value in out.items()} | {"error": str}


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[tuple[int, pd.DataFrame]]:
    for start in range(0, len(frame), size):
        yield start, frame.iloc[start : start + size]


def score_frame(
    frame: pd.DataFrame,
    scorer: Scorer,
    log: PredictionLog | None = None,
    chunk_size: int = 1000,
    progress: bool = True,
    request_id: str | None = None,
    names: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, BatchReport]:
    """Score every valid row; return the input columns + flattened answers + ``error``.
    ``request_id``: the batch's (default: a new one); ``names``: see :func:`validate`."""
    report = BatchReport(rows=len(frame), request_id=request_id or new_request_id())
    readable, report.notes = read_numbers(frame, scorer.schema)  # the output keeps the cells
    results: list[dict[str, Any] | None] = [None] * len(frame)
    error_col: list[str | None] = [None] * len(frame)
    with tqdm(total=len(frame), unit="concept", desc="scoring", disable=not progress) as bar:
        for start, chunk in _chunks(readable, chunk_size):
            chunk_names = None if names is None else names[start : start + len(chunk)]
            pos, concepts, errors = validate(chunk, scorer.schema, start, chunk_names)
            for p, msg in errors.items():
                error_col[p] = msg
            report.errors += list(errors.values())
            if concepts:
                scored = scorer.score(concepts, report.request_id)
                if scorer.has_forecast:
                    for s, f in zip(scored, scorer.forecast(concepts), strict=True):
                        s["forecast"] = f
                if log is not None:
                    log.append(
                        "batch",
                        report.request_id,
                        scorer.version,
                        concepts,
                        scored,
                        pos,
                        scorer.schema.id_field,
                        scorer.model_name,
                    )
                for p, s in zip(pos, scored, strict=True):
                    results[p] = flatten(s) | _forecast_columns(s.get("forecast"))
                report.scored += len(concepts)
            bar.update(len(chunk))
    answers = pd.DataFrame([r or {} for r in results], index=frame.index)
    out = frame.drop(columns=[c for c in answers.columns if c in frame.columns])
    out = pd.concat([out, answers], axis=1)
    out["error"] = error_col
    return out, report


def _forecast_columns(forecast: dict[str, Any] | None) -> dict[str, Any]:
    """``{outcome}_p10`` .. ``_p90``; with a curve, the same for every horizon's column (the
    outcome's own among them)."""
    if not forecast:
        return {}
    points = forecast.get("curve") or [{"column": forecast["outcome"], **forecast}]
    return {f"{p['column']}_{k}": p[k] for p in points for k in ("p10", "p50", "p90")}


def score_file(
    src: Path,
    dst: Path,
    scorer: Scorer,
    log: PredictionLog | None = None,
    chunk_size: int = 1000,
    progress: bool = True,
) -> BatchReport:
    frame = read_table(src, as_text=True)
    check_columns(frame.columns, scorer, src)
    out, report = score_frame(frame, scorer, log, chunk_size, progress)
    write_table(out, dst)
    return report


def check_columns(columns: Sequence[str], scorer: Scorer, src: Path | str) -> None:
    """TableError naming the required columns a file lacks."""
    required = [f.name for f in scorer.schema.fields if f.required]
    if missing := [c for c in required if c not in columns]:
        raise TableError(
            f"{src}: no column {', '.join(map(repr, missing))} (model {scorer.version} of spec "
            f"{scorer.spec.name!r} needs {', '.join(required)})"
        )
