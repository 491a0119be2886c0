"""Scoring concepts with a loaded hit model, without pandas on the per-request path.

One ``Scorer`` wraps one model version; the service swaps it as a whole (``service.scorer =
Scorer(...)``), so a request sees one model from start to end. Inputs are concept dicts as
``Concept.model_dump(mode="json")`` gives them (dates as ISO strings).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from features.columns import from_records
from features.schema import ConceptSchema, Lever
from models.hit_model import HitModel
from scoring.curve import forecast_parts
from scoring.funnel import FunnelCards
from scoring.store import model_name_for

TOP_DRIVERS = 5
TOP_PHRASES = 3  # per text field and direction
# band thresholds as percentiles of the category's past launches (serving.responses documents them)
GO_PERCENTILE, STOP_PERCENTILE = 80.0, 40.0


class BadRequest(ValueError):
    """A request that is valid JSON and schema but cannot be answered; the message names why."""


class Scorer:
    def __init__(self, model: HitModel, version: str) -> None:
        self.model = model
        self.version = version
        self.spec = spec = model.spec
        self.model_name = model_name_for(spec.name)  # the registered model the version is of
        self.schema: ConceptSchema = model.concept_schema
        self.pre_test_columns = spec.pre_test_columns()
        sources = model.feature_sources  # in the matrix's column order
        self.fields = list(dict.fromkeys(sources.values()))
        # feature -> field folding matrix: contributions @ fold = per-field contributions
        self.fold = np.zeros((len(sources), len(self.fields)))
        for i, source in enumerate(sources.values()):
            self.fold[i, self.fields.index(source)] = 1.0
        self.norms = _prepare_norms(model.norms)
        self.funnel_cards = FunnelCards.of(model)
        self.text = model.features.text_features  # text column -> its score's matrix column
        self.text_columns = list(self.text)

    @property
    def has_forecast(self) -> bool:
        """True if the model carries a volume forecast (its spec has an outcome column)."""
        return self.model.forecast is not None

    # ---- building blocks ----------------------------------------------------------------------
    def columns(self, concepts: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
        return from_records(concepts, self.spec)

    def probability(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        """Calibrated P(hit) per row."""
        return self.model.predict_proba(cols)

    def tested(self, concepts: Sequence[dict[str, Any]]) -> list[int]:
        """Positions of the concepts that ran a small-sample test (and have a pre-test model)."""
        if not self.model.has_pre_test:
            return []
        cols = self.pre_test_columns
        return [i for i, c in enumerate(concepts) if any((c.get(k) or 0) > 0 for k in cols)]

    def with_untested(self, concepts: Sequence[dict[str, Any]], tested: list[int]) -> list[dict]:
        """The concepts, then the tested ones again with their test masked (as if not run):
        one feature matrix holds both, so the builder's per-call cost is paid once."""
        untested = dict.fromkeys(self.pre_test_columns, 0)
        return [*concepts, *({**concepts[i], **untested} for i in tested)]

    def pre_test_probability(
        self, post: np.ndarray, tested: list[int], x_masked: np.ndarray
    ) -> np.ndarray:
        """P(hit) as if untested; identical to ``post`` for concepts that sent no test."""
        out = post.copy()
        if tested:
            out[tested] = self.model.pre_test_probability(x_masked)
        return out

    def norms_for(self, concepts: Sequence[dict[str, Any]], proba: np.ndarray) -> list[dict]:
        """Percentile, band and the category norm per concept (None fields without norms)."""
        if self.norms is None:
            return [{"category_percentile": None, "band": None, "category_norms": None}] * len(
                proba
            )
        by, table = self.norms
        out = []
        for c, p in zip(concepts, proba.tolist(), strict=True):
            key = str(c.get(by, "*")) if by else "*"
            norm = table.get(key) or table["*"]
            q = norm["q"]  # sorted: the share of past launches below p, ties counted half
            pct = 50.0 * (bisect.bisect_left(q, p) + bisect.bisect_right(q, p)) / len(q)
            band = "go" if p >= norm["go_at"] else "stop" if p < norm["stop_below"] else "refine"
            out.append(
                {
                    "category_percentile": round(float(pct), 1),
                    "band": band,
                    "category_norms": {"category": key} | norm["public"],
                }
            )
        return out

    # ---- endpoints ----------------------------------------------------------------------------
    def score(
        self, concepts: Sequence[dict[str, Any]], request_id: str = "", explain: bool = True
    ) -> list[dict[str, Any]]:
        """Everything /score answers, one dict per concept (``drivers`` None unless
        ``explain``: TreeSHAP is most of the cost of a score)."""
        if not concepts:  # a request whose every concept was invalid
            return []
        n, tested = len(concepts), self.tested(concepts)
        cols = self.columns(self.with_untested(concepts, tested))
        both = self.model.matrix(cols)
        x, x_masked = both[:n], both[n:]
        if explain:
            # contributions sum (with the base value) to the raw log-odds: one tree walk, not two
            contrib, base, raw = self.model.explain(x)
            drivers = self.drivers(contrib @ self.fold, base, raw)
        else:
            raw = self.model.log_odds(x)
            drivers = [None] * len(concepts)
        post = self.model.calibrated(raw)
        pre = self.pre_test_probability(post, tested, x_masked)
        warnings = self.model.warnings(cols)[:n]  # the masked twins add nothing
        norms = self.norms_for(concepts, post)
        out = [
            {
                "request_id": request_id,
                "concept_id": c[self.schema.id_field],
                "hit_probability": float(post[i]),
                "pre_test_probability": float(pre[i]),
                **norms[i],
                "drivers": drivers[i],
                "warnings": warnings[i],
                "model_version": self.version,
            }
            for i, c in enumerate(concepts)
        ]
        # the concept's own words (a spec with text, when explaining): the phrases of each text
        # field that push the answer up and down; null otherwise
        for i, (answer, c) in enumerate(zip(out, concepts, strict=True)):
            answer["phrases"] = (
                {col: self.phrases(col, c.get(col), x[i, j]) for col, j in self.text.items()}
                if explain and self.text
                else None
            )
        return out

    def phrases(self, column: str, text: Any, text_score: float) -> dict[str, Any]:
        """The phrases of one text that raise and lower its text score most (``features.text``:
        terms in log-odds that sum, with the text model's intercept, to ``text_score``)."""
        terms = self.model.features.text_models[column].phrases(text)
        up = sorted((t for t in terms if t[1] > 0), key=lambda t: -t[1])[:TOP_PHRASES]
        down = sorted((t for t in terms if t[1] < 0), key=lambda t: t[1])[:TOP_PHRASES]
        return {
            "text_score": float(text_score),
            "up": [{"phrase": w, "log_odds": v} for w, v in up],
            "down": [{"phrase": w, "log_odds": v} for w, v in down],
        }

    def wordings(
        self,
        concept: dict[str, Any],
        field: str,
        alternatives: Sequence[str],
        request_id: str = "",
    ) -> dict[str, Any]:
        """The concept scored with each alternative text of one text field (everything else
        held fixed), best first, each with its change against the concept's own text and its
        phrases."""
        if field not in self.text:
            have = ", ".join(self.text) or "none"
            raise BadRequest(f"field: not a text field of this model (its text fields: {have})")
        rows = [{**concept, field: text} for text in alternatives]
        for k, row in enumerate(rows):
            try:
                self.schema.model.model_validate(row)
            except ValidationError as exc:
                raise BadRequest(f"alternatives.{k}: {_first_error(exc)}") from exc
        x = self.model.matrix(self.columns([*rows, concept]))
        *proba, own_p = self.model.probability(x).tolist()
        j = self.text[field]
        own_text = concept.get(field)

        def wording(text: Any, i: int, p: float) -> dict[str, Any]:
            return {"text": text, "hit_probability": p, **self.phrases(field, text, x[i, j])}

        ranked = sorted(range(len(rows)), key=lambda i: -proba[i])
        return {
            "request_id": request_id,
            "concept_id": concept[self.schema.id_field],
            "field": field,
            "current": wording(own_text, len(rows), own_p),
            "alternatives": [
                {
                    "rank": r,
                    **wording(alternatives[i], i, proba[i]),
                    "change_vs_current": proba[i] - own_p,
                }
                for r, i in enumerate(ranked, start=1)
            ],
            "model_version": self.version,
        }

    def drivers(
        self, by_field: np.ndarray, base: np.ndarray, raw: np.ndarray
    ) -> list[dict[str, Any] | None]:
        """Top fields by |log-odds contribution|, the rest summed, base and total log-odds."""
        out: list[dict[str, Any] | None] = []
        fields = range(len(self.fields))
        for row, b, r in zip(by_field.tolist(), base.tolist(), raw.tolist(), strict=True):
            top = sorted(fields, key=lambda j: -abs(row[j]))[:TOP_DRIVERS]
            out.append(
                {
                    "unit": "log-odds",
                    "base_value": b,
                    "model_log_odds": r,
                    "top": [{"field": self.fields[j], "log_odds": row[j]} for j in top],
                    "other_fields": sum(row) - sum(row[j] for j in top),
                }
            )
        return out

    def target(self, concept: dict[str, Any], request_id: str = "") -> dict[str, Any]:
        """The concept scored for every value of the spec's segment column, best first."""
        column, segments = self.spec.segment_column, self.schema.segments
        if column is None:
            raise BadRequest(
                f"model version {self.version} has no segments to compare: its dataset spec "
                f"{self.spec.name!r} declares no segment_column"
            )
        rows = [{**concept, column: s} for s in segments]
        proba = self.probability(self.columns(rows))
        own = concept[column]
        own_p = float(proba[segments.index(own)])
        ranked = sorted(zip(segments, proba, strict=True), key=lambda sp: -sp[1])
        return {
            "request_id": request_id,
            "concept_id": concept[self.schema.id_field],
            "segment_field": column,
            "own_segment": own,
            "own_probability": own_p,
            "segments": [
                {
                    "rank": r,
                    "segment": s,
                    "hit_probability": float(p),
                    "change_vs_own": float(p) - own_p,
                    "own": s == own,
                }
                for r, (s, p) in enumerate(ranked, start=1)
            ],
            "model_version": self.version,
        }

    def whatif(
        self,
        concept: dict[str, Any],
        lever: str,
        grid: Sequence[float | dt.date | str] | None = None,
        request_id: str = "",
    ) -> dict[str, Any]:
        """P(hit) along a grid of one lever, everything else held fixed."""
        sweep = self.schema.levers.get(lever)
        if sweep is None:
            raise BadRequest(f"lever: {lever!r} is not one of {', '.join(self.schema.levers)}")
        if concept.get(lever) is None:
            raise BadRequest(f"concept.{lever}: the lever needs the concept's own value")
        current = _lever_value(concept, sweep)
        asked = _parse_grid(sweep, grid) if grid else default_grid(current, sweep)
        values = sorted(set(asked), key=_order)
        note = None
        if sweep.kind == "sample_size":
            rows, note = self._sample_size_rows(concept, lever, values)
        else:
            rows = [{**concept, lever: _encode(v)} for v in values]
        for v, row in zip(values, rows, strict=True):
            try:
                self.schema.model.model_validate(row)
            except ValidationError as exc:  # name the point by its place in the caller's grid
                where = f"grid.{asked.index(v)}" if grid else "grid"
                raise BadRequest(f"{where}: {lever}={v}: {_first_error(exc)}") from exc
        # the concept itself rides along in the same call
        *proba, own_p = self.probability(self.columns([*rows, concept])).tolist()
        return {
            "request_id": request_id,
            "concept_id": concept[self.schema.id_field],
            "lever": lever,
            "unit": sweep.unit,
            "current_value": _stated(current),
            "current_probability": own_p,
            "points": [
                {"value": _stated(v), "hit_probability": float(p), "current": v == current}
                for v, p in zip(values, proba, strict=True)
            ],
            "note": note,
            "model_version": self.version,
        }

    def forecast(
        self, concepts: Sequence[dict[str, Any]], request_id: str = ""
    ) -> list[dict[str, Any]]:
        """First-90-day outcome quantiles; BadRequest if the model has no forecast."""
        fc = self.model.forecast
        if fc is None:
            raise BadRequest(
                f"model version {self.version} has no volume forecast: its dataset spec "
                "declares no outcome_column"
            )
        if not concepts:
            return []
        x = self.model.matrix(self.columns(concepts))
        q, curves = forecast_parts(fc, x, concepts, self.spec)  # curves: outcomes over time
        unit = "CNY" if "gmv" in fc.outcome.lower() else "units of the training outcome"
        return [
            {
                "request_id": request_id,
                "concept_id": c[self.schema.id_field],
                "outcome": fc.outcome,
                "unit": unit,
                "p10": round(float(q["p10"][i]), 2),
                "p50": round(float(q["p50"][i]), 2),
                "p90": round(float(q["p90"][i]), 2),
                "interval_level": fc.level,
                **curves[i],
                "model_version": self.version,
            }
            for i, c in enumerate(concepts)
        ]

    def funnel(
        self, concepts: Sequence[dict[str, Any]], request_id: str = ""
    ) -> list[dict[str, Any]]:
        """The funnel card per concept (``scoring.funnel``); BadRequest without a funnel."""
        if self.funnel_cards is None:
            raise BadRequest(
                f"model version {self.version} has no funnel card: its dataset spec declares "
                "no funnel (the order of its count pairs)"
            )
        cards = self.funnel_cards.cards(concepts, self.columns(concepts))
        return [
            {
                "request_id": request_id,
                "concept_id": c[self.schema.id_field],
                **card,
                "model_version": self.version,
            }
            for c, card in zip(concepts, cards, strict=True)
        ]

    # ---- what-if helpers ----------------------------------------------------------------------
    def _sample_size_rows(
        self, concept: dict[str, Any], lever: str, sizes: list[float]
    ) -> tuple[list[dict[str, Any]], str]:
        """Scale the small-sample test to each size, keeping its observed rates (or, untested,
        the training prior's expected rates for the concept's group)."""
        pairs = [p for p in self.spec.count_pairs if p.pre_test and p.successes]
        rates: dict[str, float] = {}
        used_prior = False
        for p in pairs:
            trials, succ = float(concept[p.trials]), float(concept[p.successes])  # type: ignore[index]
            if trials > 0:
                rates[p.successes] = succ / trials  # type: ignore[index]
            else:
                rates[p.successes] = self.model.pair_prior_mean(p.name, concept)  # type: ignore[index]
                used_prior = True
        rows = []
        for size in sizes:
            row = {**concept, lever: int(size)}
            for p in pairs:  # spec order: sent -> tried -> positive -> repurchase
                row[p.successes] = int(round(row[p.trials] * rates[p.successes]))  # type: ignore[index]
            rows.append(row)
        note = "test counts scaled with the sample size at the concept's observed rates"
        if used_prior:
            note = (
                "the concept has no test yet: counts at the rates an average test of its "
                "category and segment showed in training"
            )
        return rows, note


