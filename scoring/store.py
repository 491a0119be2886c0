"""The contract between the MLflow registry and the BentoML model store, in one place.

``compass export`` copies a registered version's native model files (see ``models.hit_model``)
into the BentoML store under :data:`MODEL_NAME`, labelled with the MLflow version and the
tracking store it came from; the service, its reload, batch scoring and the benchmark load from
the store by tag and answer with that version. Only complete versions reach the store: the
registry refuses to hand out a version whose training never finished, and :func:`save` refuses
files that do not load.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import bentoml
from bentoml.exceptions import NotFound

from models.hit_model import HitModel

MODEL_NAME = "hit-compass"  # the simulated default's name in MLflow and in the BentoML store
DEFAULT_TAG = f"{MODEL_NAME}:latest"
DEFAULT_SPEC_NAME = "simulated"  # training/specs/simulated.yaml, the embedded default
VERSION_LABEL = "mlflow_version"
TRACKING_LABEL = "tracking_uri"


class NotInStore(LookupError):
    """No model with that tag in the BentoML store."""


def model_name_for(spec_name: str) -> str:
    """One registered model per launch history, each with its own champion and gate: the
    simulated default is ``hit-compass``, any other spec ``hit-compass-<spec name>`` (lower
    case; characters BentoML tags do not take become ``-``)."""
    if spec_name == DEFAULT_SPEC_NAME:
        return MODEL_NAME
    slug = re.sub(r"[^a-z0-9_.-]+", "-", spec_name.lower()).strip("-._")
    if not slug:
        raise ValueError(f"spec name {spec_name!r} gives no usable model name")
    return f"{MODEL_NAME}-{slug}"


def version_of(bento_model: bentoml.Model) -> str:
    """The MLflow registered-model version a store entry was exported from."""
    return str(bento_model.info.labels.get(VERSION_LABEL, bento_model.tag.version))


def load(tag: str = DEFAULT_TAG) -> tuple[HitModel, str, str]:
    """(model, MLflow version, resolved tag) for ``tag`` (``name:latest`` = the newest export).
    Raises :class:`NotInStore`, or ``ModelLoadError`` for files that do not load."""
    try:
        bento_model = bentoml.models.get(tag)
    except (NotFound, ValueError) as exc:
        raise NotInStore(f"model {tag!r} is not in the BentoML store") from exc
    return HitModel.load(bento_model.path), version_of(bento_model), str(bento_model.tag)


def find(version: str, tracking_uri: str, name: str = MODEL_NAME) -> str | None:
    """The tag of an earlier export of ``name`` ``version`` from ``tracking_uri``, if any."""
    try:
        existing = bentoml.models.list(name)
    except NotFound:
        return None
    for m in existing:
        labels = m.info.labels
        if labels.get(VERSION_LABEL) == version and labels.get(TRACKING_LABEL) == tracking_uri:
            return str(m.tag)
    return None


def save(model_dir: Path, version: str, tracking_uri: str, name: str = MODEL_NAME) -> str:
    """Copy a native model folder into the store as a new ``name`` entry; its tag.
    Refuses (``ModelLoadError``) a folder that would not load."""
    HitModel.load(model_dir)
    labels = {VERSION_LABEL: version, TRACKING_LABEL: tracking_uri}
    with bentoml.models.create(name, labels=labels) as bento_model:
        shutil.copytree(model_dir, bento_model.path, dirs_exist_ok=True)
    return str(bento_model.tag)
