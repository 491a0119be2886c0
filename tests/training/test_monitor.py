"""Joining outcomes with the answers given before launch, and the live metrics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from training.monitor import band_check, join_outcomes, live_metrics


def test_join_takes_the_last_answer_before_launch_and_the_latest_outcome() -> None:
    predictions = pd.DataFrame(
        [
            # a: scored twice before launch (the second counts), once after (ignored)
            ("a", "2026-01-01T10:00:00+00:00", "score", "1", 0.2, "stop"),
            ("a", "2026-02-01T10:00:00+00:00", "batch", "2", 0.6, "go"),
            ("a", "2026-03-02T10:00:00+00:00", "score", "2", 0.9, "go"),
            ("a", "2026-02-15T10:00:00+00:00", "whatif", "2", 0.1, None),  # not a score
            # b: scored only after its launch: unmatched
            ("b", "2026-05-02T00:00:01+00:00", "score", "2", 0.5, "refine"),
        ],
        columns=["concept_id", "logged_at", "endpoint", "model_version", "hit_probability", "band"],
    )
    outcomes = pd.DataFrame(
        [
            ("a", "2026-03-01", 0, "2026-06-01T00:00:00+00:00"),
            ("a", "2026-03-01", 1, "2026-06-02T00:00:00+00:00"),  # a correction: latest counts
            ("b", "2026-05-02", 1, "2026-06-01T00:00:00+00:00"),
            ("c", "2026-05-02", 0, "2026-06-01T00:00:00+00:00"),  # never scored
        ],
        columns=["concept_id", "launch_date", "label", "recorded_at"],
    )
    joined = join_outcomes(predictions, outcomes)
    assert joined.unmatched == ["b", "c"]
    (row,) = joined.matched.to_dict("records")
    assert (row["concept_id"], row["hit_probability"], row["label"]) == ("a", 0.6, 1)
    assert row["model_version"] == "2" and row["band"] == "go"


def test_live_metrics_per_version_with_intervals() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.6, 3000)
    y = (rng.uniform(size=3000) < p).astype(int)  # calibrated by construction
    bands = np.where(p >= 0.4, "go", np.where(p < 0.15, "stop", "refine"))
    matched = pd.DataFrame({"model_version": "3", "hit_probability": p, "label": y, "band": bands})
    m = live_metrics(matched, n_boot=200)["3"]
    assert m["n"] == 3000 and m["ece"] < 0.03
    lo, hi = m["auc_ci"]
    assert lo < m["auc"] < hi and m["auc"] > 0.6
    assert m["logloss_ci"][0] < m["logloss"] < m["logloss_ci"][1]
    b = m["bands"]
    assert b["go"]["hit_rate"] > b["refine"]["hit_rate"] > b["stop"]["hit_rate"]
    assert sum(b[k]["n"] for k in b) == 3000
    # overconfident answers: ECE says so
    worse = live_metrics(matched.assign(hit_probability=np.clip(p * 1.6, 0, 0.99)), n_boot=50)
    assert worse["3"]["ece"] > 0.05


def test_band_check_interval_and_empty_band() -> None:
    out = band_check(np.array(["go"] * 10), np.array([1] * 7 + [0] * 3))
    assert out["go"]["hit_rate"] == pytest.approx(0.7)
    assert out["go"]["low"] < 0.7 < out["go"]["high"]
    assert out["stop"] == {"n": 0, "hit_rate": None, "low": None, "high": None}


def test_one_class_only_has_no_auc() -> None:
    matched = pd.DataFrame(
        {"model_version": "1", "hit_probability": [0.1, 0.2], "label": [0, 0], "band": "stop"}
    )
    m = live_metrics(matched)["1"]
    assert m["auc"] is None and m["logloss"] > 0 and m["logloss_ci"] is None


def test_prediction_drift_and_alarms() -> None:
    from features.profile import FieldDrift
    from training.monitor import alarms, prediction_drift

    rng = np.random.default_rng(1)
    train = rng.beta(2, 12, 5000)
    norms = {"quantiles": {"*": np.quantile(train, np.linspace(0, 1, 101)).tolist()}}
    same = prediction_drift(norms, rng.beta(2, 12, 2000))
    shifted = prediction_drift(norms, rng.beta(4, 8, 2000))
    assert same.level == "stable" and shifted.level == "act" and shifted.psi > 0.25
    assert prediction_drift(norms, train[:10]).level == "too few"
    assert prediction_drift(None, train) is None
    assert alarms([same]) == [] and alarms([shifted]) == [
        f"hit_probability: PSI {shifted.psi:.3f} >= 0.25"
    ]
    live = {"logloss": 0.40, "logloss_ci": [0.36, 0.44]}
    assert alarms([], live, promised=0.30) and not alarms([], live, promised=0.37)
    assert alarms([FieldDrift("price", None, 3, "too few")]) == []


def drifted_cohort(scorer, tmp_path, drift, seed):
    """A future cohort scored by the champion, logged; its outcomes as they come back."""
    from features.simulator import simulate
    from scoring.prediction_log import COLUMNS, PredictionLog
    from training.monitor import answers

    kw = {"drift": drift} if drift is not None else {}
    cohort = simulate(600, seed, start="2027-01-01", end="2027-04-01", **kw)
    cohort["launch_date"] = cohort["launch_date"].dt.strftime("%Y-%m-%d")
    concepts = cohort[scorer.schema.names].to_dict("records")
    log = PredictionLog(tmp_path / f"log-{seed}.db")
    log.append("batch", "r1", scorer.version, concepts, scorer.score(concepts))
    said = answers(next(log.rows()), COLUMNS)
    log.close()
    outcomes = cohort.assign(recorded_at="2027-06-01T00:00:00+00:00", label=cohort["hit"])
    return said, outcomes[["concept_id", "launch_date", "label", "recorded_at"]]


def test_summary_of_a_drifted_cohort_names_the_fields(scorer, tmp_path) -> None:
    from features.simulator import Drift
    from training.monitor import markdown, summarise

    world = Drift(segment_mix={"gen_z": 6.0, "urban_silver": 6.0}, price_inflation=1.6)
    said, outcomes = drifted_cohort(scorer, tmp_path, world, 21)
    summary = summarise(scorer.model, scorer.version, said, outcomes, n_boot=50)
    assert summary["scored"] == 600 and summary["outcomes_matched"] == 600
    flagged = {d["field"] for d in summary["drift"] if d["level"] == "act"}
    assert set(world.drifted_fields()) <= flagged, summary["drift"]
    assert any(a.startswith("price: PSI") for a in summary["alarms"])
    assert summary["live"]["n"] == 600 and summary["live"]["auc"] > 0.6
    report = markdown(summary)
    assert "| price |" in report and "price: PSI" in report.split("**Alarms:**")[1]


def test_summary_of_the_same_world_is_quiet(scorer, tmp_path) -> None:
    from training.monitor import summarise

    said, outcomes = drifted_cohort(scorer, tmp_path, None, 22)
    # the log is shared: a row that is no concept of this spec is skipped, not crashed on
    foreign = said.iloc[:1].assign(inputs=[{"title": "a board game"}], concept_id="x")
    said = pd.concat([said, foreign], ignore_index=True)
    summary = summarise(scorer.model, scorer.version, said, outcomes, n_boot=50)
    assert summary["alarms"] == [], summary["drift"]
    assert summary["scored"] == 600 and summary["skipped_other_inputs"] == 1


def test_only_the_named_model_answers_count(scorer, tmp_path) -> None:
    """The log is shared by registered models whose version numbers collide: another model's
    answers of the same version are neither scored concepts nor joined with outcomes, even
    when they fit the spec and came last before launch."""
    from scoring.prediction_log import COLUMNS, PredictionLog
    from training.monitor import answers, summarise

    said, outcomes = drifted_cohort(scorer, tmp_path, None, 25)
    concepts = said["inputs"].tolist()
    sure = [{"hit_probability": 0.99, "band": "go"}] * len(concepts)
    log = PredictionLog(tmp_path / "named.db")
    log.append(
        "batch", "ours", scorer.version, concepts, scorer.score(concepts), model="hit-compass"
    )
    log.append("batch", "theirs", scorer.version, concepts, sure, model="hit-compass-other")
    named = answers(next(log.rows()), COLUMNS)
    log.close()
    summary = summarise(scorer.model, scorer.version, named, outcomes, n_boot=20)
    assert summary["model_name"] == "hit-compass"
    assert summary["scored"] == 600 and summary["skipped_other_models"] == 600
    assert summary["live"]["n"] == 600 and summary["live"]["mean_predicted"] < 0.5
    unnamed = summarise(scorer.model, scorer.version, said, outcomes, n_boot=20)
    assert unnamed["live"]["logloss"] == pytest.approx(summary["live"]["logloss"])
    # monitoring the other model sees only its own answers
    other = summarise(
        scorer.model, scorer.version, named, outcomes, n_boot=20, model_name="hit-compass-other"
    )
    assert other["scored"] == 600 and other["live"]["mean_predicted"] == pytest.approx(0.99)


def test_per_period_and_training_metrics_in_the_report(scorer, tmp_path) -> None:
    from features.simulator import simulate
    from scoring.prediction_log import COLUMNS, PredictionLog
    from training.monitor import answers, markdown, summarise

    cohort = simulate(400, 26, start="2027-01-01", end="2027-07-01")
    cohort["launch_date"] = cohort["launch_date"].dt.strftime("%Y-%m-%d")
    concepts = cohort[scorer.schema.names].to_dict("records")
    log = PredictionLog(tmp_path / "periods.db")
    log.append("batch", "r", scorer.version, concepts, scorer.score(concepts))
    said = answers(next(log.rows()), COLUMNS)
    log.close()
    outcomes = cohort.assign(recorded_at="2027-09-01T00:00:00+00:00", label=cohort["hit"])
    outcomes = outcomes[["concept_id", "launch_date", "label", "recorded_at"]]
    trained = {"auc": 0.8, "logloss": 0.41, "brier": 0.12, "ece": 0.01, "pr_auc": 0.5}
    summary = summarise(scorer.model, scorer.version, said, outcomes, trained, n_boot=20)
    q2 = cohort["launch_date"] >= "2027-04-01"
    periods = summary["periods"]
    assert list(periods) == ["2027Q1", "2027Q2"]
    assert (periods["2027Q1"]["n"], periods["2027Q2"]["n"]) == ((~q2).sum(), q2.sum())
    assert periods["2027Q2"]["hit_rate"] == pytest.approx(cohort.loc[q2, "hit"].mean())
    assert periods["2027Q1"]["auc_ci"] and "reliability" not in periods["2027Q1"]
    assert summary["trained"] == {k: trained[k] for k in ("auc", "logloss", "brier", "ece")}
    assert summary["promised_logloss"] == 0.41
    report = markdown(summary)
    assert "| 2027Q2 | " in report and "| training's test |" in report
    assert "| logloss |" in report and "| 0.4100 |" in report


def test_the_forecast_per_horizon_for_launches_old_enough(scorer, tmp_path) -> None:
    """Coverage and P50's error per horizon of the curve, each on the launches old enough to
    have it whose outcome there came back; the others counted as too recent or waiting."""
    import datetime as dt

    from features.columns import from_records
    from features.simulator import CURVE_COLUMNS, simulate
    from scoring.prediction_log import COLUMNS, PredictionLog
    from training.monitor import answers, markdown, monitoring_metrics, summarise

    cohort = simulate(400, 27, start="2027-01-01", end="2027-07-01")
    cohort["launch_date"] = cohort["launch_date"].dt.strftime("%Y-%m-%d")
    concepts = cohort[scorer.schema.names].to_dict("records")
    log = PredictionLog(tmp_path / "horizons.db")
    log.append("batch", "r", scorer.version, concepts, scorer.score(concepts))
    said = answers(next(log.rows()), COLUMNS)
    log.close()
    outcomes = cohort.assign(recorded_at="2028-01-02T00:00:00+00:00", label=cohort["hit"])
    outcomes = outcomes[["concept_id", "launch_date", "label", "recorded_at"]]
    # every other launch has reported its first 90 days only
    raw = {
        r["concept_id"]: {c: r[c] for c in (CURVE_COLUMNS if i % 2 else CURVE_COLUMNS[:3])}
        for i, r in enumerate(cohort.to_dict("records"))
    }
    asof = dt.date(2027, 12, 31)
    summary = summarise(
        scorer.model, scorer.version, said, outcomes, n_boot=20, raw_outcomes=raw, asof=asof
    )
    horizons = summary["horizons"]
    assert list(horizons) == CURVE_COLUMNS
    age = (pd.Timestamp(asof) - pd.to_datetime(cohort["launch_date"])).dt.days.to_numpy()
    curve = scorer.model.forecast.curve(scorer.model.matrix(from_records(concepts, scorer.spec)))
    for j, column in enumerate(CURVE_COLUMNS):
        h, days = horizons[column], 30 * (j + 1)
        old = age >= days
        has = old & ((np.arange(400) % 2 == 1) | (j < 3))
        assert (h["n"], h["too_recent"], h["waiting"]) == (
            has.sum(),
            (~old).sum(),
            (old & ~has).sum(),
        )
        y = cohort[column].to_numpy()[has]
        inside = (curve["p10"][has, j] <= y) & (y <= curve["p90"][has, j])
        assert h["coverage_80"] == pytest.approx(inside.mean()), column
    assert horizons["gmv_90d"]["n"] == 400 and 0.7 <= horizons["gmv_90d"]["coverage_80"] <= 0.9
    assert horizons["gmv_360d"]["too_recent"] > 300  # a year has not passed for most
    report = markdown(summary)
    assert "## Forecast over time" in report and "| gmv_180d | 180 | 200 |" in report
    assert monitoring_metrics(summary)["coverage_80_gmv_90d"] == horizons["gmv_90d"]["coverage_80"]


def test_nothing_to_plot_says_so(tmp_path) -> None:
    from training.monitor import markdown, write_plots

    summary = {
        "model_name": "hit-compass",
        "model_version": "1",
        "scored": 3,
        "outcomes_matched": 0,
        "outcomes_unmatched": 0,
        "live": None,
        "trained": None,
        "periods": {},
        "alarms": [],
        "drift": [{"field": "price", "psi": None, "n": 3, "level": "too few"}],
    }
    (tmp_path / "drift.png").write_bytes(b"an earlier run's")
    summary["plots"] = write_plots(summary, tmp_path)
    assert all(p["file"] is None and p["why"] for p in summary["plots"].values())
    assert list(tmp_path.iterdir()) == []
    report = markdown(summary)
    assert "Reliability diagram (live): no outcomes matched yet" in report and "![" not in report


def log_cohort(scorer, seed: int, world, end: str = "2027-04-01"):
    """A cohort scored by the champion into the session's prediction log (as the service logs
    it: named), its outcomes recorded in the session's outcome store."""
    from features.simulator import simulate
    from scoring.outcomes import OutcomeSchema, OutcomeStore
    from scoring.prediction_log import PredictionLog

    kw = {"drift": world} if world is not None else {}
    cohort = simulate(600, seed, start="2027-01-01", end=end, **kw)
    cohort["launch_date"] = cohort["launch_date"].dt.strftime("%Y-%m-%d")
    concepts = cohort[scorer.schema.names].to_dict("records")
    log = PredictionLog()
    log.append(
        "batch",
        f"monitor-{seed}",
        scorer.version,
        concepts,
        scorer.score(concepts),
        model=scorer.model_name,
    )
    records = cohort[["concept_id", "launch_date", "hit"]].to_dict("records")
    OutcomeStore(log).record(OutcomeSchema(scorer.schema).validate(records), "test")
    log.close()
    return cohort, concepts


