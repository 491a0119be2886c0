"""Hot model reload: load a model from the BentoML store into a new scorer, then swap it in.

The new scorer is built completely (files read, booster parsed, scorer constructed) before the
swap, and the swap is one attribute assignment, which is atomic under the GIL. A request that
started on the old scorer finishes on it (it holds its own reference), later requests see the new
one, so no request fails or mixes two models. A model that does not load leaves the old scorer
serving and the reload reports why.

With several workers (``HIT_COMPASS_WORKERS``) or replicas, a reload is published in shared state
(``scoring.served``) and each worker's :class:`Follower` checks it every second on a thread of its
own and swaps the same way, so every worker serves the published version within about a second.
``compass export`` publishes too and calls :func:`notify`, so an export made while the service
runs reaches it.
"""

from __future__ import annotations

import datetime as dt
import logging
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
from scoring.served import Publication, ServedModels

_lock = threading.Lock()  # one reload at a time per process; scoring never takes it
log = logging.getLogger(__name__)


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
    except store.NotInStore as exc:  # the field, never the value sent (a 4xx echoes nothing)
        raise ReloadFailed("tag: the model is not in the BentoML store") from exc
    except ModelLoadError as exc:
        raise ReloadFailed(f"model {tag} does not load: {exc}") from exc


def reload_scorer(
    target: Any, tag: str | None = None, build: Callable[[HitModel, str], Any] = Scorer
) -> dict[str, str]:
    """Replace ``target.scorer`` by a scorer of the model ``tag`` (default: newest export) and
    record the resolved store tag in ``target.served_tag``.

    ``build(model, version)`` makes the scorer (default :class:`scoring.scorer.Scorer`).
    """
    with _lock:
        model, version, resolved = load_from_store(tag or store.DEFAULT_TAG)
        previous = getattr(getattr(target, "scorer", None), "version", None)
        try:
            scorer = build(model, version)
        except Exception as exc:  # e.g. a model trained on inputs the API does not take
            raise ReloadFailed(f"model {resolved} cannot serve this API: {exc}") from exc
        target.scorer = scorer  # the atomic swap
        target.served_tag = resolved
    return {"model_tag": resolved, "model_version": version, "previous_version": str(previous)}


class Follower:
    """Keeps ``target`` (see :func:`reload_scorer`) on the tag published for ``model_name``.

    :meth:`check` reads the publication and loads one it has not acted on yet, unless this
    worker serves that tag already (the worker that answered ``/admin/reload``); :meth:`start`
    runs it every ``every_s`` seconds on a thread of its own, never on a request's path. A tag
    that does not load here (not in this replica's store, another input schema) leaves the
    current model serving and is logged; publishing it again retries.
    """

    def __init__(
        self,
        target: Any,
        served: ServedModels,
        model_name: str,
        build: Callable[[HitModel, str], Any],
        on_swap: Callable[[], None] = lambda: None,
        every_s: float = 1.0,
    ) -> None:
        self.target, self.served, self.model_name = target, served, model_name
        self.build, self.on_swap, self.every_s = build, on_swap, every_s
        self.seen: str | None = None  # id of the last publication acted on
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def adopt(self, exported_at: dt.datetime) -> None:
        """At start: serve the published tag if it was published after the declared model was
        exported. A worker (re)started after a reload then serves what the others serve, while
        a model exported after the last reload (``make serve`` after ``compass train``) is
        served as declared."""
        publication = self.served.current(self.model_name)
        if publication is not None:
            self.seen = publication.id
            if publication.at > exported_at:
                self._load(publication)

    def check(self) -> None:
        publication = self.served.current(self.model_name)
        if publication is None or publication.id == self.seen:
            return
        self.seen = publication.id
        if publication.tag != getattr(self.target, "served_tag", None):
            self._load(publication)

    def _load(self, publication: Publication) -> None:
        try:
            info = reload_scorer(self.target, publication.tag, self.build)
        except ReloadFailed as exc:
            log.warning("worker %d keeps its model: published %s", os.getpid(), exc)
            return
        self.on_swap()
        log.info("worker %d now serves %s (published)", os.getpid(), info["model_tag"])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="served-model", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.check()
            except Exception as exc:  # the database may be busy or gone for a while: retry
                log.warning("checking the published model failed (will retry): %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


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
