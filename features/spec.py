"""Dataset spec: how a tabular launch history maps onto Hit Compass's features.

A spec is YAML (see ``training/specs/``). It travels inside every saved model, so serving builds
exactly the features training built.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.settings import settings

UNIX_FORMATS = ("unix", "unix_ms")  # date_format of Unix epoch seconds / milliseconds


class SpecError(ValueError):
    """A spec that cannot be read, or a spec and its data that disagree (a column that does
    not exist, dates that do not parse...); the message names the key or column and what to do."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetRule(_Strict):
    """Hit = ``column`` compared with ``value`` (e.g. Global_Sales >= 1.0)."""

    column: str
    op: Literal[">=", ">", "<=", "<", "=="] = ">="
    value: float


class Target(_Strict):
    """What a hit is: a 0/1 ``column``; a status ``column`` whose ``positive`` values are hits
    (every other value not), or a numeric ``rule``. ``unknown``: values of the column whose
    outcome is not known yet (a campaign still ``live``): those launches are left out of
    training and the test, and counted."""

    column: str | None = Field(
        None, description="A 0/1 column that already holds the label, or a status (positive)."
    )
    rule: TargetRule | None = None
    positive: list[str] | None = Field(
        None, description="The column's values that are hits (e.g. [successful])."
    )
    unknown: list[str] = Field(
        default_factory=list, description="The column's values whose outcome is not known yet."
    )

    @field_validator("positive", "unknown", mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> Any:
        """Status values as written in a CSV cell (YAML reads `1` or `yes` as other types)."""
        if isinstance(v, list):
            return [str(x).strip() for x in v]
        return v

    @model_validator(mode="after")
    def _one_of(self) -> Target:
        if (self.column is None) == (self.rule is None):
            raise ValueError("target needs exactly one of 'column' or 'rule'")
        if self.positive is not None and self.column is None:
            raise ValueError("target.positive lists values of target.column: name the column")
        if self.positive == []:
            raise ValueError("target.positive: list at least one value that is a hit")
        if both := set(self.positive or ()) & set(self.unknown):
            raise ValueError(f"target: {sorted(both)} both positive and unknown")
        return self

    @property
    def source_column(self) -> str:
        """The data column the label comes from."""
        return self.column if self.column is not None else self.rule.column  # type: ignore[union-attr]


class CountPair(_Strict):
    """A small-sample signal: ``successes`` out of ``trials``, or a mean ``rate`` (0..rate_scale)
    observed over ``trials`` raters. Shrunk toward a prior that depends on ``prior_by``."""

    name: str
    trials: str
    successes: str | None = None
    rate: str | None = None
    rate_scale: float = 1.0
    prior_by: list[str] = Field(default_factory=list)
    pre_test: bool = Field(False, description="Part of the small-sample test (masked pre-test).")

    @model_validator(mode="after")
    def _one_of(self) -> CountPair:
        if (self.successes is None) == (self.rate is None):
            raise ValueError(f"count pair {self.name!r} needs exactly one of successes or rate")
        return self


class EntityHistory(_Strict):
    """Extra history features of one entity column, every one computed from launches strictly
    before the scored one (outcomes only once known, after ``track_record_lag_days``)."""

    age: bool = Field(False, description="Days since the entity's first launch in the history.")
    window_days: int | None = Field(
        None, gt=0, description="Also: launches and shrunk hit rate over this many recent days."
    )
    outcome: bool = Field(
        False, description="Shrunk mean log(1 + outcome) of earlier launches (outcome_column)."
    )


class InputInfo(_Strict):
    """What the API says about one input column; every key optional (see features.schema)."""

    description: str | None = None
    unit: str | None = Field(None, description="e.g. 'CNY per unit'; also the what-if unit.")
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    whole: bool = Field(False, description="A whole number (count pairs' columns always are).")
    vocabulary: Literal["closed", "open"] | None = Field(
        None,
        description="Categorical only. closed: a value not seen in training is refused; open: "
        "it is scored, with a 'never seen in training' warning; unset: inferred from the "
        "history (features.build.infer_vocabulary).",
    )
    optional: bool = Field(
        False, description="May be left out (scored as missing, as LightGBM learnt to)."
    )
    default: str | float | int | None = Field(
        None,
        description="Value when the field is left out (otherwise the field is required, "
        "unless training saw it missing).",
    )

    @property
    def has_default(self) -> bool:
        return self.default is not None


class TextField(_Strict):
    """A column of the concept's own words (name, claims, description), scored by a text model
    of its own (``features.text``); in the spec a column name alone, or these keys."""

    column: str
    analyzer: Literal["char", "word"] = Field(
        "char",
        description="char: character n-grams within each token (works for languages written "
        "without spaces, such as Chinese); word: n-grams of whole words.",
    )
    ngram_range: tuple[int, int] = Field(
        (1, 4), description="Shortest and longest n-gram (characters or words)."
    )
    max_length: int = Field(
        1000, ge=1, le=100_000, description="Longest text the API takes, in characters."
    )

    @model_validator(mode="after")
    def _range(self) -> TextField:
        lo, hi = self.ngram_range
        if not 1 <= lo <= hi <= 8:
            raise ValueError(f"text {self.column!r}: ngram_range needs 1 <= low <= high <= 8")
        return self


class Filter(_Strict):
    year_from: int | None = None
    year_to: int | None = None
    require: list[str] = Field(default_factory=list, description="Rows must have these columns.")


class DatasetSpec(_Strict):
    name: str
    source: str = Field(description="'simulator' or a CSV/Parquet path relative to the spec.")
    encoding: str | None = Field(
        None, description="The CSV's text encoding (e.g. gb18030); default: detected."
    )
    id_column: str | None = None
    date_column: str
    date_is_year: bool = Field(False, description="The date column holds a year (e.g. 2008).")
    date_format: str | None = Field(
        None,
        description="How the date column is written: a strftime format (e.g. '%m/%d/%y %H:%M', "
        "'%d/%m/%Y'; an offset after it is read apart), or unix / unix_ms (epoch seconds / "
        "milliseconds); default: detected.",
    )
    target: Target
    outcome_column: str | None = Field(None, description="Continuous outcome, e.g. 90-day GMV.")
    outcomes: dict[str, int] = Field(
        default_factory=dict,
        description="The outcome over time: cumulative columns -> the days after launch each "
        "covers (e.g. gmv_30d: 30, gmv_360d: 360). The forecast becomes a curve over them; "
        "none: the outcome_column alone, as a single forecast.",
    )
    funnel: list[str] = Field(
        default_factory=list,
        description="Count pairs (by name) in the order people pass through them, e.g. "
        "reach -> interest -> trial -> positive -> repurchase: the funnel card.",
    )
    categorical: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)
    relative: dict[str, str] = Field(
        default_factory=dict, description="numeric column -> group column: log ratio to median."
    )
    count_pairs: list[CountPair] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=list, description="Track-record columns.")
    entity_history: dict[str, EntityHistory] = Field(
        default_factory=dict, description="entity column -> extra history features."
    )
    track_record_lag_days: int = Field(
        0, ge=0, description="An earlier launch's outcome is known this many days after it."
    )
    track_record_strength: float = Field(10.0, gt=0)
    festivals: list[tuple[int, int]] = Field(default_factory=list, description="(month, day)")
    monotone: dict[str, Literal[-1, 1]] = Field(default_factory=dict)
    leakage: list[str] = Field(default_factory=list, description="Known only after launch.")
    inputs: dict[str, InputInfo] = Field(
        default_factory=dict, description="input column (or id_column) -> what the API says"
    )
    example: dict[str, Any] | None = Field(
        None, description="The API's example concept; default: a recent training launch."
    )
    segment_column: str | None = Field(
        None, description="Categorical column /target sweeps (who to target); none: no /target."
    )
    levers: list[str] | None = Field(
        None,
        description="Columns /whatif may sweep; default: numeric inputs, the date and the "
        "small-sample test's size.",
    )
    text: list[TextField] = Field(
        default_factory=list,
        description="Columns of the concept's own words, e.g. [name, tagline]; each scored by "
        "a text model fitted inside each time fold (features.text, training.text).",
    )
    timing: list[Literal["weekday", "hour"]] = Field(
        default_factory=list,
        description="Launch timing features from the date column: weekday, and hour (the date "
        "is then a timestamp, its hour as written in its own offset).",
    )
    filter: Filter = Field(default_factory=Filter)
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Latest share held out as test.")
    test_from_year: int | None = Field(None, description="Test = launches from this year on.")
    test_from_date: dt.date | None = Field(
        None, description="Test = launches from this day on (YYYY-MM-DD)."
    )

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, v: str | None) -> str | None:
        if v is not None and v not in UNIX_FORMATS and "%" not in v:
            raise ValueError(
                f"{v!r} is neither unix, unix_ms nor a strftime format (e.g. '%m/%d/%Y')"
            )
        return v

    @field_validator("text", mode="before")
    @classmethod
    def _text_fields(cls, v: Any) -> Any:
        # a column name alone takes every default
        return [{"column": t} if isinstance(t, str) else t for t in v or []]

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        if self.test_from_year is not None and self.test_from_date is not None:
            raise ValueError("give test_from_year or test_from_date, not both")
        if self.date_is_year and self.date_format is not None:
            raise ValueError("date_format: the date column holds years (date_is_year)")
        inputs = set(self.input_columns())
        typed = set(self.categorical) | set(self.numeric) | set(self.entities) | {self.date_column}
        for col in self.text_columns():
            if col in typed:
                raise ValueError(f"text {col!r}: already a {self._role(col)} column")
        if len(set(self.text_columns())) != len(self.text):
            raise ValueError("text: a column is listed twice")
        if self.timing and self.date_is_year:
            raise ValueError("timing: the date column holds years (date_is_year)")
        for col in self.leakage:
            if col in inputs:
                raise ValueError(f"column {col!r} is declared leakage but used as a feature")
        for col, group in self.relative.items():
            if col not in self.numeric or group not in self.categorical:
                raise ValueError(f"relative {col!r}->{group!r}: needs numeric and categorical")
        for col in self.monotone:
            if col not in self.numeric:
                raise ValueError(f"monotone constraint on {col!r}, which is not a numeric column")
        for col, hist in self.entity_history.items():
            if col not in self.entities:
                raise ValueError(f"entity_history {col!r}: not listed under entities")
            if hist.outcome and self.outcome_column is None:
                raise ValueError(f"entity_history {col!r}: outcome needs an outcome_column")
        for pair in self.count_pairs:
            for g in pair.prior_by:
                if g not in self.categorical:
                    raise ValueError(f"count pair {pair.name!r}: prior_by {g!r} not categorical")
        for col, days in self.outcomes.items():
            if days <= 0:
                raise ValueError(f"outcomes.{col}: {days} days; a horizon is at least 1 day")
            if col in inputs:
                raise ValueError(f"outcomes.{col}: an outcome cannot be an input column")
        if len(set(self.outcomes.values())) < len(self.outcomes):
            raise ValueError("outcomes: two columns name the same number of days")
        pairs = {p.name: p for p in self.count_pairs}
        for name in self.funnel:
            if name not in pairs:
                raise ValueError(f"funnel: {name!r} is not a count pair ({', '.join(pairs)})")
            if pairs[name].successes is None:
                raise ValueError(f"funnel: {name!r} is a mean rating, not people who converted")
        if len(set(self.funnel)) < len(self.funnel):
            raise ValueError("funnel: a count pair is named twice")
        for col in self.inputs:
            if col not in inputs and col != self.id_column:
                raise ValueError(f"inputs.{col}: not an input column (nor the id_column)")
        if self.segment_column is not None and self.segment_column not in self.categorical:
            raise ValueError(f"segment_column {self.segment_column!r}: not a categorical column")
        for col in self.levers or []:
            if col not in self.lever_candidates():
                raise ValueError(
                    f"levers: {col!r} cannot be swept; choose from "
                    f"{', '.join(self.lever_candidates())}"
                )
        return self

    def horizons(self) -> list[tuple[str, int]]:
        """(column, days after launch) of the outcome over time, shortest first (empty: a
        single outcome)."""
        return sorted(self.outcomes.items(), key=lambda item: item[1])

    def headline_outcome(self) -> str | None:
        """The outcome a forecast states first: the outcome_column (when the spec has outcomes
        over time, if it is one of them), else the longest horizon."""
        if not self.outcomes or self.outcome_column in self.outcomes:
            return self.outcome_column
        return self.horizons()[-1][0]

    def _role(self, col: str) -> str:
        roles = {"categorical": self.categorical, "numeric": self.numeric}
        roles |= {"entity": self.entities, "date": [self.date_column]}
        return next(k for k, cols in roles.items() if col in cols)

    def text_columns(self) -> list[str]:
        """The columns of the concept's own words (``text``), in the spec's order."""
        return [t.column for t in self.text]

    def feature_monotone(self) -> dict[str, int]:
        """Feature -> the sign its effect is bound to: the ``monotone`` numbers, and every text
        score (+1: a phrase that raises the text score never lowers the answer)."""
        return {**self.monotone, **{text_feature(c): 1 for c in self.text_columns()}}

    def text_field(self, column: str) -> TextField:
        return next(t for t in self.text if t.column == column)

    def sample_size_column(self) -> str | None:
        """The small-sample test's size: the trials of a pre-test pair that no other pair
        counts as successes (samples sent, in the simulator)."""
        successes = {p.successes for p in self.count_pairs}
        sizes = [p.trials for p in self.count_pairs if p.pre_test and p.trials not in successes]
        return sizes[0] if sizes else None

    def lever_candidates(self) -> list[str]:
        """Columns a what-if may sweep: the date, numeric inputs, the test's sample size."""
        cols = [self.date_column, *self.numeric, self.sample_size_column()]
        return list(dict.fromkeys(c for c in cols if c is not None))

    def lever_columns(self) -> list[str]:
        return self.levers if self.levers is not None else self.lever_candidates()

    def input_columns(self) -> list[str]:
        """Columns a concept must provide to be scored (before launch)."""
        cols = [self.date_column, *self.categorical, *self.numeric, *self.entities]
        for p in self.count_pairs:
            cols += [p.trials, p.successes or p.rate]  # type: ignore[list-item]
        cols += self.text_columns()
        return list(dict.fromkeys(cols))

    def pre_test_columns(self) -> list[str]:
        """Columns of the small-sample test, zeroed to score a concept as if untested."""
        cols: list[str] = []
        for p in self.count_pairs:
            if p.pre_test:
                cols += [p.trials, p.successes or p.rate]  # type: ignore[list-item]
        return list(dict.fromkeys(cols))

    def source_path(self, spec_dir: Path | None) -> Path | None:
        if self.source == "simulator":
            return None
        path = Path(self.source)
        path = path if path.is_absolute() or spec_dir is None else spec_dir / path
        shared = settings().shared_data
        if not path.exists() and shared is not None:
            # a clone that does not sit beside shared/: look in the folder the setting names
            return shared / path.name
        return path


def text_feature(column: str) -> str:
    """The feature holding a text column's score (``features.text``)."""
    return f"{column}_text_score"


def load_spec(path: str | Path) -> DatasetSpec:
    """Read a YAML spec; a :class:`SpecError` (one paragraph) names the file and each offending
    key."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise SpecError(f"spec {path} is not valid YAML{line}: {problem}") from None
    except UnicodeDecodeError:
        raise SpecError(f"spec {path} is not a text (UTF-8) file") from None
    if not isinstance(raw, dict):
        raise SpecError(f"spec {path}: expected keys (name, source, date_column, target, ...)")
    try:
        return DatasetSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(f"spec {path}: {validation_summary(exc)}") from None


def validation_summary(exc: ValidationError) -> str:
    """A pydantic error as one line per problem joined by '; ': the key path and the reason."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (a typo?)"
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)
