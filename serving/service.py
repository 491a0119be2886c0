"""Hit Compass scoring service (BentoML 1.4).

The champion reaches the service through the BentoML model store: ``compass export`` copies the
MLflow ``champion`` version's native files into the store as ``hit-compass`` (``make serve`` and
``bentoml build`` do this first), so a running service never needs the tracking server.

Every scoring endpoint reads ``self.scorer`` once per request (swap it as a whole to change the
model) and appends what it answered to the prediction log before it returns. Scoring endpoints
are ``async``: a score is well under a millisecond of CPU, less than BentoML's hand-off to its
thread pool costs, so they run on the event loop. ``POST /outcomes`` records what happened to
launched concepts in the same database (``scoring.outcomes``), off the event loop. ``GET
/monitor`` (``serving.web``) answers the served model's latest ``compass monitor`` summary,
behind the API key like every non-probe route.

With several workers (``HIT_COMPASS_WORKERS``), ``/admin/reload`` loads the model in the worker
that took the call and publishes its tag (``scoring.served``); every other worker, and every
replica sharing the prediction log's database, follows within about a second
(``serving.reload.Follower``). ``/readyz`` and every answer's ``model_version`` say which version
answered.

One bad concept costs only itself: a list endpoint (``/score``, ``/forecast``) answers every
valid concept of a request and, in the place of each invalid one, a ``ConceptError`` naming its
position, id and fields (a request of one concept still answers 400). The list's items are
validated as ``Concept`` first, as a whole list in pydantic's own code (the hot path pays
nothing for this); only an item that fails is kept aside, unvalidated, and checked again alone
(``features.schema.ConceptSchema.check``, the same validation and messages as ``compass
score``).

Endpoints return ready JSON bytes: BentoML would otherwise rebuild the output type's JSON schema
for every response (measured: half the worker's CPU). The declared return types still document
the answers in OpenAPI, and the tests validate real answers against them.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from typing import Annotated, Any, Literal

import bentoml
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, WrapValidator
from pydantic.json_schema import SkipJsonSchema
from starlette.responses import Response

from core.settings import monitor_summary_path, settings
from scoring import compare as comparing
from scoring.outcomes import OutcomeSchema, OutcomeStore
from scoring.prediction_log import PredictionLog, json_bytes, new_request_id
from scoring.scorer import BadRequest, Scorer
from scoring.served import ServedModels
from scoring.store import model_name_for
from serving.guard import Guard, batch_limit
from serving.ready import ReadyAnswer
from serving.reload import Follower, preflight, reload_scorer, same_api, scorer_for
from serving.responses import (
    CompareResult,
    ForecastItem,
    FunnelItem,
    OutcomeReceipt,
    ScoreItem,
    TargetResult,
    WhatIfResult,
    WordingsResult,
    concept_error,
)
from serving.settings import bentoml_settings
from serving.web import docs_app, monitor_app, ui_app

MAX_BATCH = settings().max_batch
BENTO_MODEL = bentoml.models.BentoModel(settings().model_tag)
NEWEST_EXPORT = f"{settings().model_tag.split(':')[0]}:latest"  # of the served registered model
# The request schema is the served model's: built from its dataset spec and what its training
# saw, before the class is declared (BentoML reads the API types then). A missing or corrupt
# model refuses to start here, saying why.
SCHEMA = preflight(BENTO_MODEL).concept_schema

Concept = SCHEMA.model


class Unchecked:
    """A concept of a list that failed validation, as sent: the handler checks it again alone
    and answers its error in its place."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


# An item is a Concept or, failing that, kept Unchecked. left_to_right: a valid item is
# validated once, as Concept (nothing tried after it); the fallback is left out of the OpenAPI
# document, whose items stay the Concept schema.
ListedConcept = Annotated[
    Concept | SkipJsonSchema[Annotated[Any, PlainValidator(Unchecked)]],  # type: ignore[valid-type]
    Field(union_mode="left_to_right"),
]
Concepts = Annotated[
    list[ListedConcept],
    batch_limit(MAX_BATCH),  # refuse an over-long list before validating any item
    Field(min_length=1, max_length=MAX_BATCH, examples=[[SCHEMA.example]]),
]


