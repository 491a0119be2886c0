"""Bulk scoring on Spark (``compass score --engine spark``): a Parquet file or folder in, a
Parquet folder out, with the columns and messages of the single-process ``compass score``.

Each partition goes through the single-process code itself (:func:`scoring.batch.score_frame`:
the model's concept schema, the :class:`~scoring.scorer.Scorer`, the flattened answer and the
``error`` column) inside ``mapInPandas``. The model's native files travel with the job
(``SparkContext.addFile``) and each Python worker loads them once. Invalid rows are named by
their row in their file, ``row 5`` (one input file) or ``part-1.parquet row 5`` (a folder).

No prediction log: executors on a cluster cannot reach the SQLite log on the submitting machine,
and funnelling every row back through the driver would undo the point of the job. The output is
the record instead (every row carries its ``request_id`` and ``model_version``).

Only ``compass score --engine spark`` imports this module: the service never imports pyspark.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from pyspark import SparkFiles
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from features.tables import TableError
from models.hit_model import HitModel
from scoring.batch import BatchReport, answer_columns, check_columns, number_fields, score_frame
from scoring.prediction_log import new_request_id
from scoring.scorer import Scorer

SHOWN_ERRORS = 20  # messages brought back to the driver; the rest are in the output's column
_FILE, _ROW = "__hit_compass_file", "__hit_compass_row"  # hidden columns: where a row came from
_TYPES = {float: DoubleType(), str: StringType()}
_worker_scorer: dict[str, Scorer] = {}  # per Python worker: the job's model, loaded once


def session(master: str | None = None) -> SparkSession:
    """The running session, or a new one (``master``: e.g. ``local[2]``; default: what
    spark-submit was given, else Spark's ``local[*]``)."""
    builder = SparkSession.builder.appName("compass score")
    if master:
        builder = builder.master(master)
    return builder.getOrCreate()


def score_parquet(
    spark: SparkSession, src: str, dst: str, model_dir: Path, version: str
) -> BatchReport:
    """Score every row of the Parquet file or folder ``src`` with the native model folder
    ``model_dir`` (registered version ``version``) into the Parquet folder ``dst``
    (overwritten)."""
    scorer = Scorer(HitModel.load(model_dir), version)
    if Path(src).resolve().is_relative_to(Path(dst).resolve()):
        raise TableError(f"{dst}: writing it would delete the input {src}; choose another folder")
    frame = _read(spark, src)
    check_columns(frame.columns, scorer, src)
    # each executor reads such cells as score_frame does; counting them would cost a pass
    numbers = number_fields(scorer.schema)
    notes = [
        f"{f.name}: text in the file, its numbers read as training reads them"
        for f in frame.schema.fields
        if f.name in numbers and isinstance(f.dataType, StringType)
    ]
    answers = answer_columns(scorer)
    # as score_frame: input columns named like an answer give way to it, except `error`, which
    # keeps its place (and takes the new messages)
    kept = [
        StructField("error", StringType()) if f.name == "error" else f
        for f in frame.schema.fields
        if f.name not in answers or f.name == "error"
    ]
    added = [StructField(n, _TYPES[t]) for n, t in answers.items() if n not in frame.columns]
    schema = StructType(kept + added)
    request_id = new_request_id()
    by_file = len(frame.inputFiles()) > 1
    with tempfile.TemporaryDirectory() as tmp:
        # a name of its own per job: addFile refuses a second, different file of the same name
        shipped = Path(tmp) / f"hit-compass-model-{request_id}"
        shutil.copytree(model_dir, shipped)
        spark.sparkContext.addFile(str(shipped), recursive=True)

        def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            for batch in batches:
                yield _score_batch(batch, shipped.name, version, request_id, by_file, schema)

        located = frame.select(
            "*", F.col("_metadata.file_name").alias(_FILE), F.col("_metadata.row_index").alias(_ROW)
        )
        located.mapInPandas(score, schema).write.mode("overwrite").parquet(dst)
    report = _summary(spark.read.parquet(dst), request_id)
    report.notes = notes
    return report


def _read(spark: SparkSession, src: str) -> DataFrame:
    try:
        return spark.read.parquet(src)
    except AnalysisException as exc:
        hint = ""
        if "NANOS" in str(exc):  # pandas' default, which Spark does not read
            hint = (
                "; it holds nanosecond timestamps, which Spark cannot read: write them as "
                "microseconds (pandas: to_parquet(..., coerce_timestamps='us'))"
            )
        raise TableError(
            f"{src}: Spark cannot read it as Parquet ({exc.getMessage()}){hint}"
        ) from None


def _score_batch(
    batch: pd.DataFrame,
    model_file: str,
    version: str,
    request_id: str,
    by_file: bool,
    schema: StructType,
) -> pd.DataFrame:
    """One Arrow batch of a partition, on an executor: score_frame, as `compass score` runs it."""
    if model_file not in _worker_scorer:
        _worker_scorer.clear()  # one job's model at a time
        _worker_scorer[model_file] = Scorer(HitModel.load(SparkFiles.get(model_file)), version)
    rows = [f"row {r + 1}" for r in batch[_ROW]]
    names = [f"{f} {r}" for f, r in zip(batch[_FILE], rows, strict=True)] if by_file else rows
    frame = batch.drop(columns=[_FILE, _ROW]).reset_index(drop=True)
    out, _ = score_frame(
        frame, _worker_scorer[model_file], progress=False, request_id=request_id, names=names
    )
    # a batch with no valid row has no answer columns: the schema's columns, null where absent
    return out.reindex(columns=schema.fieldNames())


def _summary(scored: DataFrame, request_id: str) -> BatchReport:
    counts = {ok: n for ok, n in scored.groupBy(F.col("error").isNull()).count().collect()}
    errors = scored.where(F.col("error").isNotNull()).select("error").limit(SHOWN_ERRORS)
    return BatchReport(
        rows=sum(counts.values()),
        scored=counts.get(True, 0),
        errors=[r.error for r in errors.collect()],
        request_id=request_id,
    )
