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
from features.simulator import simulate
from features.spec import DatasetSpec, SpecError
from features.tables import read
from training.dates import parse_dates

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


def check_columns(frame: pd.DataFrame, spec: DatasetSpec) -> None:
    """Fail before any training if a column the spec names is absent."""
    needed = list(spec.input_columns())
    if spec.id_column:
        needed.append(spec.id_column)
    needed += [spec.target.column] if spec.target.column else [spec.target.rule.column]  # type: ignore[union-attr]
    needed += [spec.outcome_column] if spec.outcome_column else []
    needed += spec.filter.require
    missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if missing:
        raise SpecError(
            f"spec {spec.name!r} names column(s) not in the data: {', '.join(missing)} "
            f"(available: {', '.join(map(str, frame.columns))})"
        )


OUTCOME_LABEL = "_outcome_label"  # a scored concept's label, as its recorded outcome gave it


def load_launches(
    spec: DatasetSpec,
    data: Path | None = None,
    spec_dir: Path | None = None,
    scored: pd.DataFrame | None = None,
) -> LoadedData:
    """Read, validate and label a launch history. ``scored``: concepts scored before their
    launch whose outcomes came back (``training.outcome_history``): their inputs as submitted,
    the actual launch date in the date column and the label in :data:`OUTCOME_LABEL`; they join
    the history, except those the history already holds (same id)."""
    encoding = note = None
    if data is None and spec.source == "simulator":
        raw = simulate(DEFAULT_SIM_ROWS, DEFAULT_SIM_SEED)
    else:
        path = Path(data) if data is not None else spec.source_path(spec_dir)
        raw, encoding, note = read(path, encoding=spec.encoding)  # type: ignore[arg-type]
    check_columns(raw, spec)
    report: dict[str, Any] = {"rows_read": len(raw)}
    notes: list[str] = []
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

    for col in [*spec.numeric, *_pair_columns(spec)]:
        if not pd.api.types.is_numeric_dtype(df[col]):
            parsed = pd.to_numeric(df[col], errors="coerce")
            bad = int((parsed.isna() & df[col].notna()).sum())
            if bad:
                report[f"unparseable_{col}"] = bad
            df[col] = parsed
    for col in spec.categorical + spec.entities:
        df[col] = _as_text(df[col]).fillna("unknown").astype(str)

    if spec.date_is_year:
        year = pd.to_numeric(df[spec.date_column], errors="coerce")
        report["missing_date"] = int(year.isna().sum())
        df = df[year.notna()].copy()
        df["launch_day"] = pd.to_datetime(launch_days(year[year.notna()].to_numpy(), True))
        df["launch_time"] = df["launch_day"].dt.tz_localize("UTC")
    else:
        dates = parse_dates(df[spec.date_column], spec.date_column, spec.date_format)
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

    if spec.target.column:
        target = pd.to_numeric(df[spec.target.column], errors="coerce")
    else:
        rule = spec.target.rule
        target = pd.to_numeric(df[rule.column], errors="coerce")  # type: ignore[union-attr]
        ops = {">=": target.ge, ">": target.gt, "<=": target.le, "<": target.lt}
        target = ops[rule.op](rule.value).where(target.notna())  # type: ignore[union-attr]
    if OUTCOME_LABEL in df:  # the recorded label counts (a rule target's raw value may be absent)
        given = pd.to_numeric(df[OUTCOME_LABEL], errors="coerce")
        target = target.where(given.isna(), given)
        df = df.drop(columns=OUTCOME_LABEL)
    report["missing_target"] = int(target.isna().sum())
    df = df[target.notna()].copy()
    df["label"] = target[target.notna()].astype(int)
    if not df["label"].isin([0, 1]).all():
        raise SpecError(f"target column {spec.target.column!r} must hold 0/1")

    df = df.sort_values("launch_day", kind="stable").reset_index(drop=True)
    _schema(spec).validate(df, lazy=True)
    report["rows_used"] = len(df)
    report["hits"] = int(df["label"].sum())
    return LoadedData(df, report, notes)


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