def _in_user_terms(value: Any, validate: Callable[[Any], Any]) -> Any:
    try:
        return validate(value)
    except ValidationError as exc:
        raise SCHEMA.explained(exc) from None


# /target's and /whatif's concept: a 400 whose messages are the list endpoints' (a vocabulary's
# closest values, not all of them); these endpoints cost milliseconds, the wrap microseconds
OneConcept = Annotated[
    Concept,  # type: ignore[valid-type]
    WrapValidator(_in_user_terms),
    Field(examples=[SCHEMA.example]),
]
Lever = Literal[tuple(SCHEMA.levers)]  # type: ignore[valid-type]
# /wordings: the spec's text fields (a spec without any answers 400, as /target without segments)
TEXT_FIELDS = [f for f in SCHEMA.fields if f.kind == "text"]
TextField = Literal[tuple(f.name for f in TEXT_FIELDS)] if TEXT_FIELDS else str  # type: ignore[valid-type]
LONGEST_TEXT = max((f.max_length or 0 for f in TEXT_FIELDS), default=1000)
MAX_WORDINGS = 50
# the outcome record follows the same spec (a reload to a model with another target is refused)
OUTCOME = OutcomeSchema(SCHEMA)
Outcomes = Annotated[
    list[OUTCOME.model],  # type: ignore[name-defined]
    batch_limit(MAX_BATCH),
    Field(min_length=1, max_length=MAX_BATCH, examples=[[OUTCOME.example]]),
]
# /compare: 2 to 100 concepts of the same schema, pairs of their ids
CompareConcepts = Annotated[
    list[ListedConcept],  # an invalid one costs only itself, as in /score
    batch_limit(comparing.MAX_CONCEPTS),
    Field(
        min_length=comparing.MIN_CONCEPTS,
        max_length=comparing.MAX_CONCEPTS,
        examples=[comparing.compare_example(SCHEMA)],
    ),
]


class ConceptPair(BaseModel):
    """Two concepts of the request, by id: is a truly better than b, and why?"""

    model_config = ConfigDict(extra="forbid")
    a: str = Field(max_length=200, description="concept id of the first concept.")
    b: str = Field(max_length=200, description="concept id of the second concept.")


# the served registered model (as Scorer.model_name): GET /monitor answers its summary
MODEL_NAME = model_name_for(SCHEMA.spec.name)


def _freeze_heap() -> None:
    """Keep the collector from walking what is loaded now (it lives as long as the process):
    full collections of the loaded heap stalled requests for ~120 ms (measured)."""
    gc.collect()
    gc.freeze()


