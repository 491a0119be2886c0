"""Hot model reload: load a model from the BentoML store into a new scorer, then swap it in.

The new scorer is built completely (files read, booster parsed, scorer constructed) before the
swap, and the swap is one attribute assignment, which is atomic under the GIL. A request that
started on the old scorer finishes on it (it holds its own reference), later requests see the new
one, so no request fails or mixes two models. A model that does not load leaves the old scorer
serving and the reload reports why.

``compass export`` calls :func:`notify` so an export made while the service runs reaches it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import bentoml
from bentoml.exceptions import BentoMLException

from core.settings import settings
from features.schema import ConceptSchema
from models.hit_model import HitModel, ModelLoadError
from scoring import store
from scoring.scorer import Scorer

_lock = threading.Lock()  # one reload at a time per process; scoring never takes it


class ReloadFailed(BentoMLException):
    """The requested model could not be loaded; the service keeps its current model."""

    error_code = HTTPStatus.CONFLICT


def preflight(model_ref: Any) -> HitModel:
    """Refuse to start unless the model the service is declared with loads.

    Called when the service module is imported, so ``bentoml serve`` stops in its main process
    with this message; otherwise BentoML would start workers that fail and get restarted
    forever, and the server would never become ready without saying why on the command line.
    """
    stored = model_ref.stored  # the local store only: never try to pull from a remote
    if stored is None:
        raise ModelLoadError(
            f"refusing to start: model {model_ref.tag} is not in the BentoML store "
            f"(BENTOML_HOME={os.environ.get('BENTOML_HOME', '~/bentoml')}); "
            "run `compass export` (or `compass ensure-champion`) first"
        )
    try:
        return HitModel.load(stored.path)
    except ModelLoadError as exc:
        raise ModelLoadError(f"refusing to start: {exc}") from None


def same_api(schema: ConceptSchema) -> Callable[[HitModel, str], Scorer]:
    """A scorer builder that refuses a model whose input schema differs from ``schema``: the
    request types are fixed when the service starts, so such a model needs a restart."""

    def build(model: HitModel, version: str) -> Scorer:
        if differences := schema.differences(model.concept_schema):
            raise ValueError(
                f"its input schema differs from the one this service started with "
                f"({'; '.join(differences)}); restart the service to serve it"
            )
        return Scorer(model, version)

    return build


def scorer_for(bento_model: bentoml.Model) -> Scorer:
    """The scorer for a model in the BentoML store, labelled with its MLflow version."""
    return Scorer(HitModel.load(bento_model.path), store.version_of(bento_model))


def load_from_store(tag: str = store.DEFAULT_TAG) -> tuple[HitModel, str, str]:
    """(model, MLflow version, resolved store tag) for ``tag``; :class:`ReloadFailed` (409)
    with the reason if it is not there or does not load."""
    try:
        return store.load(tag)
    except store.NotInStore as exc:
        raise ReloadFailed(str(exc)) from exc
    except ModelLoadError as exc:
        raise ReloadFailed(f"model {tag} does not load: {exc}") from exc


def reload_scorer(
    target: Any,
    tag: str | None = None,
    build: Callable[[HitModel, str], Any] = Scorer,
    attribute: str = "scorer",
) -> dict[str, str]:
    """Replace ``target.<attribute>`` by a scorer of the model ``tag`` (default: newest export).

    ``build(model, version)`` makes the scorer (default :class:`scoring.scorer.Scorer`).
    """
    with _lock:
        model, version, resolved = load_from_store(tag or store.DEFAULT_TAG)
        previous = getattr(getattr(target, attribute, None), "version", None)
        try:
            scorer = build(model, version)
        except Exception as exc:  # e.g. a model trained on inputs the API does not take
            raise ReloadFailed(f"model {resolved} cannot serve this API: {exc}") from exc
        setattr(target, attribute, scorer)  # the atomic swap
    return {"model_tag": resolved, "model_version": version, "previous_version": str(previous)}


def notify(url: str, tag: str, client: Any = None, timeout_s: float = 30.0) -> str:
    """Ask a running service at ``url`` to load ``tag``; a human-readable outcome.

    ``client``: an ``httpx.Client`` to use (tests pass a Starlette TestClient).
    """
    import httpx

    headers = {}
    if key := settings().api_key:
        headers["X-API-Key"] = key
    post = client.post if client is not None else httpx.post
    timeout = httpx.Timeout(timeout_s, connect=2.0)
    try:
        resp = post(
            f"{url.rstrip('/')}/admin/reload", json={"tag": tag}, headers=headers, timeout=timeout
        )
    except httpx.HTTPError:
        return f"no service answered at {url}; it will load {tag} when it starts"
    if resp.status_code != 200:
        return f"service at {url} refused the reload ({resp.status_code}): {resp.text[:300]}"
    return f"service at {url} now serves {resp.json().get('model_tag', tag)}"
