"""Outcomes: validated with the served spec, recorded beside the prediction log, never
overwritten, recorded once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.build import FeatureBuilder
from features.columns import from_frame
from features.schema import ConceptSchema
from features.simulator import CURVE_COLUMNS
from features.spec import Target, TargetRule, load_spec
from features.tables import TableError
from scoring.outcomes import LABEL, OutcomeError, OutcomeSchema, OutcomeStore, import_file
from scoring.prediction_log import PredictionLog
from training import DEFAULT_SPEC
from training.dataset import simulated_frame

RULE = TargetRule(column="gmv_90d", op=">=", value=1_000_000)


@pytest.fixture(scope="module")
def schemas() -> tuple[ConceptSchema, ConceptSchema]:
    """The simulated spec's concept schema (a 0/1 target column), and the same spec with its
    target a rule on its outcome column (gmv_90d >= 1,000,000)."""
    spec = load_spec(DEFAULT_SPEC)
    frame = simulated_frame(1500, 4, spec)
    frame = frame.assign(launch_date=frame["launch_day"])
    trained = FeatureBuilder.fit(from_frame(frame, spec), frame["label"].to_numpy(), spec)
    ruled = spec.model_copy(update={"name": "simulated_rule", "target": Target(rule=RULE)})
    return ConceptSchema(spec, trained), ConceptSchema(ruled, trained)


@pytest.fixture(scope="module")
def column(schemas) -> OutcomeSchema:
    return OutcomeSchema(schemas[0])


@pytest.fixture(scope="module")
def rule(schemas) -> OutcomeSchema:
    return OutcomeSchema(schemas[1])


@pytest.fixture()
def log(log_location) -> Iterator[PredictionLog]:
    """A fresh prediction log, on SQLite and on PostgreSQL: every store test runs on both."""
    log = PredictionLog(log_location)
    yield log
    log.close()


@pytest.fixture()
def store(log: PredictionLog) -> OutcomeStore:
    return OutcomeStore(log)


def outcome(concept_id: str, hit: int = 1, date: str = "2026-03-01", **raw) -> dict:
    return {"concept_id": concept_id, "launch_date": date, "hit": hit, **raw}


# ---- the record, from the spec ----------------------------------------------------------------
def test_the_record_follows_the_spec(column: OutcomeSchema, rule: OutcomeSchema) -> None:
    shape = column.model.model_json_schema(by_alias=True)
    # the spec's outcome column and its outcomes over time (gmv_30d .. gmv_360d, gmv_90d once)
    assert set(shape["properties"]) == {"concept_id", "launch_date", "hit", *CURVE_COLUMNS}
    assert set(shape["required"]) == {"concept_id", "launch_date", "hit"}
    assert shape["additionalProperties"] is False
    # a rule target: the label (called LABEL) or the rule's column, or both
    shape = rule.model.model_json_schema(by_alias=True)
    assert set(shape["properties"]) == {"concept_id", "launch_date", LABEL, *CURVE_COLUMNS}
    assert set(shape["required"]) == {"concept_id", "launch_date"}
    for schema in (column, rule):
        assert schema.validate([schema.example])  # the API's example is a valid record


def test_bad_records_name_row_and_field(column: OutcomeSchema) -> None:
    rows = [
        outcome("ok"),
        {"concept_id": "no-label", "launch_date": "2026-03-01"},
        outcome("two", hit=2),
        outcome("typo") | {"colour": "red"},
        outcome("bad-date", date="2026-13-45"),
        outcome("") | {"gmv_90d": "lots"},
        outcome("bool", hit=True),  # type: ignore[arg-type]
    ]
    with pytest.raises(OutcomeError) as err:
        column.validate(rows)
    assert [e.split(":")[:2] for e in err.value.errors] == [
        ["row 2", " hit"],
        ["row 3", " hit"],
        ["row 4", " colour"],
        ["row 5", " launch_date"],
        ["row 6", " concept_id"],
        ["row 6", " gmv_90d"],
        ["row 7", " hit"],
    ]
    assert "lots" not in str(err.value) and "6 of 7 row(s) invalid" in str(err.value)


def test_the_rule_derives_the_label_and_checks_a_given_one(rule: OutcomeSchema) -> None:
    a, b, c = rule.validate(
        [
            {"concept_id": "a", "launch_date": "2026-03-01", "gmv_90d": 2_500_000},
            {"concept_id": "b", "launch_date": "2026-03-01", "gmv_90d": 400_000.0, LABEL: 0},
            {"concept_id": "c", "launch_date": "2026-03-01", LABEL: 1},
        ]
    )
    assert (a.label, a.raw) == (1, {"gmv_90d": 2_500_000.0})  # derived, the raw kept
    assert (b.label, b.raw) == (0, {"gmv_90d": 400_000.0})  # both given: both kept
    assert (c.label, c.raw) == (1, {})
    with pytest.raises(OutcomeError) as err:
        rule.validate(
            [
                {"concept_id": "d", "launch_date": "2026-03-01", "gmv_90d": 400_000.0, LABEL: 1},
                {"concept_id": "e", "launch_date": "2026-03-01"},
            ]
        )
    disagree, neither = err.value.errors
    assert disagree == (
        f"row 1: {LABEL} disagrees with gmv_90d under the spec's rule gmv_90d >= 1000000"
    )
    assert neither == f"row 2: give {LABEL} or gmv_90d (or both)"


def test_another_target_is_another_outcome_api(schemas) -> None:
    """POST /outcomes takes what the target names, so a reload to a model with another target
    is refused (409) like any other change of the API."""
    simulated, ruled = schemas
    assert simulated.differences(ruled) == ["target differ"]


# ---- the store --------------------------------------------------------------------------------
def test_stored_in_the_prediction_log_once_and_unmatched_reported(
    column: OutcomeSchema, log: PredictionLog, store: OutcomeStore
) -> None:
    log.append("score", "r1", "1", [{"concept_id": "scored"}], [{"hit_probability": 0.3}])
    batch = column.validate([outcome("scored"), outcome("never-1"), outcome("never-2", hit=0)])
    receipt = store.record(batch, "http")
    assert (receipt.recorded, receipt.duplicates) == (3, 0)
    assert (receipt.unmatched, receipt.unmatched_ids) == (2, ["never-1", "never-2"])
    again = store.record(batch, "http")  # a retried request
    assert (again.recorded, again.duplicates, again.unmatched) == (0, 3, 2)
    assert store.count() == 3
    same = PredictionLog(log.location)  # the same database as the predictions
    assert same.query("SELECT COUNT(*) FROM outcomes") == [(3,)]
    same.close()
    kept = {o.concept_id: o for o in store.latest()}
    assert set(kept) == {"scored", "never-1", "never-2"}  # unmatched ones are kept
    assert kept["never-2"].label == 0 and kept["never-2"].source == "http"


def test_a_correction_is_a_new_row_and_the_latest_counts(
    column: OutcomeSchema, store: OutcomeStore
) -> None:
    first = column.validate([outcome("x", hit=0, gmv_90d=900_000.0)])
    store.record(first, "march.csv")
    store.record(column.validate([outcome("x", hit=1, gmv_90d=1_300_000.0)]), "http")
    (latest,) = store.latest("simulated")
    assert (latest.label, latest.raw, latest.source) == (1, {"gmv_90d": 1_300_000.0}, "http")
    assert [o.label for o in store.history("x")] == [0, 1]  # the history stays
    # re-running the old import changes nothing: the correction still counts
    assert store.record(first, "march.csv").duplicates == 1
    assert [o.label for o in store.latest()] == [1] and len(store.history("x")) == 2
    assert store.latest("another spec") == []


# ---- files ------------------------------------------------------------------------------------
def test_import_is_idempotent(column: OutcomeSchema, store: OutcomeStore, tmp_path: Path) -> None:
    frame = pd.DataFrame([outcome(f"c{i}", hit=i % 2, gmv_90d=1000.0 * i) for i in range(6)])
    csv, parquet = tmp_path / "outcomes.csv", tmp_path / "outcomes.parquet"
    frame.to_csv(csv, index=False)
    frame.assign(launch_date=pd.to_datetime(frame["launch_date"])).to_parquet(parquet)
    rows, receipt = import_file(csv, column, store)
    assert (rows, receipt.recorded, receipt.duplicates, receipt.unmatched) == (6, 6, 0, 6)
    rows, receipt = import_file(csv, column, store)
    assert (rows, receipt.recorded, receipt.duplicates) == (6, 0, 6)
    _, receipt = import_file(parquet, column, store)  # the same outcomes, another format
    assert (receipt.recorded, receipt.duplicates) == (0, 6)
    assert store.count() == 6 and {o.source for o in store.latest()} == {"outcomes.csv"}
    empty = tmp_path / "empty.csv"
    empty.write_text("concept_id,launch_date,hit\n")
    rows, receipt = import_file(empty, column, store)
    assert (rows, receipt.recorded, receipt.duplicates, receipt.unmatched) == (0, 0, 0, 0)


def test_a_file_with_bad_rows_records_nothing(
    column: OutcomeSchema, store: OutcomeStore, tmp_path: Path
) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text(
        "concept_id,launch_date,hit,gmv_90d\n"
        "a,2026-03-01,1,1500000\n"
        "b,2026-03-01,yes,\n"  # row 2: the label is no 0/1
        "c,2026-03-01,0,\n"
        "d,,1,\n"  # row 4: no launch date
    )
    with pytest.raises(OutcomeError) as err:
        import_file(path, column, store)
    assert [e.split(":")[:2] for e in err.value.errors] == [
        ["row 2", " hit"],
        ["row 4", " launch_date"],
    ]
    assert store.count() == 0  # all or nothing
    path.write_text(path.read_text().replace(",yes,", ",0,").replace("d,,", "d,2026-03-02,"))
    rows, receipt = import_file(path, column, store)
    assert rows == receipt.recorded == store.count() == 4
    assert store.history("a")[0].raw == {"gmv_90d": 1_500_000.0}


@pytest.mark.parametrize(
    "header, message",
    [
        ("concept_id,launch_date,Hit", "'Hit' are not part of an outcome"),
        ("launch_date,hit", "no column 'concept_id'"),
    ],
)
def test_columns_the_record_does_not_take_are_refused(
    column: OutcomeSchema, store: OutcomeStore, tmp_path: Path, header: str, message: str
) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text(header + "\n" + ",".join(["x"] * header.count(",")) + ",1\n")
    with pytest.raises(TableError, match=message):
        import_file(path, column, store)
    assert store.count() == 0


# ---- the command ------------------------------------------------------------------------------
def test_compass_outcomes_import(champion: dict, tmp_path: Path) -> None:
    from compass.cli import app

    log = PredictionLog()  # the state folder's, as the command uses it
    log.append("score", "r-cli", "1", [{"concept_id": "cli-scored"}], [{"hit_probability": 0.5}])
    store = OutcomeStore(log)
    before = store.count()
    path = tmp_path / "launched.csv"
    pd.DataFrame(
        [outcome("cli-scored"), outcome("cli-never", hit=0), outcome("cli-never-2")]
    ).to_csv(path, index=False)
    runner = CliRunner()
    r = runner.invoke(app, ["outcomes", "import", str(path)])
    assert r.exit_code == 0, r.output
    assert "3 rows: 3 recorded, 0 already recorded (ignored), 2 id(s) never scored" in r.output
    assert "cli-never, cli-never-2" in r.output
    r = runner.invoke(app, ["outcomes", "import", str(path), "--model", "hit-compass"])
    assert r.exit_code == 0 and "0 recorded, 3 already recorded" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("concept_id,launch_date,hit\ncli-new,2026-03-01,1\ncli-bad,2026-03-01,7\n")
    r = runner.invoke(app, ["outcomes", "import", str(bad)])
    assert r.exit_code == 1
    assert "row 2: hit" in r.output and "nothing recorded" in r.output
    assert store.count() == before + 3
    log.close()


def test_outcomes_over_time_come_in_as_they_are_known(
    column: OutcomeSchema, store: OutcomeStore
) -> None:
    """GMV at any horizon, in later records without repeating the earlier ones: the monitor
    sees every horizon's newest value."""
    doc = column.model.model_json_schema(by_alias=True)["properties"]["gmv_180d"]
    assert "180 days" in str(doc)
    store.record(column.validate([outcome("x", gmv_30d=2e5, gmv_60d=5e5, gmv_90d=7e5)]), "http")
    store.record(column.validate([outcome("x", gmv_180d=1.1e6)]), "month-6.csv")
    store.record(column.validate([outcome("x", gmv_90d=7.2e5), outcome("y", gmv_30d=1e4)]), "fix")
    assert store.raw_by_concept("simulated") == {
        "x": {"gmv_30d": 2e5, "gmv_60d": 5e5, "gmv_90d": 7.2e5, "gmv_180d": 1.1e6},
        "y": {"gmv_30d": 1e4},
    }
    assert store.raw_by_concept("another spec") == {}
    with pytest.raises(OutcomeError, match="row 1: gmv_360d"):
        column.validate([outcome("z", gmv_360d="a lot")])
