"""Batch scoring: a file of concepts scored like the API, every row kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.simulator import simulate
from scoring.batch import score_file, validate
from scoring.prediction_log import COLUMNS


# ---- batch scoring ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def concepts_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = simulate(1000, 21)
    frame["launch_date"] = frame["launch_date"].dt.strftime("%Y-%m-%d")
    frame = frame.astype(
        {c: object for c in ("price", "reach", "test_positive", "test_repurchase")}
    )
    frame.loc[4, "price"] = "cheap"  # a bad cell
    frame.loc[9, "reach"] = "1e308"  # a whole count far out of bounds
    frame.loc[700, "category"] = "skincar"  # a closed vocabulary's typo
    frame.loc[12, "test_positive"] = ""  # optional: defaults to 0 ...
    frame.loc[12, "test_repurchase"] = ""  # ... and so must this, to stay consistent
    path = tmp_path_factory.mktemp("batch") / "concepts.csv"
    frame.to_csv(path, index=False)
    return path


def test_batch_scores_like_the_api(scorer, concepts_csv: Path, tmp_path: Path) -> None:
    from scoring.prediction_log import PredictionLog

    log = PredictionLog(tmp_path / "log.db")
    out_path = tmp_path / "scored.parquet"
    report = score_file(concepts_csv, out_path, scorer, log, chunk_size=128, progress=False)
    out = pd.read_parquet(out_path)
    src = pd.read_csv(concepts_csv, dtype=str, keep_default_na=False)
    assert len(out) == len(src) == report.rows  # nothing lost
    assert out["concept_id"].tolist() == src["concept_id"].tolist()
    assert report.scored == 997 and log.count() == 997
    ids = src["concept_id"]
    # each error names the row, its id and the field, in the HTTP API's words
    assert out.loc[4, "error"].startswith(f"row 5 (concept_id {ids[4]!r}): price: ")
    assert out.loc[9, "error"].startswith(f"row 10 (concept_id {ids[9]!r}): reach: ")
    assert out.loc[700, "error"] == (
        f"row 701 (concept_id {ids[700]!r}): category: 'skincar' is not one of the 10 allowed "
        "values; closest: 'skincare'"
    )
    assert np.isnan(out.loc[4, "hit_probability"])
    assert out["error"].isna().sum() == 997
    assert "p_hit_bayes" in out.columns  # unknown columns carried through
    # the same numbers as the API's code path for the same concepts
    ok, concepts, _ = validate(src.iloc[:3], scorer.schema)
    for pos, api in zip(ok, scorer.score(concepts), strict=True):
        assert out.loc[pos, "hit_probability"] == api["hit_probability"]
        assert out.loc[pos, "driver_1_field"] == api["drivers"]["top"][0]["field"]
    assert {"gmv_90d_p10", "gmv_90d_p50", "gmv_90d_p90", "band", "warnings"} <= set(out.columns)
    # the curve: every month's quantiles, each growing over the months
    curve = [f"gmv_{30 * k}d_p50" for k in range(1, 13)]
    assert (np.diff(out.loc[out["error"].isna(), curve].to_numpy(), axis=1) >= 0).all()
    logged = dict(zip(COLUMNS, next(log.rows())[0], strict=True))
    assert logged["endpoint"] == "batch" and logged["model"] == "hit-compass"
    assert json.loads(logged["outputs"])["request_id"] == report.request_id


def test_compass_score_and_log_export(champion: dict, concepts_csv: Path, tmp_path: Path) -> None:
    from compass.cli import app

    runner = CliRunner()
    out = tmp_path / "scored.csv"
    r = runner.invoke(app, ["score", str(concepts_csv), "-o", str(out)])
    assert r.exit_code == 1, r.output  # three invalid rows: reported, and the status says so
    assert "997 of 1000 concepts scored" in r.output and "row 5 (concept_id" in r.output
    assert "category: 'skincar' is not one of the 10 allowed values; closest: 'skincare'" in (
        r.output
    )
    scored = pd.read_csv(out)
    assert len(scored) == 1000 and scored["hit_probability"].notna().sum() == 997
    exported = tmp_path / "log.parquet"
    r = runner.invoke(app, ["log", "export", "-o", str(exported)])
    assert r.exit_code == 0, r.output
    log = pd.read_parquet(exported)
    batch = log[log["request_id"] == scored["request_id"].dropna().iloc[0]]
    assert len(batch) == 997 and set(batch["endpoint"]) == {"batch"}
    assert batch["hit_probability"].tolist() == pytest.approx(
        scored["hit_probability"].dropna().tolist()
    )


def test_compass_score_another_spec(video_games_champion: dict, tmp_path: Path) -> None:
    """A video games file scored with the video games champion's own schema: its id column
    names the rows in the log, its closed vocabularies refuse a typo by row and field."""
    from compass.cli import app
    from scoring.prediction_log import PredictionLog

    example = video_games_champion["train_result"].model.concept_schema.example
    rows = pd.DataFrame([example, example | {"Name": "typo", "Genre": "Spots"}])
    src, out = tmp_path / "games.csv", tmp_path / "scored.csv"
    rows.to_csv(src, index=False)
    model = video_games_champion["model_name"]
    r = CliRunner().invoke(app, ["score", str(src), "-o", str(out), "--model", model])
    assert r.exit_code == 1 and "row 2 (Name 'typo'): Genre: 'Spots' is not one" in r.output
    assert "closest: 'Sports'" in r.output and "'Puzzle'" not in r.output, r.output
    scored = pd.read_csv(out)
    assert scored["hit_probability"].notna().tolist() == [True, False]
    assert scored.loc[0, "model_version"] == int(video_games_champion["version"])
    log = PredictionLog()
    logged = [row for chunk in log.rows() for row in chunk]
    log.close()
    concept_id, model_name = COLUMNS.index("concept_id"), COLUMNS.index("model")
    # the log's concept_id: the Name; its model: the video games one
    assert any(r[concept_id] == example["Name"] and r[model_name] == model for r in logged)


def test_numbers_as_exports_write_them_score_as_plain_ones(scorer, tmp_path: Path) -> None:
    """A file whose numbers carry currency signs, thousands separators and decimal commas, as
    a spreadsheet exports them, scores as the same file written plainly; it says what it read
    so, keeps the cells as written, and a cell that is still no number costs only its row."""
    plain = simulate(6, 5)
    plain["launch_date"] = plain["launch_date"].dt.strftime("%Y-%m-%d")
    written = plain.astype({"price": object, "reach": object, "marketing_budget": object})
    written["price"] = [f"${p:,.2f}" for p in plain["price"]]
    written.loc[1, "price"] = f"€{plain.loc[1, 'price']:.2f}".replace(".", ",")  # 1299,50
    written["reach"] = [f"{r:,}".replace(",", " ") for r in plain["reach"]]  # 12 000
    written["marketing_budget"] = [f"{m:,.2f}" for m in plain["marketing_budget"]]  # 800,000.00
    written.loc[5, "marketing_budget"] = "a lot"
    paths = {}
    for name, frame in (("plain", plain), ("written", written)):
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False, encoding="utf-8-sig")
    report = score_file(paths["written"], tmp_path / "w.csv", scorer, progress=False)
    plain_report = score_file(paths["plain"], tmp_path / "p.csv", scorer, progress=False)
    assert plain_report.notes == [] and plain_report.scored == 6
    assert report.scored == 5 and report.errors[0].startswith("row 6 (concept_id")
    assert "marketing_budget" in report.errors[0]
    assert sorted(report.notes) == [
        f"{col}: {how} read as numbers, as training reads them"
        for col, how in [
            ("marketing_budget", "thousands separators (5 values)"),
            ("price", "currency signs, decimal commas (6 values)"),
            ("reach", "spaces (6 values)"),
        ]
    ]
    out = pd.read_csv(tmp_path / "w.csv", dtype={"price": str})
    expected = pd.read_csv(tmp_path / "p.csv")["hit_probability"]
    assert out["hit_probability"][:5].tolist() == expected[:5].tolist()
    assert out["price"].tolist() == written["price"].tolist()  # as written