def _days_after(day: dt.date, days: int) -> dt.date | None:
    """``day`` plus ``days``; None past the calendar's edge (years 1 to 9999)."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return None


def default_grid(current: float | dt.date, lever: Lever) -> list[float | dt.date]:
    """A sensible sweep around the concept's own value (which is always included), inside the
    lever's bounds."""
    v = current
    if lever.kind in ("date", "datetime"):  # a datetime keeps its time of day
        return [d for k in range(-4, 23) if (d := _days_after(v, 14 * k)) is not None]  # type: ignore[arg-type]
    if lever.kind == "sample_size":
        return sorted({0, 50, 100, 150, 200, 300, 400, 500, 750, 1000, int(v)})  # type: ignore[call-overload]
    if lever.kind == "year":
        grid: list[float] = [int(v) + k for k in range(-5, 6)]  # type: ignore[call-overload]
    elif lever.kind == "count":
        hi = max(2 * int(v), 20)  # type: ignore[call-overload]
        grid = sorted({int(x) for x in np.linspace(0, hi, 16)} | {int(v)})  # type: ignore[call-overload]
    elif float(v) > 0:  # type: ignore[arg-type]
        grid = [float(f"{x:.3g}") for x in float(v) * np.geomspace(0.5, 2.0, 15)]  # type: ignore[arg-type]
    else:  # zero or below: sweep what training saw
        lo, hi = lever.seen or (0.0, 1.0)
        grid = [float(f"{x:.3g}") for x in np.linspace(lo, hi, 15)]
    return [x for x in grid if _inside(x, lever.bounds)] + [v]