def test_run_monitor_writes_the_report_logs_a_run_and_leaves_the_summary(
    scorer, champion: dict, tmp_path
) -> None:
    from mlflow import MlflowClient

    from core.settings import monitor_summary_path, settings
    from scoring.prediction_log import PredictionLog
    from training.monitor import run_monitor

    cohort, concepts = log_cohort(scorer, 27, None, end="2027-07-01")
    # another registered model's answers of the same version, given last before launch
    log = PredictionLog()
    sure = [{"hit_probability": 0.99, "band": "go"}] * len(concepts)
    log.append("batch", "other-model", scorer.version, concepts, sure, model="hit-compass-x")
    log.close()
    summary = run_monitor("hit-compass", None, tmp_path / "report", n_boot=20)
    out = tmp_path / "report"
    assert summary["model_version"] == champion["version"]
    assert {p.name for p in out.iterdir()} == {
        "monitor.md",
        "monitor.json",
        "reliability.png",
        "drift.png",
        "bands.png",
    }
    assert json.loads((out / "monitor.json").read_text()) == summary
    report = (out / "monitor.md").read_text()
    assert "![Reliability diagram (live)](reliability.png)" in report and "| 2027Q2 |" in report
    # only this cohort launches in Q2: its concepts, with this model's answers, not the other's
    q2 = cohort[cohort["launch_date"] >= "2027-04-01"]
    assert summary["periods"]["2027Q2"]["n"] == len(q2)
    assert summary["periods"]["2027Q2"]["mean_predicted"] < 0.5
    assert summary["skipped_other_models"] >= 600
    assert set(summary["trained"]) == {"auc", "logloss", "brier", "ece"}
    run = MlflowClient(settings().mlflow_uri).get_run(summary["mlflow_run_id"])
    assert run.data.tags["model_name"] == "hit-compass"
    assert run.data.tags["model_version"] == champion["version"]
    experiment = MlflowClient(settings().mlflow_uri).get_experiment(run.info.experiment_id)
    assert experiment.name == "hit-compass-monitoring"
    metrics = run.data.metrics
    assert metrics["n_matched"] == summary["live"]["n"] >= 600
    assert metrics["live_logloss"] == pytest.approx(summary["live"]["logloss"])
    assert metrics["alarms"] == len(summary["alarms"]) and "max_psi" in metrics
    logged = {a.path for a in MlflowClient(settings().mlflow_uri).list_artifacts(run.info.run_id)}
    assert logged == {p.name for p in out.iterdir()}
    latest = monitor_summary_path("hit-compass")
    assert summary["paths"]["latest"] == str(latest)
    assert json.loads(latest.read_text()) == summary


