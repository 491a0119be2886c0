"""The concept schema: what a product team submits to be scored, built from the served model's
dataset spec plus what training saw.

One field per input column (and the id): its kind (category, number, whole count, date or
year, entity id), bounds, description, unit and example, from the spec's ``inputs``; closed
vocabularies are the categories training saw (whether a category's vocabulary is open or
closed was fitted with the features: the spec's word, else inferred from the history, see
``features.build.infer_vocabulary``), inputs that had gaps in training may be left
out. Count pairs imply whole counts >= 0 with successes <= trials. The same object gives the
service its request model (``model``), the page its form (``describe``), ``/target`` its
segments and ``/whatif`` its levers, so the HTTP API, the page and batch scoring all follow
the spec a model was trained on.

:meth:`ConceptSchema.check` is the one validation both the HTTP API and batch scoring use, and
its errors are the messages both show: each names its field; a closed vocabulary's names the
value sent and the closest allowed ones (never a list of a hundred).
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import keyword
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from features.build import FeatureBuilder
from features.spec import DatasetSpec, InputInfo

Kind = Literal["id", "date", "datetime", "year", "category", "entity", "number", "count", "text"]
MAX_COUNT = 1_000_000_000
MAX_TEXT = 128
# what a field says of the history it was fitted on (not part of the API it takes)
AS_SEEN = ("known", "vocabulary")
OPEN_KNOWN_SHOWN = 1000  # an open vocabulary's known values listed for the page's suggestions
# a closed vocabulary's error: the value sent (cut to SHOWN_VALUE characters), the CLOSEST
# allowed values like it, or all of them when there are few (up to LISTED_IN_FULL)
SHOWN_VALUE, CLOSEST, LISTED_IN_FULL = 40, 3, 8


@dataclass(frozen=True)
class InputField:
    """One field of the request, and everything the surfaces need to know about it."""

    name: str
    kind: Kind
    description: str
    unit: str | None = None
    bounds: dict[str, float] = field(default_factory=dict)  # ge / gt / le / lt
    values: tuple[str, ...] | None = None  # closed vocabulary (a typo is refused)
    known: tuple[str, ...] = ()  # open vocabulary: the values seen in training
    required: bool = True
    default: Any = None
    pre_test: bool = False  # part of the small-sample test
    seen: tuple[float, float] | None = None  # training range of a number
    max_length: int | None = None  # text: the longest text taken, in characters
    # a category: {"open", "source" (spec or inferred), "why"} (features.build.VocabularyChoice)
    vocabulary: dict[str, Any] | None = None

    def annotation(self) -> Any:
        """The pydantic type of the field (constraints included)."""
        if self.kind == "date":
            t: Any = dt.date
        elif self.kind == "datetime":
            t = dt.datetime
        elif self.kind == "text":
            t = Annotated[str, Field(strict=True, max_length=self.max_length)]
        elif self.kind in ("year", "count"):
            t = Annotated[StrictInt, Field(**self.bounds)]
        elif self.kind == "number":
            t = Annotated[float, Field(strict=True, allow_inf_nan=False, **self.bounds)]
        elif self.values is not None:
            t = Literal[self.values]  # type: ignore[valid-type]
        else:
            t = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
        return t if self.required or self.default is not None else t | None

    def public(self) -> dict[str, Any]:
        """The field as the page reads it (``/ui/meta.json``)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "unit": self.unit,
            **self.bounds,
            "values": list(self.values) if self.values is not None else None,
            "known": list(self.known[:OPEN_KNOWN_SHOWN]),
            "required": self.required,
            "default": self.default,
            "pre_test": self.pre_test,
            "max_length": self.max_length,
            "vocabulary": self.vocabulary,
        }


@dataclass(frozen=True)
class Lever:
    """An input ``/whatif`` may sweep. kind: number, count, date, datetime (a launch date with
    its time of day), year or sample_size (the small-sample test's size: its counts are scaled
    along at the concept's rates)."""

    name: str
    kind: str
    unit: str
    bounds: dict[str, float]
    seen: tuple[float, float] | None


