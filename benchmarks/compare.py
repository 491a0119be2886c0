"""``compass bench compare``: the interval and the pairwise probabilities of /compare against the
simulator's exact Bayes probability, on out-of-time concepts.

Trains the default recipe (``training/config.yaml``, its ``interval`` section included) on a
simulated history, then on the held-out latest launches measures:

* coverage: the share of concepts whose Bayes probability lies inside the interval (the target
  is its level, 80 %), and the interval's median width, overall and by decile of the model's
  probability; for each part of the interval alone and added up, unscaled (what was tried),
  and the scale that would have covered 80 % on this history (for reference: the served scale
  was fitted on other seeds, see :func:`fit_scales`);
* by group, concepts unlike the training launches against familiar ones: a category and
  segment pair rare in training, a price index outside the training's central 95 %, a test
  smaller than any in training (the tested concepts' counts thinned to 50 samples, Bayes
  recomputed), the test concepts at four times their price (Bayes recomputed); and, reported
  beside them, no test or a small one against a test of 300+ (kinds training saw plenty of);
  per group also the estimate's median error against Bayes (what the width should follow);
* the tested concepts' tests thinned to 10, 25, 50 and 75 samples, size by size;
* pairs: test concepts in random lists of ``list_size``, every pair within a list, each
  oriented the model's favourite first: P(it truly beats the other) against whether its Bayes
  probability is higher, by decile of that probability (ECE);
* cost: the training seconds of the interval's stage, and the in-process microseconds of a
  10-concept comparison beside a 10-concept score.

Every number is measured in the run.

:func:`fit_scales` (``compass bench interval-scales``) fits the config's ``interval.scale`` and
``interval.pair_scale`` the same way on other seeds: the smallest scale whose intervals hold
the Bayes probability for the level's share of concepts, and the pair scale of least log loss
of "A's Bayes probability is higher" (pooled over the seeds).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logit, ndtr, ndtri

from benchmarks.timing import median_us
from features.simulator import bayes_hit_probability
from features.spec import load_spec
from models.hit_model import HitModel
from models.uncertainty import Assessment
from scoring.batch import validate
from scoring.compare import compare
from scoring.scorer import Scorer
from training import SPECS
from training.dataset import simulated_frame, to_columns
from training.stages import Stages
from training.train import TrainingConfig, load_config, train_model

TARGET_COVERAGE = (0.75, 0.85)
TARGET_PAIR_ECE = 0.05
SCALE_GRID = np.round(np.arange(0.5, 3.001, 0.01), 2)  # scales tried when fitting
THIN_TEST = 50  # samples of the "test smaller than any in training" group
THIN_SIZES = (10, 25, 50, 75)  # the same, size by size (reported)


def run(
    sim_rows: int = 20_000,
    seed: int = 7,
    list_size: int = 10,
    config: TrainingConfig | None = None,
    repeats: int = 300,
) -> dict[str, Any]:
    config = config or load_config()
    started = time.perf_counter()
    spec, stages = load_spec(SPECS / "simulated.yaml"), Stages()
    model, train, test = _trained(sim_rows, seed, spec, config, stages)
    out: dict[str, Any] = {
        "command": "compass bench compare",
        "setup": {
            "sim_rows": sim_rows,
            "seed": seed,
            "train": len(train),
            "test": len(test),
            "test_period": [
                str(test["launch_day"].min().date()),
                str(test["launch_day"].max().date()),
            ],
            "interval": model.spread.report,
            "level": model.spread.level,
        },
        "machine": {"python": platform.python_version(), "cpus": len(os.sched_getaffinity(0))},
    }
    bayes = test["p_hit_bayes"].to_numpy(float)
    parts = _parts(model, to_columns(test, spec))
    out["coverage"] = coverage_table(model, parts, bayes)
    out["groups"] = groups(model, spec, train, test, parts, bayes, seed)
    out["test_sizes"] = by_test_size(model, spec, test, seed)
    out["pairs"] = pairs(model, parts, bayes, list_size, seed)
    out["cost"] = {
        "train_s": round(sum(stages.seconds.values()), 1),
        "interval_train_s": round(stages.seconds.get("interval", 0.0), 2),
        "interval_train_cpu_s": round(stages.cpu_seconds.get("interval", 0.0), 2),
        **serving_cost(model, test, spec, repeats),
    }
    out["targets"] = {
        "coverage_in_75_85": TARGET_COVERAGE[0]
        <= out["coverage"]["served"]["coverage"]
        <= TARGET_COVERAGE[1],
        # in log-odds: a probability interval is narrower near 0 for the same uncertainty
        "wider_when_unlike_training": all(
            g["unlike"]["median_log_odds_width"] > g["familiar"]["median_log_odds_width"]
            for g in out["groups"].values()
            if g["unlike_training"]
        ),
        "pair_ece_le_0.05": out["pairs"]["ece"] <= TARGET_PAIR_ECE,
    }
    out["width_follows_error"] = width_follows_error(out["groups"])
    out["seconds_total"] = round(time.perf_counter() - started, 1)
    return out


def width_follows_error(groups: dict[str, dict[str, Any]]) -> dict[str, bool | None]:
    """Per group unlike training (reported beside the targets): whether its interval is wider
    than the familiar concepts' where its estimate is further from Bayes, and not wider where
    it is closer (None for a group with no concept on a side)."""
    out: dict[str, bool | None] = {}
    for name, g in groups.items():
        if not g["unlike_training"]:
            continue
        u, f = g["unlike"], g["familiar"]
        if not (u["n"] and f["n"]):
            out[name] = None
            continue
        wider = u["median_log_odds_width"] > f["median_log_odds_width"]
        out[name] = wider == (u["median_log_odds_error"] > f["median_log_odds_error"])
    return out


def _trained(
    sim_rows: int, seed: int, spec: Any, config: TrainingConfig, stages: Stages
) -> tuple[HitModel, pd.DataFrame, pd.DataFrame]:
    """The default recipe trained on a simulated history: (model, train, out-of-time test)."""
    result = train_model(simulated_frame(sim_rows, seed, spec), spec, config=config, stages=stages)
    if result.model.spread is None:
        raise ValueError("the config's interval has no members: nothing to measure")
    return result.model, result.train, result.test


def _parts(model: HitModel, cols: dict[str, np.ndarray]) -> dict[str, Any]:
    x = model.matrix(cols)
    z = model.log_odds(x)
    sure = model.uncertainty(x, z)
    return {"x": x, "z": z, "sure": sure}


def _with_sides(sure: Assessment, sd_low: np.ndarray, sd_high: np.ndarray) -> Assessment:
    return dataclasses.replace(sure, sd_low=sd_low, sd_high=sd_high)


def _inside(
    model: HitModel, sure: Assessment, bayes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = model.spread.interval(sure, model.calibrated)  # type: ignore[union-attr]
    return (bayes >= lo) & (bayes <= hi), lo, hi


def _covered(model: HitModel, sure: Assessment, bayes: np.ndarray) -> dict:
    inside, lo, hi = _inside(model, sure, bayes)

    def log_odds(p: np.ndarray) -> np.ndarray:
        return logit(np.clip(p, 1e-12, 1 - 1e-12))

    # both on the served probability's log-odds: the interval as served, and what its width
    # should follow, the estimate's distance from Bayes
    error = np.abs(log_odds(model.calibrated(sure.z)) - log_odds(bayes))
    return {
        "coverage": round(float(inside.mean()), 4),
        "median_width": round(float(np.median(hi - lo)), 5),
        "median_log_odds_width": round(float(np.median(log_odds(hi) - log_odds(lo))), 4),
        "median_log_odds_error": round(float(np.median(error)), 4),
        "below": round(float((bayes < lo).mean()), 4),
        "above": round(float((bayes > hi).mean()), 4),
    }


def _rows(sure: Assessment, rows: Any) -> Assessment:
    """The assessment of ``rows`` only."""
    return dataclasses.replace(
        sure,
        **{
            f.name: getattr(sure, f.name)[..., rows]
            if f.name == "members"
            else getattr(sure, f.name)[rows]
            for f in dataclasses.fields(sure)
        },
    )


def _served(model: HitModel, parts: dict[str, Any], bayes: np.ndarray, rows: Any = slice(None)):
    return _covered(model, _rows(parts["sure"], rows), bayes[rows])


def scale_for_level(
    model: HitModel, parts: dict[str, Any], bayes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(scale grid, inside or not per scale and concept) for the served interval's shape."""
    sure, scale = parts["sure"], model.spread.scale  # type: ignore[union-attr]
    low, high = sure.sd_low / scale, sure.sd_high / scale
    inside = [_inside(model, _with_sides(sure, k * low, k * high), bayes)[0] for k in SCALE_GRID]
    return SCALE_GRID, np.array(inside)