def test_compass_monitor_reports_the_champion(
    scorer, champion: dict, tmp_path, monkeypatch
) -> None:
    """End to end on the session's champion, with a prediction log of its own (other tests'
    answers in the session's log would water the drift down, by test order): a drifted cohort
    scored and logged, its outcomes recorded; the command writes its report and exits 3."""
    from typer.testing import CliRunner

    from compass.cli import ALARM_EXIT, app
    from features.simulator import Drift

    monkeypatch.setenv("HIT_COMPASS_STATE", str(tmp_path / "state"))  # MLflow stays the session's
    log_cohort(scorer, 23, Drift(price_inflation=1.6))
    r = CliRunner().invoke(app, ["monitor", "-o", str(tmp_path / "out")])
    assert r.exit_code == ALARM_EXIT, (r.output, r.exception)
    summary = json.loads((tmp_path / "out" / "monitor.json").read_text())
    assert any(a.startswith("price: PSI") for a in summary["alarms"]), summary["alarms"]
    assert summary["model_version"] == champion["version"] and summary["scored"] == 600
    assert summary["outcomes_matched"] == 600 and summary["live"]["n"] == 600
    assert summary["promised_logloss"] == summary["trained"]["logloss"] > 0
    assert "| price |" in (tmp_path / "out" / "monitor.md").read_text()
    assert summary["mlflow_run_id"] in r.output
