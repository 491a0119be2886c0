"""Shared fixtures. All state (MLflow DB, artifacts, BentoML store) lives in one session tmp dir,
set before any library reads its environment."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_STATE = Path(tempfile.mkdtemp(prefix="hit-compass-tests-"))
os.environ["HIT_COMPASS_STATE"] = str(_STATE)
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_STATE / 'mlflow.db'}"
os.environ["BENTOML_HOME"] = str(_STATE / "bentoml")
os.environ["BENTOML_DO_NOT_TRACK"] = "true"
os.environ.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")
os.environ["TQDM_DISABLE"] = "1"

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VIDEO_GAMES_SPEC = REPO / "training" / "specs" / "video_games.yaml"


@pytest.fixture(scope="session")
def video_games_spec() -> Path:
    """The real-data spec, when its CSV (shared/, beside the clone, or HIT_COMPASS_SHARED_DATA)
    is there: a skip on a bare clone, a failure in CI, where shared/ is always laid."""
    from features.spec import load_spec

    csv = load_spec(VIDEO_GAMES_SPEC).source_path(VIDEO_GAMES_SPEC.parent)
    if csv is None or not csv.exists():
        reason = f"video games CSV not found at {csv} (set HIT_COMPASS_SHARED_DATA)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return VIDEO_GAMES_SPEC


@pytest.fixture(scope="session")
def state_dir() -> Path:
    return _STATE


@pytest.fixture(scope="session")
def small_launches(state_dir: Path) -> Path:
    """A small simulated launch history on disk (Parquet)."""
    from features.simulator import simulate

    path = state_dir / "launches_small.parquet"
    simulate(6000, 11).to_parquet(path, index=False)
    return path


@pytest.fixture(scope="session")
def champion(small_launches: Path) -> dict:
    """Train once per session: a registered version with alias champion, exported to BentoML."""
    from training.cli import DEFAULT_SPEC, export_to_bentoml
    from training.pipeline import run_training

    result = run_training(data=small_launches, spec_path=DEFAULT_SPEC)
    result["bento_tag"] = export_to_bentoml()
    return result