@bentoml.asgi_app(monitor_app(MODEL_NAME, monitor_summary_path(MODEL_NAME)), path="/")
@bentoml.asgi_app(ui_app(SCHEMA.describe()), path="/ui")
@bentoml.asgi_app(docs_app(), path="/docs")
@bentoml.service(**bentoml_settings())  # serving/settings.py: host, switches, timeout
class HitCompass:
    bento_model = BENTO_MODEL

    def __init__(self) -> None:
        self.scorer = scorer_for(self.bento_model)
        self.served_tag = str(self.bento_model.tag)
        self.log = PredictionLog(background_checkpoint=True)
        self.outcome_store = OutcomeStore(self.log)
        self.served = ServedModels(self.log)
        self.follower = Follower(
            self, self.served, MODEL_NAME, build=same_api(SCHEMA), on_swap=_freeze_heap
        )
        self.follower.adopt(self.bento_model.info.creation_time)
        self.follower.start()
        _freeze_heap()

    @bentoml.on_shutdown
    def stop_following(self) -> None:
        self.follower.stop()

    def serving_now(self) -> dict[str, Any]:
        """What this worker serves (``/readyz``'s answer)."""
        scorer = self.scorer
        return {
            "model": scorer.model_name,
            "model_version": scorer.version,
            "model_tag": self.served_tag,
            "worker_pid": os.getpid(),
        }

    def _answer(
        self,
        endpoint: str,
        inputs: list[dict],
        run: Callable[[Scorer, str], Any],
        invalid: Invalid | None = None,
    ) -> Response:
        """Run ``run(scorer, request_id)``, log inputs and outputs, answer the outputs as JSON
        (each item serialised once, for the log and for the response); a list's invalid
        concepts (``invalid``) answered by their errors in their places, and not logged."""
        scorer, request_id = self.scorer, new_request_id()
        try:
            out = run(scorer, request_id)
        except BadRequest as exc:
            raise bentoml.exceptions.InvalidArgument(str(exc)) from None
        items = [json_bytes(o) for o in (out if isinstance(out, list) else [out])]
        self.log.append_json(
            endpoint,
            request_id,
            scorer.version,
            inputs,
            items,
            # the log's item numbers: the concepts' places in the request
            invalid.positions if invalid is not None else None,
            id_field=scorer.schema.id_field,
            model=scorer.model_name,
        )
        if invalid is not None:
            items = invalid.merged(items, request_id)
        body = b"[" + b",".join(items) + b"]" if isinstance(out, list) else items[0]
        return Response(body, media_type="application/json")

    @bentoml.api(route="/score")
    async def score(
        self,
        concepts: Concepts,
        explain: Annotated[
            bool, Field(description="Compute drivers (TreeSHAP, most of the cost of a score).")
        ] = True,
    ) -> list[ScoreItem]:
        """Per concept: calibrated hit probability, the same before the small-sample test,
        percentile and go / refine / stop band against its category's past launches, the
        drivers (log-odds per input field), warnings and the model version. An invalid concept
        gets an error in its place (its index, id and fields) and the others are scored; a
        request of one invalid concept answers 400."""
        rows, invalid = checked(concepts)
        return self._answer("score", rows, lambda s, rid: s.score(rows, rid, explain), invalid)  # type: ignore[return-value]

    @bentoml.api(route="/target")
    async def target(self, concept: OneConcept) -> TargetResult:
        """Find the right people: the concept scored for each value of the spec's segment
        column (the consumer segments, for the simulated default), best first, with the change
        against its own. 400 if the model's spec declares no segment column."""
        row = concept.model_dump(mode="json", by_alias=True)
        return self._answer("target", [row], lambda s, rid: s.target(row, rid))  # type: ignore[return-value]

    @bentoml.api(route="/whatif")
    async def whatif(
        self,
        concept: OneConcept,
        lever: Annotated[
            Lever, Field(description="The input to sweep.", examples=[next(iter(SCHEMA.levers))])
        ],
        grid: Annotated[
            list[float | str] | None,
            Field(
                max_length=200,
                description="Values to try (numbers; ISO dates for a date lever). "
                "Default: a sweep around the concept's own value.",
                examples=[[149.0, 179.0, 199.0, 229.0, 259.0]],
            ),
        ] = None,
    ) -> WhatIfResult:
        """Hit probability along a grid of one lever, every other field held fixed."""
        row = concept.model_dump(mode="json", by_alias=True)
        return self._answer("whatif", [row], lambda s, rid: s.whatif(row, lever, grid, rid))  # type: ignore[return-value]

    @bentoml.api(route="/wordings")
    async def wordings(
        self,
        concept: OneConcept,
        field: Annotated[
            TextField,
            Field(
                description="The text field to compare wordings of.",
                examples=[TEXT_FIELDS[0].name if TEXT_FIELDS else "tagline"],
            ),
        ],
        alternatives: Annotated[
            list[Annotated[str, Field(max_length=LONGEST_TEXT)]],
            Field(
                min_length=1,
                max_length=MAX_WORDINGS,
                description="Alternative texts for that field (names, taglines, claims).",
                examples=[["The AI writing assistant for teams", "Write faster with AI"]],
            ),
        ],
    ) -> WordingsResult:
        """Compare wordings: the concept scored with each alternative text of one text field
        (every other field held fixed), best first, each with the phrases that push it up
        and down. 400 if the model's spec has no text fields."""
        row = concept.model_dump(mode="json", by_alias=True)
        return self._answer(  # type: ignore[return-value]
            "wordings", [row], lambda s, rid: s.wordings(row, field, alternatives, rid)
        )

    @bentoml.api(route="/forecast")
    async def forecast(self, concepts: Concepts) -> list[ForecastItem]:
        """The spec's outcome per concept (first-90-day GMV in CNY, for the simulated default):
        P10 / P50 / P90, an 80 % interval; for a spec with outcomes over time also the
        cumulative curve at every horizon (every month of the first year, simulated) and the
        months holding the spec's festivals. 400 if the model's spec has no outcome column. An
        invalid concept gets an error in its place, as in /score."""
        rows, invalid = checked(concepts)
        return self._answer("forecast", rows, lambda s, rid: s.forecast(rows, rid), invalid)  # type: ignore[return-value]

    @bentoml.api(route="/compare")
    async def compare(
        self,
        concepts: CompareConcepts,
        pairs: Annotated[
            list[ConceptPair] | None,
            Field(
                max_length=comparing.MAX_PAIRS,
                description="Pairs to compare, by concept id; default: each concept against "
                "the top one.",
            ),
        ] = None,
    ) -> CompareResult:
        """Rank 2 to 100 concepts: each with its hit probability, an interval (how much the
        estimate could move given the launches behind it) and band; for each pair (default:
        each against the top one) the probability that the first truly beats the second, a
        too-close-to-call flag, and the fields that make the difference (log-odds per field,
        summing to the difference). Every concept is logged with its ranked entry. An invalid
        concept is left out of the ranking and listed in ``invalid``, naming its place, id and
        fields; the others are compared all the same (a 400 when fewer than 2 are valid)."""
        rows, invalid = checked(concepts)
        asked = None if pairs is None else [(p.a, p.b) for p in pairs]
        scorer, request_id = self.scorer, new_request_id()
        errors = [] if invalid is None else [
            concept_error(request_id, i, *invalid.errors[i], SCHEMA) for i in sorted(invalid.errors)
        ]  # fmt: skip
        if len(rows) < comparing.MIN_CONCEPTS:
            where = "; ".join(_fields_at_fault(e) for e in errors)  # places and fields only
            raise bentoml.exceptions.InvalidArgument(
                f"concepts: {len(rows)} valid, at least {comparing.MIN_CONCEPTS} needed ({where})"
            )
        try:
            out = comparing.compare(scorer, rows, asked, request_id)
        except BadRequest as exc:
            raise bentoml.exceptions.InvalidArgument(str(exc)) from None
        out = {**{k: v for k, v in out.items() if k != "model_version"}, "invalid": errors}
        out["model_version"] = scorer.version  # last, in the declared order
        by_id = {r["concept_id"]: r for r in out["ranking"]}
        id_field = scorer.schema.id_field
        self.log.append_json(
            "compare",
            request_id,
            scorer.version,
            rows,
            [json_bytes(by_id[str(r[id_field])]) for r in rows],
            invalid.positions if invalid is not None else None,  # their places in the request
            id_field=id_field,
            model=scorer.model_name,
        )
        return Response(json_bytes(out), media_type="application/json")  # type: ignore[return-value]

    @bentoml.api(route="/funnel")
    async def funnel(self, concepts: Concepts) -> list[FunnelItem]:
        """The funnel card per concept: at each stage of the spec's funnel (reach ->
        interested, samples -> tried -> positive -> would buy again, for the simulated default)
        its shrunk conversion rate and interval, its category's median and its percentile, and
        the weakest stage. 400 if the model's spec declares no funnel. An invalid concept gets
        an error in its place, as in /score."""
        rows, invalid = checked(concepts)
        return self._answer("funnel", rows, lambda s, rid: s.funnel(rows, rid), invalid)  # type: ignore[return-value]

    @bentoml.api(route="/outcomes")
    def outcomes(self, outcomes: Outcomes) -> OutcomeReceipt:
        """Record what happened to launched concepts: id, actual launch date and the label
        and/or raw outcome the spec's target names. All or nothing: a bad item is a 400 naming
        its position and field, and nothing is recorded. An outcome already recorded is
        ignored; a corrected one is added (the newest counts, the history stays); ids never
        scored are recorded and reported as unmatched."""
        receipt = self.outcome_store.record([OUTCOME.outcome(o) for o in outcomes], "http")
        return Response(json_bytes(receipt), media_type="application/json")  # type: ignore[return-value]

    @bentoml.api(route="/admin/reload")
    def admin_reload(
        self,
        tag: Annotated[
            str | None,
            Field(
                max_length=200,
                description="BentoML store tag; default: the newest export of the served "
                "registered model.",
            ),
        ] = None,
    ) -> dict[str, str]:
        """Load a model from the BentoML store and swap it in; requests in flight finish on the
        old one. Then publish it: every other worker and replica follows within about a second.
        409 (the old model keeps serving, nothing is published) if it does not load, or if its
        input schema differs from the one this service started with (that needs a restart)."""
        answer = reload_scorer(self, tag or NEWEST_EXPORT, build=same_api(SCHEMA))
        _freeze_heap()  # the new model lives as long as the process too
        self.served.publish(MODEL_NAME, answer["model_tag"])
        return answer


