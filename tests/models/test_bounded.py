"""Bounded answers: every part of the model (booster, linear part, pre-test twins, calibration,
forecast) answers an input far outside the training range exactly as it answers the range's
edge, with the warning kept.

The sweep runs at the Scorer level (no request schema: it would refuse some of these values by
its bounds) on the simulated models (the champion, and a blend whose linear part surely
counts), the video games champion and a quick Product Hunt blend, one concept at a time (the
service's path) and all at once (the batch path).

The edges:

* a number input (numeric, count-pair and relative columns): its training range's low and high
  (``FeatureBuilder.numeric_ranges``), against -1e12, -1e308 and 1e12, 1e308;
* the launch date: its month and day, and festival distances, are cyclic (a season), so the far
  date keeps the month and day of the example's date, and its edge does too. The trending
  features (entity track records, their recent windows and ages, the date as a number) run
  until the horizon, DATE_HORIZON_DAYS after the latest training launch, where the date's
  warning starts, and stop there (the track records hold every training outcome by then: the
  lag and windows are shorter). Ages are why the edge is not the latest launch + the lag: they
  grow with the date, and stopping them there would freeze them for every concept launched
  after training. So the upper edge of year 9999 is the first date on or after the horizon
  with the same month and day; the lower edge of year 1 the last one on or before the first
  training launch (before it no track record has begun, and the date as a number stops there).
  One more condition makes the cyclic features equal exactly: the days to a festival count a
  29 February when one lies in between, so the edge's year, and the year after it, must be
  leap years just when the far date's are (9999 is not, 10000 is; 1 and 2 are not). A year
  spec (the date is 1 January of it, no month) takes the same rule: it does no harm there.

A second sweep, at the HitModel level, sets each numeric feature of the matrix (derived ones
too: a relative price, a track record's age) far past the range the model was fitted on: the
answer is the one at that feature's edge, so no part extrapolates even where the inputs are in
range and only their combination is not.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from features.build import DATE_HORIZON_DAYS
from features.spec import load_spec
from scoring.scorer import Scorer
from training.dataset import load_launches
from training.train import train_model

FAR_NUMBERS = {"low": (-1e12, -1e308), "high": (1e12, 1e308)}
FAR_YEARS = {"low": 1, "high": 9999}


@pytest.fixture(scope="module")
def product_hunt_scorer(product_hunt_spec: Path, fast_config: Any) -> Scorer:
    """Product Hunt's launches with the tests' quick config, the blend's weight fixed at 0.5 so
    that its linear part counts (a few seconds)."""
    spec = load_spec(product_hunt_spec)
    frame = load_launches(spec, spec_dir=product_hunt_spec.parent).frame
    blend = fast_config.blend.model_copy(update={"w_values": [0.5]})
    result = train_model(frame, spec, config=fast_config.model_copy(update={"blend": blend}))
    return Scorer(result.model, "product-hunt")


@pytest.fixture(
    scope="module", params=["simulated", "simulated blend", "video games", "product hunt"]
)
def bounded_scorer(request: pytest.FixtureRequest) -> Scorer:
    if request.param == "simulated":
        return request.getfixturevalue("scorer")
    if request.param == "simulated blend":
        scorer = request.getfixturevalue("blended_scorer")
        assert scorer.model.is_blend  # the linear part counts: its clipping is swept
        return scorer
    if request.param == "product hunt":
        scorer = request.getfixturevalue("product_hunt_scorer")
        assert scorer.model.is_blend
        return scorer
    vg = request.getfixturevalue("video_games_champion")
    return Scorer(vg["train_result"].model, vg["version"])


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _calendar(year: int) -> tuple[bool, bool]:
    return _leap(year), _leap(year + 1)


def _day(day_number: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day_number)


def date_edges(scorer: Scorer, month: int, day: int) -> dict[str, tuple[dt.date, dt.date]]:
    """{"low" | "high": (the far date, its edge)} (see the module doc)."""
    first, latest = scorer.model.features.date_range  # type: ignore[misc]
    horizon, start = _day(latest + DATE_HORIZON_DAYS), _day(first)
    out = {}
    for side, far_year in FAR_YEARS.items():
        step = 1 if side == "high" else -1
        year = horizon.year if side == "high" else start.year
        while True:
            edge = dt.date(year, month, day)
            beyond = edge >= horizon if side == "high" else edge <= start
            if beyond and _calendar(year) == _calendar(far_year):
                break
            year += step
        out[side] = (dt.date(far_year, month, day), edge)
    return out


def _with(scorer: Scorer, concept: dict, field: str, value: Any) -> dict:
    if field == scorer.spec.date_column:
        value = value.year if scorer.spec.date_is_year else value.isoformat()
    return {**concept, field: value}


def _answers(scorer: Scorer, concepts: list[dict], one_at_a_time: bool) -> list[dict]:
    """What the model answers per concept, warnings and ids aside."""
    if one_at_a_time:
        scored = [scorer.score([c])[0] for c in concepts]
        forecasts = [scorer.forecast([c])[0] for c in concepts] if scorer.has_forecast else []
    else:
        scored = scorer.score(concepts)
        forecasts = scorer.forecast(concepts) if scorer.has_forecast else []
    keep = ("hit_probability", "pre_test_probability", "category_percentile", "band", "drivers")
    out = [{k: s[k] for k in keep} for s in scored]
    for o, f in zip(out, forecasts, strict=False):
        o |= {k: f[k] for k in ("p10", "p50", "p90")}
    return out


def _sweep(scorer: Scorer) -> tuple[list[str], list[dict], list[dict]]:
    """(what each case is, its far concept, its edge concept)."""
    concept = dict(scorer.schema.example)
    names, far, edge = [], [], []
    date = scorer.spec.date_column
    for field, (lo, hi) in scorer.model.features.numeric_ranges.items():
        if field == date:  # a year as a number: swept as the date
            continue
        for side, values in FAR_NUMBERS.items():
            for v in values:
                names.append(f"{field}={v:g}")
                far.append(_with(scorer, concept, field, v))
                edge.append(_with(scorer, concept, field, hi if side == "high" else lo))
    when = (
        dt.date(1970, 1, 1)
        if scorer.spec.date_is_year
        else dt.datetime.fromisoformat(str(concept[date]))  # a date, or a time with its offset
    )
    month, day = (1, 1) if scorer.spec.date_is_year else (when.month, when.day)
    for far_date, edge_date in date_edges(scorer, month, day).values():
        names.append(f"{date}={far_date} (edge {edge_date})")
        far.append(_with(scorer, concept, date, far_date))
        edge.append(_with(scorer, concept, date, edge_date))
    return names, far, edge


@pytest.mark.parametrize("one_at_a_time", [True, False], ids=["one concept", "a batch"])
def test_far_outside_the_training_range_answers_as_the_edge(
    bounded_scorer: Scorer, one_at_a_time: bool
) -> None:
    scorer = bounded_scorer
    names, far, edge = _sweep(scorer)
    numbers = [f for f in scorer.model.features.numeric_ranges if f != scorer.spec.date_column]
    assert len(names) == 4 * len(numbers) + 2  # Product Hunt has no number input: the date
    got, expected = _answers(scorer, far, one_at_a_time), _answers(scorer, edge, one_at_a_time)
    x_far = scorer.model.matrix(scorer.columns(far))
    x_edge = scorer.model.matrix(scorer.columns(edge))
    feature_names = scorer.model.features.feature_names
    wrong = []
    for i, name in enumerate(names):
        if got[i] != expected[i]:
            differ = [f for f, a, b in zip(feature_names, x_far[i], x_edge[i], strict=True)
                      if not (a == b or (np.isnan(a) and np.isnan(b)))]  # fmt: skip
            wrong.append(
                f"{name}: {got[i]['hit_probability']} vs the edge's "
                f"{expected[i]['hit_probability']} (features differing: {differ})"
            )
    assert not wrong, "\n".join(wrong)
    # the answer stays off 0 and 1, and the warning stays
    assert all(0.0 < g["hit_probability"] < 1.0 for g in got)
    warned = scorer.model.warnings(scorer.columns(far))
    for name, notes, case in zip(names, warned, far, strict=True):
        field = name.split("=")[0]
        assert any(n.startswith(f"{field}:") for n in notes), (name, notes, case[field])


def test_every_feature_past_its_training_range_answers_as_its_edge(
    bounded_scorer: Scorer,
) -> None:
    """HitModel level: the example's feature row with one numeric feature at +-1e12 gets the
    log-odds, drivers and P(hit) (pre-test too) of that feature at its training edge, the
    range its linear part recorded when fitted (its trees were fitted on the same rows)."""
    model = bounded_scorer.model
    concept = bounded_scorer.schema.example
    row = model.matrix(bounded_scorer.columns([concept]))
    masked = model.matrix(bounded_scorer.columns([{**concept, **dict.fromkeys(
        bounded_scorer.pre_test_columns, 0)}]))  # fmt: skip
    categorical = set(model.features.categorical_features)
    parts = [("", model.linear, row, model.log_odds, model.explain)]
    if model.has_pre_test:
        pre = model.pre_test_linear
        parts.append(("pre-test ", pre, masked, model.pre_test_probability, None))
    wrong, swept = [], 0
    for label, linear, x, answer, explain in parts:
        if linear is None:  # LightGBM alone: the trees stop at the edge by themselves
            continue
        for j, (name, enc) in enumerate(zip(linear.feature_names, linear.encoders, strict=True)):
            if name in categorical:
                continue
            for far, edge in ((-1e12, enc["lo"]), (1e12, enc["hi"])):
                x_far, x_edge = x.copy(), x.copy()
                x_far[0, j], x_edge[0, j] = far, edge
                swept += 1
                if answer(x_far)[0] != answer(x_edge)[0]:
                    wrong.append(f"{label}{name}={far:g}: {answer(x_far)} vs {answer(x_edge)}")
                elif explain is not None:
                    for a, b in zip(explain(x_far), explain(x_edge), strict=True):
                        if not np.array_equal(a, b):
                            wrong.append(f"{label}{name}={far:g}: drivers differ")
    assert not wrong, "\n".join(wrong)
    assert swept or not model.is_blend
