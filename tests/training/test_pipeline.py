"""simulate -> train -> MLflow (tmp SQLite) -> registered version with alias champion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from features.spec import load_spec
from training import DEFAULT_SPEC, registry
from training.dataset import SpecError, load_launches
from training.promote import judge


def test_champion_registered(champion: dict) -> None:
    client = MlflowClient()
    mv = client.get_model_version_by_alias("hit-compass", "champion")
    assert str(mv.version) == champion["version"]
    assert mv.tags[registry.COMPLETE_TAG] == "true"
    run = client.get_run(mv.run_id)
    assert "train_fingerprint" in run.data.tags
    auc = champion["test_metrics"]["auc"]
    assert run.data.metrics["test_auc"] == pytest.approx(auc)
    # against the Bayes limit and the logistic baseline on the same out-of-time rows
    from training.evaluate import score

    test = champion["train_result"].test
    bayes = score(test["label"].to_numpy(), test["p_hit_bayes"].to_numpy(float))["auc"]
    logistic = champion["evaluation"]["baselines"]["logistic"]["auc"]
    assert bayes - 0.04 < auc < bayes + 0.01, (auc, bayes)
    assert auc > logistic - 0.01, (auc, logistic)


def test_registered_pyfunc_returns_probabilities(champion: dict) -> None:
    model = mlflow.pyfunc.load_model("models:/hit-compass@champion")
    example = model.input_example
    p = np.asarray(model.predict(example))
    assert ((p > 0) & (p < 1)).all()


def test_worse_model_never_becomes_champion(champion: dict, fast_config) -> None:
    """The gate on the same test set: a model trained on shuffled labels is refused (trained
    with the fast config: nothing learns from shuffled labels, however long it trains)."""
    from training.train import train_model

    good, test = registry.load_version(champion["version"])
    spec = good.features.spec
    frame = champion["train_result"].train.copy()
    frame = frame.assign(label=np.random.default_rng(0).permutation(frame["label"].to_numpy()))
    import pandas as pd

    bad = train_model(pd.concat([frame, test]), spec, config=fast_config).model
    decision = judge(bad, good, test, min_logloss_gain=0.0, max_auc_drop=0.002)
    assert not decision["promoted"]
    assert judge(good, bad, test, 0.0, 0.002)["promoted"]


def test_gate_recorded_and_refuses_when_not_better(champion: dict, small_launches: Path) -> None:
    from training.pipeline import run_training

    again = run_training(data=small_launches, spec_path=DEFAULT_SPEC)
    # identical data and seed: same model, so not strictly better -> stays challenger
    assert not again["promotion"]["promoted"]
    assert registry.champion_version() == champion["version"]
    tag = MlflowClient().get_model_version("hit-compass", again["version"]).tags["promotion"]
    assert '"promoted": false' in tag


def test_spec_with_wrong_column_fails_before_training(small_launches: Path, tmp_path: Path) -> None:
    text = Path(DEFAULT_SPEC).read_text().replace("price", "prise")  # column, inputs, lever
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(SpecError, match="prise"):
        load_launches(load_spec(bad), data=small_launches)


def test_spec_rejects_leakage_used_as_feature(tmp_path: Path) -> None:
    text = Path(DEFAULT_SPEC).read_text().replace("leakage: [p_hit_bayes]", "leakage: [price]")
    bad = tmp_path / "leak.yaml"
    bad.write_text(text)
    with pytest.raises(ValueError, match="price"):
        load_spec(bad)


def test_each_launch_history_has_its_own_registered_model(
    champion: dict, video_games_champion: dict
) -> None:
    """Training a second data set neither competes with nor blocks the simulated default."""
    vg = video_games_champion  # trained by run_training once per session
    assert vg["model_name"] == "hit-compass-video_games"
    assert vg["promotion"]["promoted"], vg["promotion"]  # its own first champion
    assert registry.champion_version("hit-compass-video_games") == vg["version"]
    assert registry.champion_version() == champion["version"]  # the default is untouched
    assert vg["bento_tag"].startswith("hit-compass-video_games:")


def test_train_uses_the_tuned_params_and_blend_choices(
    small_launches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training import pipeline
    from training import tune as tune_mod

    class Trained(Exception):
        pass

    seen: dict = {}

    def train_model(frame, spec, params, config, stages):  # stops where training would start
        seen.update(params=params, config=config)
        raise Trained

    blend = {"C": 0.2, "lgbm_half_life": None, "linear_half_life": 4.0}
    tuned = tmp_path / "best_params.json"
    tuned.write_text(json.dumps({"params": {"num_leaves": 7}, "blend": blend, "spec": "simulated"}))
    monkeypatch.setattr(pipeline, "train_model", train_model)
    monkeypatch.setattr(tune_mod, "tuned_params_path", lambda name: tuned)
    for explicit in (None, tuned):  # found in the state folder, or passed as --params
        seen.clear()
        with pytest.raises(Trained):
            pipeline.run_training(small_launches, DEFAULT_SPEC, params_path=explicit)
        assert seen["params"]["num_leaves"] == 7
        chosen = seen["config"].blend
        assert chosen.c_grid == [0.2] and chosen.lgbm_half_lives == (None,)
        assert chosen.linear_half_lives == (4.0,) and len(chosen.w_grid) > 2  # w: the folds'


def test_ensure_champion_finds_each_specs_champion(
    champion: dict, video_games_champion: dict, video_games_spec: Path
) -> None:
    from training.pipeline import ensure_champion

    said: list[str] = []
    assert ensure_champion(say=said.append) == ("hit-compass", registry.champion_version())
    assert ensure_champion(video_games_spec, said.append) == (
        "hit-compass-video_games",
        registry.champion_version("hit-compass-video_games"),
    )
    assert said == []  # nothing trained: both had a champion


def test_ensure_champion_command_prints_only_the_tag(video_games_champion: dict) -> None:
    """`make serve SPEC=...` serves what the command prints: one store tag on stdout."""
    from typer.testing import CliRunner

    from compass.cli import app
    from training import SPECS

    r = CliRunner().invoke(app, ["ensure-champion", "--spec", str(SPECS / "video_games.yaml")])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == video_games_champion["bento_tag"]
    assert "serving hit-compass-video_games:" in r.stderr


@pytest.mark.e2e
@pytest.mark.slow
def test_trains_started_together_on_a_fresh_state_folder(
    tmp_path: Path, quick_params: Path
) -> None:
    """Three `compass train` at once on a fresh state folder (once, one died inside MLflow's
    migration of the new database): all succeed, each version registered once, and the gate
    judged them one at a time (one first champion, the others against it)."""
    from features.simulator import simulate

    launches = tmp_path / "launches.parquet"  # small: the bookkeeping is tested, not skill
    simulate(2500, 3).to_parquet(launches, index=False)
    state = tmp_path / "state"
    uri = f"sqlite:///{state / 'mlflow.db'}"
    env = os.environ | {
        "HIT_COMPASS_STATE": str(state),
        "MLFLOW_TRACKING_URI": uri,
        "BENTOML_HOME": str(tmp_path / "bentoml"),
    }
    cmd = [sys.executable, "-m", "compass.cli", "train", "--data", str(launches)]
    procs = [
        subprocess.Popen(
            [*cmd, "--params", str(quick_params)],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    waited = sum("another command is" in err for _, err in outputs)

    client = MlflowClient(uri, uri)
    versions = client.search_model_versions(f"name = '{registry.MODEL_NAME}'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3]
    assert len({v.run_id for v in versions}) == 3  # each run registered once
    printed = sorted(json.loads(out[out.index("{") :])["version"] for out, _ in outputs)
    assert printed == ["1", "2", "3"]
    decisions = [json.loads(v.tags["promotion"]) for v in versions]
    firsts = [d for d in decisions if d["previous_champion"] is None]
    assert len(firsts) == 1 and firsts[0]["promoted"], decisions
    champion = client.get_model_version_by_alias(registry.MODEL_NAME, registry.CHAMPION)
    assert champion.version in {v.version for v in versions}
    print(f"{waited} of 3 commands waited for another's setup")