class Invalid:
    """The invalid concepts of a list: each one's error, by its place in the request."""

    def __init__(self, count: int) -> None:
        self.count = count  # concepts in the request
        self.positions: list[int] = []  # of the valid ones, in order
        self.errors: dict[int, tuple[Any, ValidationError]] = {}  # place -> (sent, error)

    def merged(self, answers: list[bytes], request_id: str) -> list[bytes]:
        """The valid concepts' answers (in order) with the errors in their places."""
        valid = iter(answers)
        return [
            json_bytes(concept_error(request_id, i, *self.errors[i], SCHEMA))
            if i in self.errors
            else next(valid)
            for i in range(self.count)
        ]


def _fields_at_fault(error: dict[str, Any]) -> str:
    """ "concepts.3: price, reach" for a :func:`concept_error` (no value sent is repeated)."""
    fields = sorted({str(d["loc"][2]) for d in error["detail"] if len(d["loc"]) > 2})
    return f"concepts.{error['index']}: {', '.join(fields) or 'the concept'}"


def checked(concepts: list[Any]) -> tuple[list[dict], Invalid | None]:
    """The valid concepts of a list as the scorer takes them, and the invalid ones (None: all
    valid). A request of one concept that is invalid is refused whole (400)."""
    rows = [c.model_dump(mode="json", by_alias=True) for c in concepts if type(c) is not Unchecked]
    if len(rows) == len(concepts):  # the hot path: nothing more to do
        return rows, None
    if len(concepts) == 1:
        SCHEMA.check(concepts[0].value, ("concepts", 0))  # raises: BentoML answers 400
    rows, invalid = [], Invalid(len(concepts))
    for i, c in enumerate(concepts):
        if type(c) is Unchecked:
            try:  # alone, for its errors in the user's terms
                c = SCHEMA.check(c.value)
            except ValidationError as exc:
                invalid.errors[i] = (c.value, exc)
                continue
        rows.append(c.model_dump(mode="json", by_alias=True))
        invalid.positions.append(i)
    return rows, invalid


# API key (HIT_COMPASS_API_KEY) and body limit (HIT_COMPASS_MAX_BODY_BYTES) before any route
HitCompass.add_asgi_middleware(Guard)
HitCompass.add_asgi_middleware(ReadyAnswer, describe=lambda service: service.serving_now())
