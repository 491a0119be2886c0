"""``compass``: the command line for data scientists.

simulate -> train (gate included) -> promote -> export (into the BentoML model store).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

SPECS = Path(__file__).with_name("specs")
DEFAULT_SPEC = SPECS / "simulated.yaml"
SpecOpt = Annotated[Path, typer.Option("--spec", help="Dataset spec (YAML).")]


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


@app.command()
def simulate(
    n: Annotated[int, typer.Option(help="Number of launches.", min=1)] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    out: Annotated[Path, typer.Option("-o", "--out", help="Parquet file to write.")] = Path(
        "launches.parquet"
    ),
) -> None:
    """Simulate a launch history (with the exact Bayes-optimal p_hit_bayes per row)."""
    from features.simulator import simulate as run

    frame = run(n, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    typer.echo(f"{out}: {len(frame)} launches, hit rate {frame['hit'].mean():.3f}")


@app.command()
def train(
    data: Annotated[Path | None, typer.Option(help="CSV/Parquet launch history.")] = None,
    spec: SpecOpt = DEFAULT_SPEC,
    params: Annotated[
        Path | None, typer.Option(help="JSON of LightGBM params (default: tuned, if any).")
    ] = None,
    gate: Annotated[bool, typer.Option(help="Run the promotion gate after registering.")] = True,
    force: Annotated[bool, typer.Option(help="Promote even if the gate says no.")] = False,
) -> None:
    """Train, evaluate out of time, log to MLflow, register, and run the promotion gate."""
    from training.pipeline import run_training

    result = run_training(data=data, spec_path=spec, params_path=params, gate=gate, force=force)
    _echo_json({k: v for k, v in result.items() if k != "train_result"})


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Registered model version.")],
    force: Annotated[bool, typer.Option(help="Override the gate (recorded as forced).")] = False,
) -> None:
    """Make VERSION the champion if it beats the current one on the same test set."""
    from training.promote import promote as run
    from training.train import load_config

    decision = run(version, load_config(), force=force)
    _echo_json(decision)
    if not decision["promoted"]:
        raise typer.Exit(1)


@app.command()
def export(
    version: Annotated[
        str | None, typer.Option(help="Version to export (default: champion).")
    ] = None,
) -> None:
    """Copy a registered version into the BentoML model store as 'hit-compass'."""
    typer.echo(export_to_bentoml(version))


def export_to_bentoml(version: str | None = None) -> str:
    import bentoml

    from models.hit_model import HitModel
    from training import registry

    version = version or registry.champion_version()
    if version is None:
        raise typer.BadParameter("no champion yet: run `compass train` first")
    try:
        existing = bentoml.models.list("hit-compass")
    except bentoml.exceptions.NotFound:
        existing = []
    for m in existing:
        if (
            m.info.labels.get("mlflow_version") == version
            and m.info.labels.get("tracking_uri") == registry.tracking_uri()
        ):
            return str(m.tag)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, _ = registry.download_version(version, Path(tmp))
        HitModel.load(model_dir)  # refuse to export something that would not load
        labels = {"mlflow_version": version, "tracking_uri": registry.tracking_uri()}
        with bentoml.models.create("hit-compass", labels=labels) as bento_model:
            shutil.copytree(model_dir, bento_model.path, dirs_exist_ok=True)
    return str(bento_model.tag)


@app.command("ensure-champion")
def ensure_champion() -> None:
    """For `make serve`: simulate and train on the embedded default if there is no champion,
    then export the champion into the BentoML model store."""
    from features.simulator import simulate as run
    from training import registry
    from training.pipeline import run_training

    if registry.champion_version() is None:
        data = registry.state_dir() / "launches.parquet"
        if not data.exists():
            typer.echo(f"simulating the default launch history -> {data}")
            run(20_000, 7).to_parquet(data, index=False)
        typer.echo("no champion yet: training one")
        run_training(data=data, spec_path=DEFAULT_SPEC, params_path=None, gate=True, force=False)
    typer.echo(f"serving {export_to_bentoml()} (BENTOML_HOME={os.environ.get('BENTOML_HOME')})")


if __name__ == "__main__":
    app()
