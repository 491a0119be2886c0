"""Load a launch history (simulator, CSV or Parquet) as its dataset spec describes.

Checks the table at the boundary: every column the spec names must exist (the error names it),
dates and numbers must parse (what did not is counted and reported, never silently kept). Dates
are read by ``training.dates`` (offsets, formats); the frame gains ``launch_day`` (the launch's
local day) and ``launch_time`` (its instant, UTC).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from features.columns import from_frame, launch_days
from features.numbers import parse_numbers
from features.simulator import simulate
from features.spec import DatasetSpec, SpecError
from features.tables import read
from training.dates import ParsedDates, parse_dates

DEFAULT_SIM_ROWS, DEFAULT_SIM_SEED = 20_000, 7


@dataclass
class LoadedData:
    # one row per launch, sorted by date, with "label", "launch_day" and "launch_time"
    frame: pd.DataFrame
    # counts of what was read, dropped and used; "encoding": what a CSV was decoded with;
    # "date_format" and its kin: how the dates were read (training.dates)
    report: dict[str, Any] = field(default_factory=dict)
    # what a person should see on the console (a fallback encoding, ambiguous dates...)
    notes: list[str] = field(default_factory=list)


def simulated_frame(n_rows: int, seed: int, spec: DatasetSpec) -> pd.DataFrame:
    """Simulate and load through the same validated path as a user's file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "launches.parquet"
        simulate(n_rows, seed).to_parquet(path, index=False)
        return load_launches(spec, data=path).frame


def named_columns(spec: DatasetSpec) -> list[str]:
    """Every column the spec names in the data (inputs, id, target, outcome, filter, leakage)."""
    needed = list(spec.input_columns())
    if spec.id_column:
        needed.append(spec.id_column)
    needed.append(spec.target.source_column)
    needed += [spec.outcome_column] if spec.outcome_column else []
    needed += list(spec.outcomes)
    needed += spec.filter.require
    return list(dict.fromkeys(needed))


def check_columns(frame: pd.DataFrame, spec: DatasetSpec) -> None:
    """Fail before any training if a column the spec names is absent."""
    missing = [c for c in named_columns(spec) if c not in frame.columns]
    if missing:
        raise SpecError(
            f"spec {spec.name!r} names column(s) not in the data: {', '.join(missing)} "
            f"(available: {', '.join(map(repr, map(str, frame.columns)))})"
        )