def _inside(x: float, bounds: dict[str, float]) -> bool:
    return (
        x >= bounds.get("ge", -np.inf)
        and x > bounds.get("gt", -np.inf)
        and x <= bounds.get("le", np.inf)
        and x < bounds.get("lt", np.inf)
    )


def _lever_value(concept: dict[str, Any], lever: Lever) -> float | dt.date:
    v = concept[lever.name]
    if lever.kind == "datetime":
        return v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))
    if lever.kind == "date":
        return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))
    return float(v) if lever.kind == "number" else int(v)


def _parse_grid(lever: Lever, grid: Sequence[float | dt.date | str]) -> list[float | dt.date]:
    out: list[float | dt.date] = []
    for k, g in enumerate(grid):
        try:
            if lever.kind == "datetime":
                out.append(g if isinstance(g, dt.datetime) else dt.datetime.fromisoformat(str(g)))
            elif lever.kind == "date":
                out.append(g if isinstance(g, dt.date) else dt.date.fromisoformat(str(g)))
            elif isinstance(g, dt.date | str):
                raise TypeError("expected a number")
            elif lever.kind in ("count", "year", "sample_size"):
                if float(g) != int(g):
                    raise ValueError("expected a whole number")
                out.append(int(g))
            else:
                out.append(float(g))
        except (TypeError, ValueError) as exc:
            # the reason, never the value sent (fromisoformat's message quotes it back)
            reason = "expected an ISO date (YYYY-MM-DD)" if lever.kind == "date" else exc
            raise BadRequest(f"grid.{k}: {lever.name}: {reason}") from exc
    return out


