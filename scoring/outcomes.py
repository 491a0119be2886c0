"""Outcomes: what happened to launched concepts, recorded beside the prediction log.

An outcome names a concept by the id it was scored with and gives its actual launch date and
what the served spec's target needs: the 0/1 label, or the raw outcome the spec's rule derives
it from (both are kept when both are given, and must agree); the spec's continuous outcome
(e.g. 90-day GMV) may come along, and so may the cumulative outcome at any horizon of the
spec's ``outcomes`` (each as it comes in: :meth:`OutcomeStore.raw_by_concept` merges them).
:class:`OutcomeSchema` builds the record's pydantic model from the served model's spec, so POST
/outcomes and ``compass outcomes import`` accept exactly
the same records and name the row and field of every error.

:class:`OutcomeStore` keeps them in the prediction log's database, SQLite or PostgreSQL (same
connection, same lock). Rows are only ever added:

* a corrected outcome is a new row; the newest row of a concept counts
  (:meth:`OutcomeStore.latest`) and the history stays (:meth:`OutcomeStore.history`);
* each row carries a hash of its content (spec, id, launch date, label, raw outcomes; not when
  or from where it came), unique in the table: recording the same outcome again (a re-imported
  file, a retried request) adds nothing, so re-running an old import never undoes a later
  correction;
* outcomes of ids the prediction log never scored are kept, and reported as unmatched.

A request or a file is recorded whole or not at all. A partial import could make an older
outcome of a concept count while the file's correction of it, in a bad row, was refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, NamedTuple

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

from features.schema import ConceptSchema, InputField
from features.spec import TargetRule
from features.tables import TableError, read_table
from scoring.batch import coerce, json_types, missing
from scoring.prediction_log import PredictionLog

LABEL = "hit"  # the label's field when the spec's target is a rule (it names no label column)
ERRORS_SHOWN = 20
IDS_PER_LOOKUP = 500  # concept ids per IN (...) list: far under either database's limit
OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}

_TABLES = [
    """CREATE TABLE IF NOT EXISTS outcomes (
        id {auto_id},
        spec TEXT NOT NULL,
        concept_id TEXT NOT NULL,
        launch_date TEXT NOT NULL,
        label INTEGER NOT NULL,
        raw TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        source TEXT NOT NULL,
        content_hash TEXT NOT NULL UNIQUE
    )""",
    "CREATE INDEX IF NOT EXISTS outcomes_concept ON outcomes (spec, concept_id)",
]
COLUMNS = ["id", "spec", "concept_id", "launch_date", "label", "raw", "recorded_at", "source"]


class OutcomeError(ValueError):
    """Outcome records that do not validate: one message per bad row, naming row and field."""

    def __init__(self, errors: list[str], bad_rows: int, rows: int) -> None:
        self.errors = errors
        shown = "\n".join(errors[:ERRORS_SHOWN])
        more = f"\n... and {len(errors) - ERRORS_SHOWN} more" if len(errors) > ERRORS_SHOWN else ""
        super().__init__(f"{bad_rows} of {rows} row(s) invalid:\n{shown}{more}")


@dataclass(frozen=True)
class Outcome:
    """One validated outcome. ``label`` as given, or derived from ``raw`` by the spec's rule;
    ``raw``: the raw outcome columns given (column -> value)."""

    spec: str
    concept_id: str
    launch_date: str  # ISO date, or the year for a spec whose dates are years
    label: int
    raw: dict[str, float]

    def content_hash(self) -> str:
        content = [
            self.spec,
            self.concept_id,
            self.launch_date,
            self.label,
            sorted(self.raw.items()),
        ]
        return hashlib.sha256(json.dumps(content).encode()).hexdigest()


class StoredOutcome(NamedTuple):
    id: int  # insertion order: the newest row of a concept counts
    spec: str
    concept_id: str
    launch_date: str
    label: int
    raw: dict[str, float]
    recorded_at: str
    source: str


@dataclass(frozen=True)
class Receipt:
    """What recording did (field for field the service's answer)."""

    recorded: int  # new rows
    duplicates: int  # same content as a row already there (or earlier in the same batch)
    unmatched: int  # distinct ids the prediction log never scored (recorded all the same)
    unmatched_ids: list[str]


class OutcomeSchema:
    """The outcome record of one model's spec, as a pydantic model (``model``, extra fields
    forbidden): the id and launch date fields the concept schema has, the label (the target's
    column, or :data:`LABEL` beside a rule) and the raw outcome columns."""

    def __init__(self, schema: ConceptSchema) -> None:
        spec = schema.spec
        self.spec_name = spec.name
        self.id_field, self.date_field = schema.id_field, spec.date_column
        self.rule: TargetRule | None = spec.target.rule
        self.label_field = spec.target.column or LABEL
        raw = [self.rule.column if self.rule else None, spec.outcome_column, *spec.outcomes]
        self.raw_fields = [c for c in dict.fromkeys(raw) if c is not None]
        names = [self.id_field, self.date_field, self.label_field, *self.raw_fields]
        if len(set(names)) < len(names):
            raise ValueError(
                f"spec {spec.name!r}: outcome fields {names} collide (the label of a rule "
                f"target is called {LABEL!r})"
            )
        self.example = self._example(schema.example)
        self.model = self._model(schema)
        self.types = json_types(self.model)

    def derive(self, value: float) -> int:
        """The label the spec's rule gives a raw outcome."""
        assert self.rule is not None
        return int(OPS[self.rule.op](value, self.rule.value))

    def describe_rule(self) -> str:
        assert self.rule is not None
        return f"{self.rule.column} {self.rule.op} {self.rule.value:.15g}"  # 1e6 as 1000000

    def outcome(self, record: BaseModel) -> Outcome:
        """A validated record (an instance of ``model``) as stored."""
        data = record.model_dump(mode="json", by_alias=True)
        raw = {f: data[f] for f in self.raw_fields if data[f] is not None}
        label = data[self.label_field]
        if label is None:  # the validator made sure the rule's column is there
            label = self.derive(raw[self.rule.column])  # type: ignore[union-attr]
        return Outcome(self.spec_name, data[self.id_field], str(data[self.date_field]), label, raw)

    def validate(self, rows: Sequence[dict[str, Any]], first_row: int = 1) -> list[Outcome]:
        """Every row validated, or :class:`OutcomeError` listing every bad one (rows numbered
        from ``first_row``; messages name the field, never the value)."""
        out, errors, bad = [], [], 0
        for n, row in enumerate(rows, start=first_row):
            try:
                out.append(self.outcome(self.model.model_validate(row)))
            except ValidationError as exc:
                errors += [_message(n, e) for e in exc.errors()]
                bad += 1
        if errors:
            raise OutcomeError(errors, bad, len(rows))
        return out

    def read(self, path: Path) -> list[Outcome]:
        """A CSV or Parquet of outcome records, every row validated (row 1 = the first data
        row). A column the record does not take, or no id or date column, is a
        :class:`TableError`: a misspelt label column would otherwise look like a missing one."""
        frame = read_table(path, as_text=True)
        if unknown := [c for c in frame.columns if c not in self.types]:
            raise TableError(
                f"{path}: column(s) {', '.join(map(repr, unknown))} are not part of an outcome "
                f"of spec {self.spec_name!r} (it takes {', '.join(self.types)})"
            )
        if absent := [c for c in (self.id_field, self.date_field) if c not in frame.columns]:
            raise TableError(f"{path}: no column {', '.join(map(repr, absent))}")
        rows = [
            {k: coerce(self.types[k], v) for k, v in record.items() if not missing(v)}
            for record in frame.to_dict("records")
        ]
        return self.validate(rows)

    # ---- the model ----------------------------------------------------------------------------
    def _model(self, schema: ConceptSchema) -> type[BaseModel]:
        rule, label_field = self.rule, self.label_field

        def required(f: InputField) -> Any:
            return replace(f, required=True, default=None).annotation()

        date_kind = schema.by_name[self.date_field].kind
        label_help = "1 = hit, 0 = not, as the spec's target defines it"
        if rule is not None:
            label_help += f" ({self.describe_rule()}); may be left out when {rule.column} is given"
        number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
        label = Annotated[StrictInt, Field(ge=0, le=1)]
        fields: dict[str, Any] = {
            "id": (
                required(schema.by_name[self.id_field]),
                Field(alias=self.id_field, description="The concept's id, as it was scored."),
            ),
            "date": (
                required(schema.by_name[self.date_field]),
                Field(alias=self.date_field, description=f"Actual launch {date_kind}."),
            ),
            "label": (
                label if rule is None else label | None,
                Field(... if rule is None else None, alias=label_field, description=label_help),
            ),
        }
        horizons = schema.spec.outcomes
        for i, col in enumerate(self.raw_fields):
            what = (
                f"Raw outcome; the label follows from it ({self.describe_rule()})."
                if rule is not None and col == rule.column
                else f"Cumulative outcome to {horizons[col]} days after launch (send each "
                "horizon as it comes in; compass monitor checks the forecast's curve)."
                if col in horizons
                else "The spec's continuous outcome, kept for retraining."
            )
            fields[f"raw_{i}"] = (number | None, Field(None, alias=col, description=what))

        def consistent(record: BaseModel) -> BaseModel:
            if rule is None:
                return record
            value = getattr(record, f"raw_{self.raw_fields.index(rule.column)}")
            if record.label is None and value is None:  # type: ignore[attr-defined]
                raise PydanticCustomError(
                    "outcome_missing", f"give {label_field} or {rule.column} (or both)"
                )
            if value is not None and record.label not in (None, self.derive(value)):  # type: ignore[attr-defined]
                raise PydanticCustomError(
                    "label_disagrees",
                    f"{label_field} disagrees with {rule.column} under the spec's rule "
                    f"{self.describe_rule()}",
                )
            return record

        return create_model(
            "Outcome",
            __config__=ConfigDict(
                extra="forbid", json_schema_extra={"example": self.example}, allow_inf_nan=False
            ),
            __doc__=f"What happened to one launched concept (dataset spec {self.spec_name!r}).",
            __validators__={"consistent": model_validator(mode="after")(consistent)},
            **fields,
        )

    def _example(self, concept: dict[str, Any]) -> dict[str, Any]:
        example = {
            self.id_field: concept.get(self.id_field),
            self.date_field: concept.get(self.date_field),
        }
        if self.rule is not None:
            example[self.rule.column] = self.rule.value
            example[self.label_field] = self.derive(self.rule.value)
        else:
            example[self.label_field] = 1
        return example


def _message(row: int, error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"])
    return f"row {row}: {where}: {error['msg']}" if where else f"row {row}: {error['msg']}"


class OutcomeStore:
    """The ``outcomes`` table, in the prediction log's database and through its connection."""

    def __init__(self, log: PredictionLog) -> None:
        self.log = log
        log.create_tables(_TABLES)

    def record(self, outcomes: Sequence[Outcome], source: str) -> Receipt:
        """Add the outcomes not recorded yet, in one transaction; ``source``: ``http`` or the
        imported file's name."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        rows = [
            (
                o.spec,
                o.concept_id,
                o.launch_date,
                o.label,
                json.dumps(o.raw),
                now,
                source,
                o.content_hash(),
            )
            for o in outcomes
        ]
        ids = sorted({o.concept_id for o in outcomes})
        with self.log.transaction() as db:
            added = db.executemany(
                "INSERT INTO outcomes (spec, concept_id, launch_date, label, raw, recorded_at, "
                "source, content_hash) VALUES (?,?,?,?,?,?,?,?) "
                "ON CONFLICT (content_hash) DO NOTHING",
                rows,
            )
            scored: set[str] = set()
            for i in range(0, len(ids), IDS_PER_LOOKUP):
                chunk = ids[i : i + IDS_PER_LOOKUP]
                scored.update(
                    c
                    for (c,) in db.execute(
                        "SELECT DISTINCT concept_id FROM predictions WHERE concept_id IN "
                        f"({','.join('?' * len(chunk))})",
                        chunk,
                    )
                )
        unmatched = [i for i in ids if i not in scored]
        return Receipt(added, len(rows) - added, len(unmatched), unmatched)

    def latest(self, spec: str | None = None) -> list[StoredOutcome]:
        """The outcome that counts per concept (its newest row), in id order."""
        where, params = ("WHERE spec = ?", (spec,)) if spec is not None else ("", ())
        return self._read(
            f"WHERE id IN (SELECT MAX(id) FROM outcomes {where} GROUP BY spec, concept_id)",
            params,
        )

    def raw_by_concept(self, spec: str) -> dict[str, dict[str, float]]:
        """Per concept, every raw outcome column any of its records gave, the newest value of
        each: a later record may bring the 6-month GMV without repeating the 3-month one."""
        out: dict[str, dict[str, float]] = {}
        for row in self._read("WHERE spec = ?", (spec,)):  # oldest first
            out.setdefault(row.concept_id, {}).update(row.raw)
        return out

    def history(self, concept_id: str, spec: str | None = None) -> list[StoredOutcome]:
        """Every outcome recorded for a concept, oldest first."""
        if spec is None:
            return self._read("WHERE concept_id = ?", (concept_id,))
        return self._read("WHERE concept_id = ? AND spec = ?", (concept_id, spec))

    def count(self) -> int:
        return int(self.log.query("SELECT COUNT(*) FROM outcomes")[0][0])

    def _read(self, where: str, params: Sequence[Any]) -> list[StoredOutcome]:
        rows = self.log.query(
            f"SELECT {', '.join(COLUMNS)} FROM outcomes {where} ORDER BY id", params
        )
        return [StoredOutcome(*r[:5], json.loads(r[5]), *r[6:]) for r in rows]


def import_file(path: Path, schema: OutcomeSchema, store: OutcomeStore) -> tuple[int, Receipt]:
    """(rows read, receipt) for a CSV/Parquet of outcomes; its source is the file's name.
    Nothing is recorded unless every row is valid (:class:`OutcomeError` lists the bad ones)."""
    outcomes = schema.read(Path(path))
    return len(outcomes), store.record(outcomes, source=Path(path).name)