def match_headers(frame: pd.DataFrame, names: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` with its headers renamed to the spec's ``names`` where they differ only by
    surrounding spaces (``" goal "``), or else by case (``Goal``) when exactly one header
    matches so; (frame, {header as written: name in the spec})."""
    headers = [str(c) for c in frame.columns]
    matched: dict[str, str] = {}
    for name in names:
        if name in headers:
            continue
        free = [h for h in headers if h not in names and h not in matched]
        for key in (str.strip, _folded):
            candidates = [h for h in free if key(h) == key(name)]
            if len(candidates) == 1:
                matched[candidates[0]] = name
                break
            if len(candidates) > 1:  # ambiguous: left to the missing-column error
                break
    if not matched:
        return frame, {}
    return frame.rename(columns=matched), matched


def _folded(header: str) -> str:
    return header.strip().casefold()


OUTCOME_LABEL = "_outcome_label"  # a scored concept's label, as its recorded outcome gave it
# a numeric column more than this share of whose values do not read as numbers stops loading
MOSTLY_UNREADABLE = 0.5


def load_launches(
    spec: DatasetSpec,
    data: Path | None = None,
    spec_dir: Path | None = None,
    scored: pd.DataFrame | None = None,
) -> LoadedData:
    """Read, validate and label a launch history. ``scored``: concepts scored before their
    launch whose outcomes came back (``training.outcome_history``): their inputs as submitted,
    the actual launch date in the date column and the label in :data:`OUTCOME_LABEL`; they join
    the history, except those the history already holds (same id).

    :class:`SpecError` (one paragraph, naming the column and what was found) when the data
    cannot be what the spec says: a missing column, a numeric column mostly not numbers, a
    date column that does not read as dates, a target that is not 0/1, counts that break the
    boundary checks."""
    encoding = note = None
    if data is None and spec.source == "simulator":
        raw = simulate(DEFAULT_SIM_ROWS, DEFAULT_SIM_SEED)
    else:
        path = Path(data) if data is not None else spec.source_path(spec_dir)
        raw, encoding, note = read(path, encoding=spec.encoding)  # type: ignore[arg-type]
    raw, matched = match_headers(raw, [*named_columns(spec), *spec.leakage])
    check_columns(raw, spec)
    report: dict[str, Any] = {"rows_read": len(raw)}
    notes: list[str] = []
    if matched:
        report["columns_matched"] = matched
    if scored is not None:
        raw, report["scored_with_outcomes"], report["scored_already_in_history"] = _with_scored(
            raw, scored, spec
        )
    if encoding is not None:
        report["encoding"] = encoding
    if note is not None:
        report["encoding_note"] = note
        notes.append(f"{path.name}: {note}")  # type: ignore[union-attr]
    # leakage columns stay in the frame for evaluation only: the spec validator guarantees
    # they are never feature inputs, and to_columns passes nothing but the spec's inputs
    report["leakage_columns"] = sum(c in raw.columns for c in spec.leakage)
    df = raw.copy()

    for col in _number_columns(spec):
        parsed = parse_numbers(df[col])
        if parsed.cleaned:
            report.setdefault("numbers_cleaned", {})[col] = parsed.describe_cleaning()
        if parsed.failed:
            report[f"unparseable_{col}"] = parsed.failed
            shown = ", ".join(repr(v) for v in parsed.examples)
            if parsed.failed > MOSTLY_UNREADABLE * parsed.filled:
                raise SpecError(
                    f"numeric column {col!r}: {parsed.failed} of {parsed.filled} values are not "
                    f"numbers (e.g. {shown}); fix the column in the file, or list it under "
                    "categorical if it holds categories"
                )
            notes.append(
                f"{col}: {parsed.failed} of {parsed.filled} values are not numbers (e.g. "
                f"{shown}): read as missing"
            )
        df[col] = parsed.values
    for col in spec.categorical + spec.entities:
        df[col] = _as_text(df[col]).fillna("unknown").astype(str)

    from_outcomes = df[OUTCOME_LABEL].notna() if OUTCOME_LABEL in df else None
    if spec.date_is_year:
        year = pd.to_numeric(df[spec.date_column], errors="coerce")
        report["missing_date"] = int(year.isna().sum())
        df = df[year.notna()].copy()
        df["launch_day"] = pd.to_datetime(launch_days(year[year.notna()].to_numpy(), True))
        df["launch_time"] = df["launch_day"].dt.tz_localize("UTC")
    else:
        dates = _launch_dates(df[spec.date_column], spec, from_outcomes)
        report |= dates.report
        notes += dates.notes
        report["missing_date"] = int(dates.day.isna().sum())
        df = df[dates.day.notna()].copy()
        df["launch_day"] = dates.day[dates.day.notna()]
        df["launch_time"] = dates.instant[dates.day.notna()]
        if "hour" in spec.timing and dates.wall is not None:  # as written, in its own offset
            df["launch_hour"] = dates.wall[dates.day.notna()].dt.hour.astype(float)

    years = df["launch_day"].dt.year
    keep = pd.Series(True, index=df.index)
    if spec.filter.year_from is not None:
        keep &= years >= spec.filter.year_from
    if spec.filter.year_to is not None:
        keep &= years <= spec.filter.year_to
    for col in spec.filter.require:
        keep &= df[col].notna()
    report["filtered_out"] = int((~keep).sum())
    df = df[keep].copy()

    target, unknown = _target(df, spec)
    if OUTCOME_LABEL in df:  # the recorded label counts (a rule target's raw value may be absent)
        given = pd.to_numeric(df[OUTCOME_LABEL], errors="coerce")
        target = target.where(given.isna(), given)
        unknown &= given.isna()
        df = df.drop(columns=OUTCOME_LABEL)
    if spec.target.unknown:
        report["outcome_unknown"] = int(unknown.sum())  # candidates for scoring, not failures
    report["missing_target"] = int((target.isna() & ~unknown).sum())
    df = df[target.notna()].copy()
    df["label"] = target[target.notna()].astype(int)

    if df.empty:
        dropped = ("missing_date", "filtered_out", "missing_target", "outcome_unknown")
        counts = ", ".join(f"{k} {report[k]}" for k in dropped if report.get(k))
        raise SpecError(
            f"spec {spec.name!r}: no launches to learn from ({report['rows_read']} rows read"
            f"{'; left out: ' + counts if counts else ''})"
        )
    df = df.sort_values("launch_day", kind="stable").reset_index(drop=True)
    _validate(df, spec)
    report["rows_used"] = len(df)
    report["hits"] = int(df["label"].sum())
    return LoadedData(df, report, notes)


def _number_columns(spec: DatasetSpec) -> list[str]:
    """Columns read as numbers: numeric inputs, count pairs, a rule's column, the outcome."""
    cols = [*spec.numeric, *_pair_columns(spec)]
    cols += [spec.target.rule.column] if spec.target.rule else []
    cols += [spec.outcome_column] if spec.outcome_column else []
    return list(dict.fromkeys(cols))


def _target(df: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.Series, pd.Series]:
    """(the label per row, 0/1 or NaN where unknown or missing; True where the target column
    holds one of ``target.unknown``'s values)."""
    t = spec.target
    column = t.source_column
    written = df[column].astype("string").str.strip()
    unknown = written.isin(t.unknown).fillna(False).astype(bool)
    if t.positive is not None:
        label = written.isin(t.positive).astype(float).where(written.notna() & (written != ""))
    elif t.column is not None:
        label = pd.to_numeric(df[column].where(~unknown), errors="coerce")
        if not label.dropna().isin([0, 1]).all():
            seen = ", ".join(
                repr(str(v)) for v in written[label.notna() & ~label.isin([0, 1])].unique()[:3]
            )
            raise SpecError(
                f"target column {column!r} must hold 0/1 (found {seen}); for a status column, "
                f"list the values that are hits under target.positive"
            )
        not_numbers = written.notna() & (written != "") & label.isna() & ~unknown
        if not_numbers.any():
            seen = ", ".join(repr(str(v)) for v in written[not_numbers].unique()[:3])
            raise SpecError(
                f"target column {column!r} holds {int(not_numbers.sum())} values that are not "
                f"0/1 (e.g. {seen}); list the values that are hits under target.positive (and "
                "those whose outcome is not known yet under target.unknown)"
            )
    else:
        rule = t.rule
        value = df[column].where(~unknown)
        ops = {">=": value.ge, ">": value.gt, "<=": value.le, "<": value.lt, "==": value.eq}
        label = ops[rule.op](rule.value).astype(float).where(value.notna())  # type: ignore[union-attr]
    return label.where(~unknown), unknown


def _api_times(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(local time as written, UTC instant) of the API's ISO dates and times, each with its own
    offset or none (a naive time is taken as UTC): NaT where one does not read."""
    local, instant = [], []
    for v in values.astype(str):
        try:
            t = pd.Timestamp(v)
        except ValueError:
            t = pd.NaT
        aware = t is not pd.NaT and t.tzinfo is not None
        local.append(t.tz_localize(None) if aware else t)
        instant.append(
            t.tz_convert("UTC") if aware else (t if t is pd.NaT else t.tz_localize("UTC"))
        )
    as_local = pd.Series(local, index=values.index, dtype="datetime64[ns]")
    return as_local, pd.Series(instant, index=values.index, dtype="datetime64[ns, UTC]")


def _launch_dates(
    values: pd.Series, spec: DatasetSpec, from_outcomes: pd.Series | None
) -> ParsedDates:
    """The date column parsed; recorded outcomes' dates (ISO, as the API took them) apart from
    the history's own, whatever format the history writes."""
    if from_outcomes is None or not from_outcomes.any():
        return parse_dates(values, spec.date_column, spec.date_format)
    dates = parse_dates(values[~from_outcomes], spec.date_column, spec.date_format)
    api, api_instant = _api_times(values[from_outcomes])
    day = pd.concat([dates.day, api.dt.normalize()]).reindex(values.index)
    instant = pd.concat([dates.instant, api_instant]).reindex(values.index)
    wall = None if dates.wall is None else pd.concat([dates.wall, api]).reindex(values.index)
    return ParsedDates(day, instant, dates.report, dates.notes, wall=wall)


def _as_text(values: pd.Series) -> pd.Series:
    """A category or entity column as text; whole numbers stored as floats (an id column with
    gaps) read as written (119745, not 119745.0)."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if len(whole) and (whole == whole.round()).all():
            return values.astype("Int64").astype("string")
    return values.astype("string")


def _with_scored(
    raw: pd.DataFrame, scored: pd.DataFrame, spec: DatasetSpec
) -> tuple[pd.DataFrame, int, int]:
    """The history with the scored concepts appended; (frame, appended, already there)."""
    if spec.id_column:
        known = scored[spec.id_column].astype(str).isin(set(raw[spec.id_column].astype(str)))
        scored, dropped = scored[~known], int(known.sum())
    else:  # nothing names a launch: every scored concept is a launch of its own
        dropped = 0
    if scored.empty:
        return raw, 0, dropped
    return pd.concat([raw, scored], ignore_index=True), len(scored), dropped


def _pair_columns(spec: DatasetSpec) -> list[str]:
    cols: list[str] = []
    for p in spec.count_pairs:
        cols += [p.trials, p.successes or p.rate]  # type: ignore[list-item]
    return cols


def _validate(df: pd.DataFrame, spec: DatasetSpec) -> None:
    """The boundary checks (:func:`_schema`), their failures as one :class:`SpecError`."""
    try:
        _schema(spec).validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        parts = []
        for check, group in cases.groupby("check", sort=False):
            rows = group["index"].nunique()
            columns = group.loc[group["schema_context"] == "Column", "column"].unique()
            where = f"column {columns[0]!r}: " if len(columns) == 1 else ""
            parts.append(f"{where}{rows} launches fail {check}")
        raise SpecError(
            f"spec {spec.name!r}: the data breaks its checks: {'; '.join(parts)}"
        ) from None


def _schema(spec: DatasetSpec) -> pa.DataFrameSchema:
    """Boundary checks: counts are non-negative, successes never exceed trials."""
    checks: dict[str, pa.Column] = {"label": pa.Column(int, pa.Check.isin([0, 1]))}
    for p in spec.count_pairs:
        checks[p.trials] = pa.Column(float, pa.Check.ge(0), nullable=True, coerce=True)
    frame_checks = [
        pa.Check(
            lambda d, p=p: (d[p.successes].fillna(0) <= d[p.trials].fillna(0)) | d[p.trials].isna(),
            name=f"{p.successes} <= {p.trials}",
        )
        for p in spec.count_pairs
        if p.successes
    ]
    return pa.DataFrameSchema(checks, checks=frame_checks)


def day_numbers(frame: pd.DataFrame) -> np.ndarray:
    """A loaded launch history's launch days as integers (days since 1970-01-01), the time axis
    of the time folds and the recency weights."""
    return frame["launch_day"].to_numpy().astype("datetime64[D]").astype(np.int64)


def to_columns(frame: pd.DataFrame, spec: DatasetSpec) -> dict[str, np.ndarray]:
    """A loaded launch history -> the column mapping the feature builder takes (its launch days
    were parsed once, by the date rule, into ``launch_day``, and with ``timing: [hour]`` the
    hour into ``launch_hour``)."""
    hours = frame["launch_hour"].to_numpy() if "launch_hour" in frame else None
    return from_frame(frame, spec, days=frame["launch_day"].to_numpy(), hours=hours)
