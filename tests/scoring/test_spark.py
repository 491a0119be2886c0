"""Bulk scoring on Spark: the same rows, columns, probabilities and messages as `compass score`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.simulator import simulate
from scoring.batch import score_frame
from scoring.spark import score_parquet

SPLIT = 120  # rows of the folder's first file
BAD = {4: "reach", 9: "price", SPLIT + 30: "category"}  # row (from 0) -> the field made wrong


@pytest.fixture(scope="module")
def concepts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 concepts as one Parquet file (all.parquet) and as a folder of two (parts/); the
    marketing budget as text, as an export writes it (800,000.00)."""
    frame = simulate(240, 21)
    frame["marketing_budget"] = [f"{m:,.2f}" for m in frame["marketing_budget"]]
    assert frame.loc[4, "concept_id"] == "sim-21-000004"  # the ids the messages name
    frame.loc[4, "reach"] = -3  # out of bounds
    frame.loc[9, "price"] = np.nan  # a required field missing
    frame.loc[SPLIT + 30, "category"] = "perfume"  # not in the closed vocabulary
    folder = tmp_path_factory.mktemp("spark")
    # microsecond timestamps: Spark refuses pandas' nanoseconds
    frame.to_parquet(folder / "all.parquet", index=False, coerce_timestamps="us")
    (folder / "parts").mkdir()
    for name, part in (("a", frame.iloc[:SPLIT]), ("b", frame.iloc[SPLIT:])):
        part.to_parquet(folder / "parts" / f"{name}.parquet", index=False, coerce_timestamps="us")
    return folder


@pytest.fixture(scope="module")
def model_dir(champion: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The champion's native files, fetched from the registry as `compass score` fetches them."""
    from training.registry import download_version

    return download_version(champion["version"], tmp_path_factory.mktemp("model"))[0]


def test_spark_scores_like_compass_score(
    spark, scorer, champion: dict, model_dir: Path, concepts: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "scored"
    report = score_parquet(
        spark, str(concepts / "all.parquet"), str(dst), model_dir, champion["version"]
    )
    assert (report.rows, report.scored) == (240, 237)
    assert report.notes == [
        "marketing_budget: text in the file, its numbers read as training reads them"
    ]
    one_process, _ = score_frame(
        pd.read_parquet(concepts / "all.parquet"), scorer, progress=False, request_id="same"
    )
    on_spark = pd.read_parquet(dst).sort_values("concept_id", ignore_index=True)
    assert list(on_spark.columns) == list(one_process.columns)
    # one request id for the whole job, on every scored row
    assert set(on_spark["request_id"].dropna()) == {report.request_id}
    on_spark["request_id"] = one_process["request_id"]
    pd.testing.assert_frame_equal(on_spark, one_process, check_exact=True)
    errors = on_spark["error"].dropna()
    named = [f"row {i + 1} (concept_id 'sim-21-{i:06d}'): {f}" for i, f in BAD.items()]
    assert errors.str.startswith(tuple(named)).all()  # each bad row once (3 errors, 3 rows)
    assert len(errors) == 3 and sorted(report.errors) == sorted(errors)


def test_compass_score_on_spark(
    spark, scorer, champion: dict, concepts: Path, tmp_path: Path
) -> None:
    """A folder of Parquet files through the CLI: rows named by file, exit status 1."""
    from compass.cli import app

    dst = tmp_path / "scored"
    args = ["score", str(concepts / "parts"), "-o", str(dst), "--engine", "spark"]
    args += ["--version", champion["version"]]  # the scorer's, whatever the alias says by now
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1, r.output
    assert "237 of 240 concepts scored" in r.output and "3 invalid row(s)" in r.output
    assert "marketing_budget: text in the file" in r.output
    assert "a.parquet row 5 (concept_id 'sim-21-000004'): reach" in r.output
    assert "b.parquet row 31 (concept_id 'sim-21-000150'): category" in r.output
    on_spark = pd.read_parquet(dst).set_index("concept_id")
    one_process, _ = score_frame(pd.read_parquet(concepts / "all.parquet"), scorer, progress=False)
    expected = one_process.set_index("concept_id")["hit_probability"]
    assert on_spark["hit_probability"].sort_index().equals(expected.sort_index())


def test_spark_user_errors(spark, champion: dict, concepts: Path, tmp_path: Path) -> None:
    from compass.cli import app

    runner = CliRunner()
    src = str(concepts / "all.parquet")
    r = runner.invoke(app, ["score", src, "-o", str(tmp_path / "x"), "--engine", "spark", "--log"])
    assert r.exit_code == 2 and "no prediction log" in r.output, r.output
    r = runner.invoke(app, ["score", src, "--spark-master", "local[2]"])
    assert r.exit_code == 2 and "only with --engine spark" in r.output, r.output
    # a file without a required column, and one with pandas' nanosecond timestamps
    no_price = tmp_path / "no_price.parquet"
    pd.read_parquet(src).drop(columns="price").to_parquet(no_price, coerce_timestamps="us")
    nanos = tmp_path / "nanos.parquet"
    pd.read_parquet(src).astype({"launch_date": "datetime64[ns]"}).to_parquet(nanos)
    cases = [
        (no_price, tmp_path / "y", "no column 'price'"),
        (nanos, tmp_path / "y", "microseconds"),
        (no_price, tmp_path, "would delete the input"),  # the output folder holds the input
    ]
    for path, dst, message in cases:
        r = runner.invoke(app, ["score", str(path), "-o", str(dst), "--engine", "spark"])
        assert r.exit_code == 1 and message in r.output, r.output
    assert no_price.exists()


def test_compass_simulate_writes_what_spark_reads(spark, tmp_path: Path) -> None:
    from compass.cli import app

    path = tmp_path / "launches.parquet"
    r = CliRunner().invoke(app, ["simulate", "--n", "50", "-o", str(path)])
    assert r.exit_code == 0, r.output
    launches = spark.read.parquet(str(path))
    assert launches.count() == 50 and launches.schema["launch_date"].dataType.typeName() in (
        "timestamp",
        "timestamp_ntz",
    )


def test_the_service_never_imports_pyspark() -> None:
    code = (
        "import sys, serving.service, compass.cli; "
        "print([m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j')])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