def _order(value: float | dt.date) -> Any:
    """A grid value's place: a timestamp by its wall clock (one with an offset and one
    without cannot be compared otherwise)."""
    return value.replace(tzinfo=None) if isinstance(value, dt.datetime) else value


def _encode(value: float | dt.date) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _stated(value: float | dt.date) -> str | float:
    """A lever value as the answer states it: ISO date or float (the declared type)."""
    return value.isoformat() if isinstance(value, dt.date) else float(value)


def _first_error(exc: ValidationError) -> str:
    e = exc.errors()[0]
    return f"{'.'.join(map(str, e['loc'])) or 'concept'}: {e['msg']}"


def _prepare_norms(norms: dict[str, Any] | None) -> tuple[str | None, dict[str, dict]] | None:
    """Stored quantiles -> per-category lookup with the band thresholds precomputed."""
    if not norms or "*" not in norms.get("quantiles", {}):
        return None
    table = {}
    for key, qs in norms["quantiles"].items():
        q = np.asarray(qs, dtype=float)
        grid = np.linspace(0.0, 100.0, len(q))
        go_at = float(np.interp(GO_PERCENTILE, grid, q))
        stop_below = float(np.interp(STOP_PERCENTILE, grid, q))
        table[key] = {
            "q": q.tolist(),
            "go_at": go_at,
            "stop_below": stop_below,
            "public": {
                "past_launches": norms["n"][key],
                "hit_rate": norms["hit_rate"][key],
                "go_at": go_at,
                "stop_below": stop_below,
            },
        }
    return norms["by"], table