def _first_reaching(grid: np.ndarray, coverage: np.ndarray, level: float) -> float | None:
    reach = grid[coverage >= level]
    return float(reach[0]) if len(reach) else None


def coverage_table(model: HitModel, parts: dict[str, Any], bayes: np.ndarray) -> dict[str, Any]:
    """Coverage and median width of the served interval (overall and by decile of P(hit)), of
    each part alone and of their sums unscaled, and the scale that would have covered the
    level on this history (for reference only)."""
    sure, z = parts["sure"], parts["z"]
    spread = model.spread
    member_sd = sure.members.std(axis=0, ddof=1) * spread.member_rescale  # type: ignore[union-attr]
    low, high = spread.evidence.sides(z)  # type: ignore[union-attr]
    tried = {
        "members": (member_sd, member_sd),
        "gap": (np.abs(sure.gap), np.abs(sure.gap)),
        "evidence (binomial se)": (sure.evidence, sure.evidence),
        "evidence (Jeffreys sides)": (low, high),
        "members + gap": (np.hypot(member_sd, sure.gap),) * 2,
        "members + gap + evidence (Jeffreys sides)": (
            np.sqrt(member_sd**2 + sure.gap**2 + low**2),
            np.sqrt(member_sd**2 + sure.gap**2 + high**2),
        ),
    }
    out: dict[str, Any] = {"served": _served(model, parts, bayes)}
    out["served"]["scale"] = spread.scale  # type: ignore[union-attr]
    deciles = np.array_split(np.argsort(z, kind="stable"), 10)
    out["served_by_decile"] = [
        {
            "mean_p": round(float(model.calibrated(z[d]).mean()), 4),
            **_served(model, parts, bayes, d),
        }
        for d in deciles
    ]
    out["parts_alone_and_summed"] = {
        k: _covered(model, _with_sides(sure, lo, hi), bayes) for k, (lo, hi) in tried.items()
    }
    grid, inside = scale_for_level(model, parts, bayes)
    level = spread.level  # type: ignore[union-attr]
    out["scale_for_level_reference_only"] = _first_reaching(grid, inside.mean(axis=1), level)
    return out


