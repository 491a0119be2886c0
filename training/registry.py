"""MLflow tracking and registry: where runs, versions and the ``champion`` alias live.

Default store: SQLite in the git-ignored state folder (``core.settings``: ``HIT_COMPASS_STATE``,
default ``./state``); ``MLFLOW_TRACKING_URI`` overrides it. A version is usable only once tagged
``hit_compass.complete=true`` (set last), so a training run killed half-way leaves nothing that
the gate, the export or the service would pick up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import RunInfo
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from core.locks import one_at_a_time, setting_up, sqlite_path
from core.settings import REPO_ROOT, settings, state_dir
from features.spec import DatasetSpec
from models.hit_model import HitModel
from scoring import store
from training.dataset import to_columns

MODEL_NAME = store.MODEL_NAME
CHAMPION = "champion"
COMPLETE_TAG = "hit_compass.complete"
EXPERIMENT = "hit-compass"
MONITORING_EXPERIMENT = "hit-compass-monitoring"  # compass monitor's runs, apart from training's


class NoChampion(LookupError):
    """No version holds the ``champion`` alias yet."""


def tracking_uri() -> str:
    state_dir()  # the default SQLite store lives there
    return settings().mlflow_uri


def configure(experiment: str = EXPERIMENT) -> MlflowClient:
    """Point MLflow at the tracking store and make sure the experiment exists. Its artifacts go
    to the state folder, or, with a tracking server, where the server keeps them (uploaded
    through it with ``--serve-artifacts``): a client's own disk is no place for a team's.

    The first time in a process, on a SQLite store, under the store's setup lock: commands
    started together on a fresh state folder would otherwise all run MLflow's migration of the
    new database, or create the same experiment, at once."""
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if (uri, experiment) in _set_up:
        client = MlflowClient(uri, uri)
    else:
        with _one_setup(uri, "the MLflow tracking store"):
            client = MlflowClient(uri, uri)
            if client.get_experiment_by_name(experiment) is None:
                served = uri.startswith(("http://", "https://"))
                local = None if served else (state_dir() / "artifacts").as_uri()
                client.create_experiment(experiment, artifact_location=local)
        _set_up.add((uri, experiment))
    mlflow.set_experiment(experiment)
    return client


_set_up: set[tuple[str, str]] = set()  # (tracking URI, experiment) this process set up


def _one_setup(uri: str, what: str) -> contextlib.AbstractContextManager[None]:
    path = sqlite_path(uri)
    return contextlib.nullcontext() if path is None else setting_up(path, what)


@contextlib.contextmanager
def gate_turn(model_name: str) -> Iterator[None]:
    """One promotion gate at a time per registered model on a SQLite store, so versions
    trained together are each judged against the champion the one before left."""
    path = sqlite_path(tracking_uri())
    if path is None:
        yield
        return
    lock = path.with_name(f"{path.name}.gate-{model_name}.lock")
    with one_at_a_time(
        lock, f"waiting for the promotion gate of {model_name} (another command is in it)"
    ):
        yield


def fingerprint(frame: pd.DataFrame) -> str:
    """Content hash of a launch table (row order and values)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def input_example(frame: pd.DataFrame, spec: DatasetSpec, n: int = 3) -> pd.DataFrame:
    example = frame[spec.input_columns()].head(n).copy()
    if not spec.date_is_year:
        example[spec.date_column] = frame["launch_day"].head(n).dt.strftime("%Y-%m-%d").to_numpy()
    return example


def log_and_register(
    model: HitModel,
    spec: DatasetSpec,
    train: pd.DataFrame,
    test: pd.DataFrame,
    params: dict[str, Any],
    metrics: dict[str, float],
    extra_artifacts: dict[str, Path] | None = None,
    tags: dict[str, str] | None = None,
    model_name: str = MODEL_NAME,
    extra_metrics: dict[str, float] | None = None,
) -> str:
    """Log a trained model with everything needed to judge it later; return the new version.
    ``extra_artifacts`` maps a name to a file (logged at the root) or a folder (logged under
    that name, e.g. the model report with its plots)."""
    client = configure()
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params({k: v for k, v in params.items() if not isinstance(v, list | dict)})
        mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items()})
        if extra_metrics:
            mlflow.log_metrics(extra_metrics)
        mlflow.set_tags(
            {
                "dataset": spec.name,
                "train_fingerprint": fingerprint(train),
                "test_fingerprint": fingerprint(test),
                "train_rows": len(train),
                "test_rows": len(test),
                **(tags or {}),
            }
        )
        model_dir = model.save(Path(tmp) / "hit_model")
        test_path = Path(tmp) / "test_set.parquet"
        test.to_parquet(test_path)
        mlflow.log_artifact(str(test_path))
        (Path(tmp) / "spec.json").write_text(spec.model_dump_json(indent=2))
        mlflow.log_artifact(str(Path(tmp) / "spec.json"))
        for name, path in (extra_artifacts or {}).items():
            if Path(path).is_dir():
                mlflow.log_artifacts(str(path), artifact_path=name)
            else:
                mlflow.log_artifact(str(path))
        example = input_example(test, spec)
        proba = model.predict_proba(to_columns(test.head(len(example)), spec))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(REPO_ROOT / "models" / "mlflow_pyfunc.py"),
            artifacts={"hit_model": str(model_dir)},
            code_paths=[str(REPO_ROOT / d) for d in ("core", "features", "models")],
            signature=infer_signature(example, proba),
            input_example=example,
        )
        version = mlflow.register_model(info.model_uri, model_name)
        client.set_model_version_tag(model_name, version.version, "run_id", run.info.run_id)
        client.set_model_version_tag(model_name, version.version, COMPLETE_TAG, "true")
    return str(version.version)