class ConceptSchema:
    """The request schema of one model: fields, example, levers, segments, forecast."""

    def __init__(self, spec: DatasetSpec, trained: FeatureBuilder) -> None:
        self.spec = spec
        self.id_field = spec.id_column or "concept_id"
        self.fields = _fields(spec, trained)
        self.by_name = {f.name: f for f in self.fields}
        self.pairs = [(p.successes, p.trials) for p in spec.count_pairs if p.successes]
        self.example = _example(spec, trained, self.by_name, self.id_field)
        self.levers = {c: _lever(self.by_name[c], spec) for c in spec.lever_columns()}
        seg = spec.segment_column
        self.segments = list(self.by_name[seg].values or ()) if seg else []
        self.model = self._request_model()

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def describe(self) -> dict[str, Any]:
        """Everything the page needs to build its form, as JSON."""
        return {
            "spec": self.spec.name,
            "id_field": self.id_field,
            "date_field": self.spec.date_column,
            "fields": [f.public() for f in self.fields],
            "pairs": [{"successes": s, "trials": t} for s, t in self.pairs],
            "segment_field": self.spec.segment_column,
            "segments": self.segments,
            "levers": [
                {"name": v.name, "kind": v.kind, "unit": v.unit} for v in self.levers.values()
            ],
            "outcome": self.spec.outcome_column,
            # the page's fan chart and funnel card: none without outcomes over time or a funnel
            "horizons": [{"column": c, "days": d} for c, d in self.spec.horizons()] or None,
            "funnel": list(self.spec.funnel) or None,
            "example": self.example,
        }

    def differences(self, other: ConceptSchema) -> list[str]:
        """What a service built on ``self`` could not take from ``other`` (empty: same API).
        The example may differ: it documents the API, it is not part of it; so may what
        training saw of a field (:data:`AS_SEEN`): an open or closed vocabulary shows in
        ``values``."""
        out = []
        mine, theirs = self.describe(), other.describe()
        for name in sorted(set(self.by_name) | set(other.by_name)):
            a, b = self.by_name.get(name), other.by_name.get(name)
            if a is None or b is None:
                out.append(f"field {name!r} {'added' if a is None else 'removed'}")
            elif keys := [
                k for k, v in a.public().items() if b.public()[k] != v and k not in AS_SEEN
            ]:
                out.append(f"field {name!r}: {', '.join(keys)} differ")
        for key in ("id_field", "pairs", "segment_field", "segments", "levers", "outcome"):
            if mine[key] != theirs[key]:
                out.append(f"{key} differ")
        if self.spec.target != other.spec.target:  # POST /outcomes takes what the target names
            out.append("target differ")
        return out

    def _request_model(self) -> type[BaseModel]:
        definitions: dict[str, Any] = {}
        for f in self.fields:
            info = Field(
                ... if f.required else f.default,
                alias=f.name,
                description=f.description,
                json_schema_extra={"unit": f.unit} if f.unit else None,
            )
            definitions[_attribute(f.name)] = (f.annotation(), info)
        pairs = [(_attribute(s), s, _attribute(t), t) for s, t in self.pairs]

        def counts_consistent(concept: BaseModel) -> BaseModel:
            for part, part_name, whole, whole_name in pairs:
                p, w = getattr(concept, part), getattr(concept, whole)
                if p is not None and w is not None and p > w:
                    raise PydanticCustomError(
                        "count_exceeds",
                        "{part} exceeds {whole}",
                        {"part": part_name, "whole": whole_name},
                    )
            return concept

        return create_model(
            "Concept",
            __config__=ConfigDict(
                extra="forbid",
                allow_inf_nan=False,
                populate_by_name=True,
                # "example" (singular): BentoML's OpenAPI component schema rejects model-level
                # "examples"
                json_schema_extra={"example": self.example},
            ),
            __doc__=f"One product concept, before launch (dataset spec {self.spec.name!r}).",
            __validators__={"counts_consistent": model_validator(mode="after")(counts_consistent)},
            **definitions,
        )

    def validate(self, concept: dict[str, Any]) -> dict[str, Any]:
        """A concept as the API validates it, back as the JSON dict the scorer takes."""
        return self.check(concept).model_dump(mode="json", by_alias=True)

    def check(self, concept: Any, loc: tuple[str | int, ...] = ()) -> BaseModel:
        """``concept`` validated, or a ``ValidationError`` in the user's terms (:meth:`explained`;
        ``loc``: where the concept sits in the request, prefixed to every error's)."""
        try:
            return self.model.model_validate(concept)
        except ValidationError as exc:
            raise self.explained(exc, loc) from None

    def explained(self, exc: ValidationError, loc: tuple[str | int, ...] = ()) -> ValidationError:
        """``exc`` (the request model's) with each error said in the user's terms: a closed
        vocabulary's names the value sent and the closest allowed values; counts that do not
        add up are the part's error (``loc`` names its field). Other messages are pydantic's,
        which never repeat the value sent."""
        errors = []
        for e in exc.errors():
            where, message = e["loc"], e["msg"]
            field = self.by_name.get(str(where[0])) if where else None
            if e["type"] == "literal_error" and field is not None and field.values is not None:
                message = vocabulary_message(field.values, e["input"])
            elif e["type"] == "count_exceeds":
                where = (*where, e["ctx"]["part"])
            errors.append(
                {
                    # the message as a parameter: a brace in a value sent is not a placeholder
                    "type": PydanticCustomError(e["type"], "{message}", {"message": message}),
                    "loc": (*loc, *where),
                    "input": e["input"],
                }
            )
        return ValidationError.from_exception_data(exc.title, errors)  # type: ignore[arg-type]

    def id_of(self, concept: Any, exc: ValidationError) -> str | None:
        """The identifier an invalid concept carries, when that is not what is wrong with it
        (the user's own name for it: errors may repeat it)."""
        value = concept.get(self.id_field) if isinstance(concept, dict) else None
        bad = any(e["loc"][:1] == (self.id_field,) for e in exc.errors())
        return value if isinstance(value, str) and not bad else None

    def error_line(self, where: str, concept: Any, exc: ValidationError) -> str:
        """Everything wrong with an invalid concept in one line, as batch scoring and the HTTP
        API say it: ``where`` (its row or position), its id, then ``field: message`` per error
        (``exc``: :meth:`check`'s, its ``loc`` inside the concept)."""
        concept_id = self.id_of(concept, exc)
        if concept_id is not None:
            where += f" ({self.id_field} {concept_id!r})"
        problems = (
            f"{'.'.join(map(str, e['loc'])) or 'concept'}: {e['msg']}" for e in exc.errors()
        )
        return f"{where}: {'; '.join(problems)}"