def groups(
    model: HitModel,
    spec: Any,
    train: pd.DataFrame,
    test: pd.DataFrame,
    parts: dict[str, Any],
    bayes: np.ndarray,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Median width and coverage of concepts unlike the training launches and of familiar
    ones, per kind of unlikeness; ``unlike_training`` says whether the kind is rare in
    training (the target is judged on those)."""

    def pair(frame: pd.DataFrame) -> pd.Series:
        return frame["category"].astype(str) + "|" + frame["target_segment"].astype(str)

    counts = pair(train).value_counts()
    seen = pair(test).map(counts).fillna(0).to_numpy()
    rare = seen <= np.quantile(seen, 0.1)
    med = train.groupby("category")["price"].median()

    def index(frame: pd.DataFrame) -> np.ndarray:
        return np.log(frame["price"].to_numpy(float) / frame["category"].map(med).to_numpy(float))

    lo, hi = np.quantile(index(train), [0.025, 0.975])
    ti = index(test)
    odd_price = (ti < lo) | (ti > hi)
    sent = test["test_samples_sent"].to_numpy()
    untested_share = float((train["test_samples_sent"] == 0).mean())

    def split(unlike: np.ndarray, familiar: np.ndarray, what: str, rare_kind: bool) -> dict:
        return {
            "what": what,
            "unlike_training": rare_kind,
            "unlike": {"n": int(unlike.sum()), **_served(model, parts, bayes, unlike)},
            "familiar": {"n": int(familiar.sum()), **_served(model, parts, bayes, familiar)},
        }

    def changed(frame: pd.DataFrame, what: str, rows: np.ndarray) -> dict[str, Any]:
        """The concepts ``rows`` as ``frame`` changed them (Bayes recomputed) vs as they are."""
        far = _parts(model, to_columns(frame, spec))
        return {
            "what": what,
            "unlike_training": True,
            "unlike": {"n": len(frame), **_served(model, far, bayes_hit_probability(frame))},
            "familiar": {"n": int(rows.sum()), **_served(model, parts, bayes, rows)},
        }

    smallest = int(train.loc[train["test_samples_sent"] > 0, "test_samples_sent"].min())
    out = {
        "category_segment_pair": split(
            rare, ~rare, "pair among the 10 % of test concepts whose pair training saw least", True
        ),
        "price_index": split(
            odd_price, ~odd_price, "price vs category median outside training's central 95 %", True
        ),
        "test_smaller_than_training": changed(
            thinned_test(test[sent > 0], THIN_TEST, seed),
            f"the tested concepts' tests thinned to {THIN_TEST} samples (training's smallest "
            f"test: {smallest}), Bayes recomputed, vs as they are",
            sent > 0,
        ),
        "price_times_4": changed(
            test.assign(price=test["price"] * 4.0),
            "the test concepts at 4x their price (Bayes recomputed) vs as they are",
            np.ones(len(test), dtype=bool),
        ),
        "no_test": split(
            sent == 0,
            sent >= 300,
            f"no small-sample test vs a test of 300+ (no test: {untested_share:.0%} of training)",
            False,
        ),
        "small_test": split(
            (sent > 0) & (sent <= 150),
            sent >= 300,
            f"a test of {smallest} to 150 vs 300+ (sizes training saw)",
            False,
        ),
    }
    return out


def by_test_size(model: HitModel, spec: Any, test: pd.DataFrame, seed: int) -> dict[str, Any]:
    """The tested concepts with their tests thinned to each of :data:`THIN_SIZES` samples, Bayes
    recomputed: coverage, width and the estimate's error against Bayes, size by size."""
    tested = test[test["test_samples_sent"] > 0]
    out = {}
    for k in THIN_SIZES:
        thin = thinned_test(tested, k, seed)
        parts = _parts(model, to_columns(thin, spec))
        out[str(k)] = _served(model, parts, bayes_hit_probability(thin))
    return out


def thinned_test(frame: pd.DataFrame, samples: int, seed: int) -> pd.DataFrame:
    """``frame``'s tests as if only ``samples`` of the samples sent had gone out: each count
    drawn without replacement from the one before it (trials from those sent, positives from
    the trials, repurchases from the positives), as the simulator's binomial counts thin."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    sent = frame["test_samples_sent"].to_numpy(int)
    previous, kept = sent, np.minimum(sent, samples)
    out["test_samples_sent"] = kept
    for col in ("test_trials", "test_positive", "test_repurchase"):
        counts = frame[col].to_numpy(int)
        drawn = rng.hypergeometric(counts, previous - counts, kept) if len(counts) else counts
        out[col], previous, kept = drawn, counts, drawn
    return out


def pairs(
    model: HitModel, parts: dict[str, Any], bayes: np.ndarray, list_size: int, seed: int
) -> dict[str, Any]:
    """P(the model's favourite truly beats the other) against the Bayes order, for every pair
    within random lists of ``list_size`` test concepts; ECE over equal-count deciles."""
    sure, z = parts["sure"], parts["z"]
    a, b, top = list_pairs(z, list_size, seed)
    q = model.spread.beats(sure, a, b)  # type: ignore[union-attr]
    truth = (bayes[a] > bayes[b]).astype(float)
    out = _ece(q, truth)
    out["log_loss"] = round(_pair_log_loss(q, truth), 4)
    out["scale"] = model.spread.pair_scale  # type: ignore[union-attr]
    out["each_vs_top"] = {k: v for k, v in _ece(q[top], truth[top]).items() if k != "deciles"}
    out["too_close_to_call"] = round(float(np.mean(q < 0.8)), 4)
    out["list_size"] = list_size
    return out


def list_pairs(
    z: np.ndarray, list_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, whether a is its list's top): row indices of every pair within random lists of
    ``list_size`` concepts, the model's favourite (higher log-odds ``z``) first."""
    order = np.random.default_rng(seed).permutation(len(z))
    a_rows, b_rows, vs_top = [], [], []
    for start in range(0, len(order) - list_size + 1, list_size):
        rows = order[start : start + list_size]
        top = rows[np.argmax(z[rows])]
        for i in range(list_size):
            for j in range(i + 1, list_size):
                a, b = rows[i], rows[j]
                if z[a] < z[b]:
                    a, b = b, a
                a_rows.append(a)
                b_rows.append(b)
                vs_top.append(a == top)
    return np.array(a_rows), np.array(b_rows), np.array(vs_top)


def _pair_log_loss(q: np.ndarray, truth: np.ndarray) -> float:
    q = np.clip(q, 1e-12, 1 - 1e-12)
    return float(-np.mean(truth * np.log(q) + (1 - truth) * np.log(1 - q)))


def _ece(q: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    order = np.argsort(q, kind="stable")
    deciles = []
    ece = 0.0
    for chunk in np.array_split(order, 10):
        if not len(chunk):
            continue
        mq, mt = float(q[chunk].mean()), float(truth[chunk].mean())
        ece += len(chunk) / len(q) * abs(mq - mt)
        deciles.append({"n": len(chunk), "mean_q": round(mq, 4), "bayes_frequency": round(mt, 4)})
    return {"pairs": len(q), "ece": round(ece, 4), "deciles": deciles}


def fit_scales(
    seeds: list[int],
    sim_rows: int = 20_000,
    list_size: int = 10,
    config: TrainingConfig | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The config's ``interval.scale`` and ``interval.pair_scale`` fitted on simulated histories
    of ``seeds`` (keep the benchmark's own seed out): the smallest scale whose intervals hold
    the Bayes probability for the level's share of the pooled out-of-time concepts, and the
    pair scale of least pooled log loss of "A's Bayes probability is higher"."""
    config = config or load_config()
    started = time.perf_counter()
    spec = load_spec(SPECS / "simulated.yaml")
    inside, t, truth, per_seed = [], [], [], {}
    for k, seed in enumerate(seeds, start=1):
        say(f"{k}/{len(seeds)} seed {seed}: simulating and training {sim_rows} launches")
        model, _, test = _trained(sim_rows, seed, spec, config, Stages())
        spread = model.spread
        bayes = test["p_hit_bayes"].to_numpy(float)
        parts = _parts(model, to_columns(test, spec))
        grid, hit = scale_for_level(model, parts, bayes)
        inside.append(hit)
        a, b, _ = list_pairs(parts["z"], list_size, seed)
        q = spread.beats(parts["sure"], a, b)  # type: ignore[union-attr]
        # back to the unscaled t-statistic: q = Phi(t / pair_scale)
        t.append(ndtri(q) * spread.pair_scale)  # type: ignore[union-attr]
        truth.append((bayes[a] > bayes[b]).astype(float))
        per_seed[seed] = {
            "test": len(test),
            "scale_for_level": _first_reaching(grid, hit.mean(axis=1), spread.level),  # type: ignore[union-attr]
        }
        say(
            f"    its {len(test)} test concepts alone need a scale of "
            f"{per_seed[seed]['scale_for_level']} ({time.perf_counter() - started:.0f} s so far)"
        )
    level = spread.level  # type: ignore[union-attr]
    coverage = np.concatenate(inside, axis=1).mean(axis=1)
    tt, yy = np.concatenate(t), np.concatenate(truth)
    losses = np.array([_pair_log_loss(ndtr(tt / k), yy) for k in SCALE_GRID])
    scale = _first_reaching(SCALE_GRID, coverage, level)
    at = np.isclose(SCALE_GRID, scale if scale is not None else -1.0)
    for seed, hit in zip(seeds, inside, strict=True):  # each history at the pooled scale
        per_seed[seed]["coverage_at_scale"] = round(float(hit[at].mean()), 4) if at.any() else None
    return {
        "command": "compass bench interval-scales",
        "setup": {"seeds": seeds, "sim_rows": sim_rows, "list_size": list_size, "level": level},
        "scale": scale,
        "coverage_at_scale": None if scale is None else round(float(coverage[at][0]), 4),
        "pair_scale": float(SCALE_GRID[np.argmin(losses)]),
        "pair_log_loss": round(float(losses.min()), 4),
        "per_seed": per_seed,
        "machine": {"python": platform.python_version(), "cpus": len(os.sched_getaffinity(0))},
        "seconds_total": round(time.perf_counter() - started, 1),
    }


def serving_cost(model: HitModel, test: pd.DataFrame, spec: Any, repeats: int) -> dict[str, float]:
    """Median µs in process: a 10-concept comparison (intervals, every pair vs the top, field
    differences) beside a 10-concept score (drivers included)."""
    scorer = Scorer(model, "bench")
    frame = test.head(10).copy()
    frame["launch_date"] = frame["launch_day"].dt.strftime("%Y-%m-%d")
    # validated as `compass score` validates a file's rows (a count stored as 3.0 is 3)
    _, concepts, errors = validate(
        frame[[c for c in scorer.schema.names if c in frame]], scorer.schema
    )
    assert not errors, errors

    score = median_us(lambda: scorer.score(concepts), repeats)
    comp = median_us(lambda: compare(scorer, concepts), repeats)
    return {
        "score10_us": round(score, 1),
        "compare10_us": round(comp, 1),
        "compare10_over_score10": round(comp / score, 2),
    }


def markdown(result: dict[str, Any]) -> str:
    """The benchmark as Markdown tables (docs/benchmarks.md shows them)."""
    s, cov = result["setup"], result["coverage"]
    lines = [
        f"Simulated history of {s['sim_rows']} launches (seed {s['seed']}): {s['train']} train, "
        f"{s['test']} out-of-time test concepts ({s['test_period'][0]} to {s['test_period'][1]}); "
        f"{s['interval']['members']} members, {100 * s['level']:.0f} % intervals.",
        "",
        "| interval | Bayes inside | median width | Bayes below | Bayes above |",
        "|---|---|---|---|---|",
    ]
    rows = {"**served** (all parts, scale " + f"{cov['served']['scale']:g})": cov["served"]}
    rows |= {
        f"{k} alone" if "+" not in k else k: v for k, v in cov["parts_alone_and_summed"].items()
    }
    for name, c in rows.items():
        lines.append(
            f"| {name} | {100 * c['coverage']:.1f} % | {c['median_width']:.4f} | "
            f"{100 * c['below']:.1f} % | {100 * c['above']:.1f} % |"
        )
    ref = cov["scale_for_level_reference_only"]
    lines += [
        "",
        f"The parts' rows are unscaled; the served interval multiplies them by "
        f"{cov['served']['scale']:g} (`interval.scale`, fitted on other seeds). The scale that "
        f"would have covered {100 * s['level']:.0f} % on this history (reference only, needs "
        f"Bayes): {ref if ref is not None else 'beyond 3'}.",
        "",
        "| decile of P(hit) | mean P(hit) | Bayes inside | median width | below | above |",
        "|---|---|---|---|---|---|",
    ]
    for k, d in enumerate(cov["served_by_decile"], start=1):
        lines.append(
            f"| {k} | {d['mean_p']:.4f} | {100 * d['coverage']:.1f} % | {d['median_width']:.4f} "
            f"| {100 * d['below']:.1f} % | {100 * d['above']:.1f} % |"
        )
    lines += [
        "",
        "Median widths and errors are in the served probability's log-odds (the width: "
        "logit(high) - logit(low); the error: the estimate's distance from Bayes, what the "
        "width should follow), and the width also in probability.",
        "",
        "| group | unlike training? | unlike: n, width, error, width in P, inside | familiar: "
        "n, width, error, width in P, inside |",
        "|---|---|---|---|",
    ]

    def cells(c: dict[str, Any]) -> str:
        return (
            f"{c['median_log_odds_width']:.3f}, {c['median_log_odds_error']:.3f}, "
            f"{c['median_width']:.4f}, {100 * c['coverage']:.1f} %"
        )

    for name, g in result["groups"].items():
        u, f = g["unlike"], g["familiar"]
        lines.append(
            f"| {name} ({g['what']}) | {'yes' if g['unlike_training'] else 'no'} | {u['n']}, "
            f"{cells(u)} | {f['n']}, {cells(f)} |"
        )
    as_is = result["groups"]["test_smaller_than_training"]["familiar"]
    lines += [
        "",
        "The tested concepts with their tests thinned, size by size (Bayes recomputed):",
        "",
        "| samples per test | width | error | width in P | Bayes inside |",
        "|---|---|---|---|---|",
    ]
    for k, c in [*result["test_sizes"].items(), ("as they are", as_is)]:
        lines.append(f"| {k} | {cells(c).replace(', ', ' | ')} |")
    p = result["pairs"]
    lines += [
        "",
        f"Pairs: {p['pairs']} (every pair in lists of {p['list_size']}), pair scale "
        f"{p['scale']:g}, ECE {p['ece']:.4f}, log loss {p['log_loss']:.4f}; "
        f"each vs the top: {p['each_vs_top']['pairs']} pairs, ECE {p['each_vs_top']['ece']:.4f}; "
        f"too close to call: {100 * p['too_close_to_call']:.1f} %.",
        "",
        "| decile | pairs | mean P(A truly beats B) | Bayes says A > B |",
        "|---|---|---|---|",
    ]
    for k, d in enumerate(p["deciles"], start=1):
        lines.append(f"| {k} | {d['n']} | {d['mean_q']:.3f} | {d['bayes_frequency']:.3f} |")
    c, follows = result["cost"], result["width_follows_error"]
    lines += [
        "",
        f"Cost: training {c['train_s']:.1f} s in all, of which the interval "
        f"{c['interval_train_s']:.1f} s "
        f"({c['interval_train_cpu_s']:.1f} CPU s); in process, a 10-concept comparison "
        f"{c['compare10_us']:.0f} µs beside a 10-concept score {c['score10_us']:.0f} µs "
        f"({c['compare10_over_score10']:.2f}x).",
        "",
        "Targets: "
        + ", ".join(f"{k} {'yes' if v else '**no**'}" for k, v in result["targets"].items()),
        "",
        "Wider where the error against Bayes is larger, narrower where smaller (reported, not a "
        "target): " + ", ".join(f"{k} {_yes_no(v)}" for k, v in follows.items()),
    ]
    return "\n".join(lines) + "\n"


def _yes_no(v: bool | None) -> str:
    return "n/a" if v is None else "yes" if v else "no"