@contextlib.contextmanager
def monitoring_run(model_name: str, version: str) -> Iterator[str]:
    """A run in :data:`MONITORING_EXPERIMENT`, tagged with the registered model and version it
    watched; yields its id (the report names it before it is logged)."""
    configure(MONITORING_EXPERIMENT)
    tags = {"model_name": model_name, "model_version": version}
    with mlflow.start_run(run_name=f"{model_name} v{version}", tags=tags) as run:
        yield run.info.run_id


def log_monitoring(metrics: dict[str, float], files: Sequence[Path]) -> None:
    """Metrics and report files of the active monitoring run (:func:`monitoring_run`)."""
    mlflow.log_metrics(metrics)
    for path in files:
        mlflow.log_artifact(str(path))


def champion_version(model_name: str = MODEL_NAME) -> str | None:
    client = configure()
    try:
        return str(client.get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return None


def run_of(version: str, model_name: str = MODEL_NAME) -> RunInfo:
    """The MLflow run that logged a registered version (its id, experiment, artifact URI)."""
    client = configure()
    mv = client.get_model_version(model_name, version)
    return client.get_run(mv.tags.get("run_id") or mv.run_id).info


def run_page(run: RunInfo) -> str:
    """Where a person sees a run: the tracking server's page, or the page of ``make mlflow-ui``
    (its default port) on the local store."""
    uri = tracking_uri()
    base = uri.rstrip("/") if uri.startswith(("http://", "https://")) else "http://127.0.0.1:5000"
    return f"{base}/#/experiments/{run.experiment_id}/runs/{run.run_id}"


def is_complete(version: str, model_name: str = MODEL_NAME) -> bool:
    mv = configure().get_model_version(model_name, version)
    return mv.tags.get(COMPLETE_TAG) == "true"


def download_version(version: str, dest: Path, model_name: str = MODEL_NAME) -> tuple[Path, Path]:
    """Fetch a version's native model dir and its out-of-time test set."""
    client = configure()
    mv = client.get_model_version(model_name, version)
    if mv.tags.get(COMPLETE_TAG) != "true":
        raise RuntimeError(
            f"{model_name} version {version} is incomplete (training was interrupted)"
        )
    dest.mkdir(parents=True, exist_ok=True)
    local = Path(
        mlflow.artifacts.download_artifacts(
            f"models:/{model_name}/{version}", dst_path=str(dest / "pyfunc")
        )
    )
    run_id = mv.tags.get("run_id") or mv.run_id
    test = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="test_set.parquet", dst_path=str(dest)
        )
    )
    return local / "artifacts" / "hit_model", test


def load_version(version: str, model_name: str = MODEL_NAME) -> tuple[HitModel, pd.DataFrame]:
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, test = download_version(version, Path(tmp), model_name)
        return HitModel.load(model_dir), pd.read_parquet(test)


def record_decision(version: str, decision: dict[str, Any], model_name: str = MODEL_NAME) -> None:
    client = configure()
    client.set_model_version_tag(
        model_name, version, "promotion", json.dumps(decision, default=_json)
    )
    if decision.get("promoted"):
        client.set_registered_model_alias(model_name, CHAMPION, version)


def _json(x: Any) -> Any:
    return float(x) if isinstance(x, np.floating) else str(x)


def export_version(version: str | None = None, model_name: str = MODEL_NAME) -> str:
    """Copy a complete registered version (default: the champion) into the BentoML model store
    (``scoring.store``, under the same name); its store tag. An earlier export of the same
    version is reused."""
    version = version or champion_version(model_name)
    if version is None:
        raise NoChampion(f"no champion of {model_name} yet: run `compass train` first")
    uri = tracking_uri()
    existing = store.find(version, uri, model_name)
    if existing is not None:
        return existing
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, _ = download_version(version, Path(tmp), model_name)
        return store.save(model_dir, version, uri, model_name)
