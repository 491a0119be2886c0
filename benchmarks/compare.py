"""``compass bench compare``: the interval and the pairwise probabilities of /compare against the
simulator's exact Bayes probability, on out-of-time concepts.

Trains the default recipe (``training/config.yaml``, its ``interval`` section included) on a
simulated history, then on the held-out latest launches measures:

* coverage: the share of concepts whose Bayes probability lies inside the interval (the target
  is its level, 80 %), and the interval's median width; for each part of the interval alone
  and added up (what was tried), and the scale that would have covered 80 % (reported for
  reference: no model uses it, a real history has no Bayes probability);
* by group, concepts unlike the training launches against familiar ones: a category and
  segment pair rare in training, a price index outside the training's central 95 %, no test
  or a small one, and the test concepts again at four times their price (their Bayes
  probability recomputed);
* pairs: test concepts in random lists of ``list_size``, every pair within a list, each
  oriented the model's favourite first: P(it truly beats the other) against whether its Bayes
  probability is higher, by decile of that probability (ECE);
* cost: the training seconds of the interval's stage, and the in-process microseconds of a
  10-concept comparison beside a 10-concept score.

Every number is measured in the run.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.timing import median_us
from features.simulator import bayes_hit_probability
from features.spec import load_spec
from models.hit_model import HitModel
from scoring.batch import validate
from scoring.compare import compare
from scoring.scorer import Scorer
from training import SPECS
from training.dataset import simulated_frame, to_columns
from training.stages import Stages
from training.train import TrainingConfig, load_config, train_model

TARGET_COVERAGE = (0.75, 0.85)
TARGET_PAIR_ECE = 0.05


def run(
    sim_rows: int = 20_000,
    seed: int = 7,
    list_size: int = 10,
    config: TrainingConfig | None = None,
    repeats: int = 300,
) -> dict[str, Any]:
    config = config or load_config()
    started = time.perf_counter()
    spec = load_spec(SPECS / "simulated.yaml")
    frame = simulated_frame(sim_rows, seed, spec)
    stages = Stages()
    result = train_model(frame, spec, config=config, stages=stages)
    model, train, test = result.model, result.train, result.test
    if model.spread is None:
        raise ValueError("the config's interval has no members: nothing to measure")
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
    out["groups"] = groups(model, spec, train, test, parts, bayes)
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
            g["unlike"]["median_log_odds_sd"] > g["familiar"]["median_log_odds_sd"]
            for g in out["groups"].values()
        ),
        "pair_ece_le_0.05": out["pairs"]["ece"] <= TARGET_PAIR_ECE,
    }
    out["seconds_total"] = round(time.perf_counter() - started, 1)
    return out


def _parts(model: HitModel, cols: dict[str, np.ndarray]) -> dict[str, Any]:
    x = model.matrix(cols)
    z = model.log_odds(x)
    sure = model.uncertainty(x, z)
    return {"x": x, "z": z, "sure": sure}


def _covered(model: HitModel, z: np.ndarray, sd: np.ndarray, bayes: np.ndarray) -> dict:
    q = model.spread.quantile  # type: ignore[union-attr]
    lo, hi = model.calibrated(z - q * sd), model.calibrated(z + q * sd)
    inside = (bayes >= lo) & (bayes <= hi)
    return {
        "coverage": round(float(inside.mean()), 4),
        "median_width": round(float(np.median(hi - lo)), 5),
        "median_log_odds_sd": round(float(np.median(sd)), 4),
        "below": round(float((bayes < lo).mean()), 4),
        "above": round(float((bayes > hi).mean()), 4),
    }


def coverage_table(model: HitModel, parts: dict[str, Any], bayes: np.ndarray) -> dict[str, Any]:
    """Coverage and median width of the served interval, of each part alone and of their
    sums, and the scale that would have covered the level (for reference only)."""
    sure, z = parts["sure"], parts["z"]
    spread = model.spread
    scale = spread.scale  # type: ignore[union-attr]
    members = sure.members.std(axis=0, ddof=1)
    rescale = spread.report.get("member_rescale", 1.0)  # type: ignore[union-attr]
    member_sd = members * rescale
    tried = {
        "members": member_sd,
        "gap": np.abs(sure.gap),
        "evidence": sure.evidence,
        "members + gap": np.hypot(member_sd, sure.gap),
        "members + evidence": np.hypot(member_sd, sure.evidence),
    }
    out: dict[str, Any] = {"served": _covered(model, z, sure.sd, bayes)}
    out["served"]["scale"] = scale
    out["parts_alone_and_summed"] = {k: _covered(model, z, v, bayes) for k, v in tried.items()}
    base = sure.sd / scale
    grid = np.round(np.arange(0.25, 6.01, 0.05), 2)
    cover = [_covered(model, z, k * base, bayes)["coverage"] for k in grid]
    level = spread.level  # type: ignore[union-attr]
    reach = [k for k, c in zip(grid, cover, strict=True) if c >= level]
    out["scale_for_level_reference_only"] = float(reach[0]) if reach else None
    return out


def groups(
    model: HitModel,
    spec: Any,
    train: pd.DataFrame,
    test: pd.DataFrame,
    parts: dict[str, Any],
    bayes: np.ndarray,
) -> dict[str, dict[str, Any]]:
    """Median width and coverage of concepts unlike the training launches and of familiar
    ones, per kind of unlikeness."""
    sd, z = parts["sure"].sd, parts["z"]

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

    def split(unlike: np.ndarray, familiar: np.ndarray, what: str) -> dict[str, Any]:
        return {
            "what": what,
            "unlike": {
                "n": int(unlike.sum()),
                **_covered(model, z[unlike], sd[unlike], bayes[unlike]),
            },
            "familiar": {
                "n": int(familiar.sum()),
                **_covered(model, z[familiar], sd[familiar], bayes[familiar]),
            },
        }

    out = {
        "category_segment_pair": split(
            rare, ~rare, "pair among the 10 % of test concepts whose pair training saw least"
        ),
        "price_index": split(
            odd_price, ~odd_price, "price vs category median outside training's central 95 %"
        ),
        "no_test": split(sent == 0, sent >= 300, "no small-sample test vs a test of 300+"),
        "small_test": split(
            (sent > 0) & (sent <= 150), sent >= 300, "a test of 150 or fewer vs 300+"
        ),
    }
    # the same concepts at four times their price: far outside training, Bayes recomputed
    dear = test.copy()
    dear["price"] = dear["price"] * 4.0
    dear_bayes = bayes_hit_probability(dear)
    far = _parts(model, to_columns(dear, spec))
    out["price_times_4"] = {
        "what": "the test concepts at 4x their price (Bayes recomputed) vs as they are",
        "unlike": {"n": len(dear), **_covered(model, far["z"], far["sure"].sd, dear_bayes)},
        "familiar": {"n": len(test), **_covered(model, z, sd, bayes)},
    }
    return out


def pairs(
    model: HitModel, parts: dict[str, Any], bayes: np.ndarray, list_size: int, seed: int
) -> dict[str, Any]:
    """P(the model's favourite truly beats the other) against the Bayes order, for every pair
    within random lists of ``list_size`` test concepts; ECE over equal-count deciles."""
    sure, z = parts["sure"], parts["z"]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(z))
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
    a, b = np.array(a_rows), np.array(b_rows)
    q = model.spread.beats(sure, a, b)  # type: ignore[union-attr]
    truth = (bayes[a] > bayes[b]).astype(float)
    out = _ece(q, truth)
    top = np.array(vs_top)
    out["each_vs_top"] = {k: v for k, v in _ece(q[top], truth[top]).items() if k != "deciles"}
    out["too_close_to_call"] = round(float(np.mean(q < 0.8)), 4)
    out["list_size"] = list_size
    return out


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
        f"Scale that would have covered {100 * s['level']:.0f} % (reference only, needs Bayes): "
        f"{ref if ref is not None else 'beyond 6'}.",
        "",
        "| group | unlike: n, log-odds sd, width, inside | familiar: n, log-odds sd, width, "
        "inside |",
        "|---|---|---|",
    ]
    for name, g in result["groups"].items():
        u, f = g["unlike"], g["familiar"]
        lines.append(
            f"| {name} ({g['what']}) | {u['n']}, {u['median_log_odds_sd']:.3f}, "
            f"{u['median_width']:.4f}, {100 * u['coverage']:.1f} % | {f['n']}, "
            f"{f['median_log_odds_sd']:.3f}, {f['median_width']:.4f}, "
            f"{100 * f['coverage']:.1f} % |"
        )
    p = result["pairs"]
    lines += [
        "",
        f"Pairs: {p['pairs']} (every pair in lists of {p['list_size']}), ECE {p['ece']:.4f}; "
        f"each vs the top: {p['each_vs_top']['pairs']} pairs, ECE {p['each_vs_top']['ece']:.4f}; "
        f"too close to call: {100 * p['too_close_to_call']:.1f} %.",
        "",
        "| decile | pairs | mean P(A truly beats B) | Bayes says A > B |",
        "|---|---|---|---|",
    ]
    for k, d in enumerate(p["deciles"], start=1):
        lines.append(f"| {k} | {d['n']} | {d['mean_q']:.3f} | {d['bayes_frequency']:.3f} |")
    c = result["cost"]
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
    ]
    return "\n".join(lines) + "\n"