def vocabulary_message(values: tuple[str, ...], sent: Any) -> str:
    """What is wrong with ``sent`` for a closed vocabulary of ``values``: the value itself (cut
    short) and the closest allowed ones, all of them only when there are few."""
    n = len(values)
    if not isinstance(sent, str):
        head = f"should be a string, one of the {n} allowed values"
    else:
        cut = sent[:SHOWN_VALUE] + ("…" if len(sent) > SHOWN_VALUE else "")
        head = f"{cut!r} is not one of the {n} allowed values"
    close = closest(sent.strip()[:MAX_TEXT], values) if isinstance(sent, str) else ()
    if close:
        return f"{head}; closest: {', '.join(map(repr, close))}"
    if n <= LISTED_IN_FULL:
        return f"{head}: {', '.join(map(repr, values))}"
    return f"{head}, and none is close" if isinstance(sent, str) else head


@functools.lru_cache(maxsize=1024)  # a batch repeats its typos: each is looked up once
def closest(sent: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """Up to CLOSEST ``values`` like ``sent`` (difflib's ratio >= 0.6), ignoring case, the
    closest first."""
    folded: dict[str, str] = {}
    for v in values:
        folded.setdefault(v.casefold(), v)
    like = difflib.get_close_matches(sent.casefold(), list(folded), n=CLOSEST)
    return tuple(folded[v] for v in like)


def _attribute(name: str) -> str:
    """A Python attribute for a column (the alias keeps the column's own name in the API)."""
    plain = name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")
    if plain and not hasattr(BaseModel, name) and not name.startswith("model_"):
        return name
    return "f_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def _fields(spec: DatasetSpec, trained: FeatureBuilder) -> list[InputField]:
    pre_test = set(spec.pre_test_columns())
    counts = {p.trials for p in spec.count_pairs} | {p.successes for p in spec.count_pairs}
    rates = {p.rate: p.rate_scale for p in spec.count_pairs if p.rate}
    id_name = spec.id_column or "concept_id"
    id_info = spec.inputs.get(id_name, InputInfo())
    id_what = id_info.description or "Your identifier."
    out = [
        InputField(
            id_name, "id", id_what, id_info.unit,
            required=not id_info.has_default, default=id_info.default,
        )
    ]  # fmt: skip
    for col in spec.input_columns():
        info = spec.inputs.get(col, InputInfo())
        bounds: dict[str, float] = {}
        known: tuple[str, ...] = ()
        values = None
        max_length = None
        vocabulary: dict[str, Any] | None = None
        if col == spec.date_column:
            kind: Kind = "year" if spec.date_is_year else "date"
            what = "Launch year, e.g. 2016." if kind == "year" else "Launch date (YYYY-MM-DD)."
            if kind == "year":
                bounds = {"ge": 1, "le": 9999}
            elif "hour" in spec.timing:
                kind = "datetime"
                what = (
                    "Launch date and time (ISO 8601, e.g. 2022-12-01T00:01:00-08:00): the day "
                    "and hour as written count."
                )
        elif col in spec.text_columns():
            kind, max_length = "text", spec.text_field(col).max_length
            what = f"{col}: the concept's own words (at most {max_length} characters)."
        elif col in spec.categorical:
            kind, vocab = "category", tuple(trained.vocab.get(col, ()))
            closed = not trained.vocabulary_open(col) and vocab  # nothing seen: nothing to close on
            values, known = (vocab, ()) if closed else (None, vocab)
            choice = trained.vocabularies.get(col)
            vocabulary = choice.to_dict() if choice is not None else None
            what = f"{col}: one of the values seen in training." if values else f"{col}."
        elif col in counts or info.whole:
            kind, bounds = "count", {"ge": 0, "le": MAX_COUNT}
            what = f"{col} (a whole number)."
        elif col in spec.numeric or col in rates:
            kind = "number"
            bounds = {"ge": 0.0, "le": rates[col]} if col in rates else {}
            what = f"{col} (a number)."
        else:
            kind, what = "entity", f"{col}: its earlier launches form a track record."
        bounds |= {k: v for k in ("ge", "gt", "le", "lt") if (v := getattr(info, k)) is not None}
        if "gt" in bounds:
            bounds.pop("ge", None)
        if "lt" in bounds:
            bounds.pop("le", None)
        if kind in ("count", "year"):
            bounds = {k: int(v) for k, v in bounds.items()}
        default: Any = None
        required = col not in trained.missing_inputs and not info.optional
        if info.has_default:
            default, required = info.default, False
        elif col in pre_test:
            default, required = 0, False  # 0 = no test
        out.append(
            InputField(
                col,
                kind,
                info.description or what,
                info.unit,
                bounds=bounds,
                values=values,
                known=known,
                required=required,
                default=default,
                pre_test=col in pre_test,
                seen=trained.numeric_ranges.get(col),
                max_length=max_length,
                vocabulary=vocabulary,
            )
        )
    return out


def _example(
    spec: DatasetSpec, trained: FeatureBuilder, fields: dict[str, InputField], id_field: str
) -> dict[str, Any]:
    if spec.example is not None:
        return dict(spec.example)
    example: dict[str, Any] = {id_field: f"{spec.name}-example"}
    for name, v in trained.example.items():
        f = fields.get(name)
        if f is None or v is None:
            continue
        if f.kind in ("count", "year"):
            v = int(v)
        elif f.kind == "number":
            v = float(v)
        elif f.kind in ("category", "entity", "text"):
            v = str(v)
        example[name] = v
    return example


def _lever(f: InputField, spec: DatasetSpec) -> Lever:
    kind = "sample_size" if f.name == spec.sample_size_column() else f.kind
    unit = f.unit or {"date": "date", "datetime": "date and time", "year": "year"}.get(f.kind, "")
    return Lever(f.name, kind, unit, f.bounds, f.seen)
