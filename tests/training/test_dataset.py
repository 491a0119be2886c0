"""Loading a user's launch-history file into a labelled, dated frame: files written here as
exports write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.spec import DatasetSpec
from training.dataset import SpecError, load_launches

SPEC: dict[str, Any] = {
    "name": "campaigns",
    "source": "campaigns.csv",
    "id_column": "campaign",
    "date_column": "launched",
    "target": {"column": "hit"},
    "categorical": ["category"],
    "numeric": ["goal"],
}


def spec_of(**changes: Any) -> DatasetSpec:
    return DatasetSpec.model_validate(SPEC | changes)


def test_an_8_bit_file_with_cr_line_ends_is_read_and_the_report_says_how(tmp_path: Path) -> None:
    rows = [
        b"caf\xe9 \x81one,Design,5000,2021-03-01,1",
        b"na\xefve,Games,1200,2021-03-02,0",
        b"r\xe9sum\xe9 \x8d,Design,800,2021-03-03,0",
    ]
    path = tmp_path / "campaigns.csv"
    path.write_bytes(b"\r".join([b"campaign,category,goal,launched,hit", *rows]) + b"\r")
    loaded = load_launches(spec_of(), data=path)
    assert loaded.report["encoding"] == "latin-1"
    assert "0x81, 0x8D undefined" in loaded.report["encoding_note"]
    assert loaded.notes and loaded.notes[0].startswith("campaigns.csv: read as latin-1")
    assert loaded.frame["campaign"].tolist() == ["caf\xe9 \x81one", "na\xefve", "r\xe9sum\xe9 \x8d"]
    assert loaded.report["rows_used"] == 3


def test_pacific_offsets_load_as_local_days_and_utc_instants(tmp_path: Path) -> None:
    path = tmp_path / "campaigns.csv"
    path.write_text(
        "campaign,category,goal,launched,hit\n"
        "a,Design,10,2022-01-01T00:12:52-08:00,1\n"
        "b,Games,20,2022-07-01T23:30:00-07:00,0\n"
        "c,Games,30,2022-11-06T01:30:00-08:00,0\n"
    )
    loaded = load_launches(spec_of(), data=path)
    frame = loaded.frame
    assert frame["launch_day"].dt.strftime("%Y-%m-%d").tolist() == [
        "2022-01-01",
        "2022-07-01",  # 06:30 UTC on 2 July: the launch's own day counts
        "2022-11-06",
    ]
    assert frame["launch_time"].dt.strftime("%m-%d %H:%M").tolist() == [
        "01-01 08:12",
        "07-02 06:30",
        "11-06 09:30",
    ]
    assert loaded.report["date_utc_offsets"] == "-07:00, -08:00"
    assert loaded.report["missing_date"] == 0


def test_date_format_from_the_spec_and_the_day_first_count(tmp_path: Path) -> None:
    path = tmp_path / "campaigns.csv"
    path.write_text(
        "campaign,category,goal,launched,hit\n"
        "a,Design,10,3/1/17 15:30,1\n"
        "b,Games,20,12/31/16 9:05,0\n"
        "c,Games,30,1/2/17 0:00,0\n"
    )
    loaded = load_launches(spec_of(date_format="%m/%d/%y %H:%M"), data=path)
    assert loaded.frame["launch_day"].dt.strftime("%Y-%m-%d").tolist() == [
        "2016-12-31",
        "2017-01-02",
        "2017-03-01",
    ]  # sorted by day
    assert loaded.report["date_format"] == "%m/%d/%y %H:%M"
    assert loaded.report["dates_read_differently_day_first"] == 2


def test_whole_number_ids_stored_as_floats_read_as_written(tmp_path: Path) -> None:
    """An entity id column with gaps comes out of pandas as floats: 119745, not 119745.0."""
    path = tmp_path / "campaigns.csv"
    path.write_text(
        "campaign,category,goal,launched,hit,maker\n"
        "a,Design,10,2022-01-01,1,119745\n"
        "b,Games,20,2022-01-02,0,\n"
    )
    loaded = load_launches(spec_of(entities=["maker"]), data=path)
    assert loaded.frame["maker"].tolist() == ["119745", "unknown"]


def test_the_product_hunt_spec_loads_its_pacific_timestamps(product_hunt_spec: Path) -> None:
    from features.spec import load_spec
    from training.train import split_out_of_time

    spec = load_spec(product_hunt_spec)
    loaded = load_launches(spec, spec_dir=product_hunt_spec.parent)
    report = loaded.report
    assert report["rows_used"] == report["rows_read"] == 10_589
    assert report["date_utc_offsets"] == "-07:00, -08:00" and report["missing_date"] == 0
    assert 0.12 < report["hits"] / report["rows_used"] < 0.18
    train, test = split_out_of_time(loaded.frame, spec)
    assert str(test["launch_day"].min().date()) == "2022-10-01"  # the latest quarter
    assert str(train["launch_day"].max().date()) == "2022-09-30"
    assert (loaded.frame["pricingType"] == "unknown").sum() == 153  # not stated: its own value


# ---- a crowdfunding export: a status outcome, epoch seconds, money under a spaced header -------
def campaigns_csv(path: Path, n: int = 400, seed: int = 0) -> Path:
    """Campaigns as a spreadsheet exports them: ``state`` (successful, failed, canceled, live),
    ``launched_at`` in Unix seconds, the goal as money under the header ``" goal "``; a small
    goal succeeds more often."""
    rng = np.random.default_rng(seed)
    goal = rng.choice([500, 1_000, 2_500, 8_500, 20_000, 60_000], n)
    success = rng.uniform(size=n) < np.where(goal <= 2_500, 0.75, 0.2)
    state = np.where(success, "successful", rng.choice(["failed", "canceled"], n))
    launched = np.sort(rng.integers(1_420_070_400, 1_451_606_400, n))  # during 2015
    state[-12:] = "live"  # the newest campaigns are still running
    frame = pd.DataFrame(
        {
            "name": [f"campaign {i}" for i in range(n)],
            "Category": rng.choice(["Games", "Design", "Music"], n),
            " goal ": [f" ${g:,.2f} " for g in goal],
            "launched_at": launched,
            "state": state,
        }
    )
    frame.to_csv(path, index=False)
    return path


CAMPAIGNS = {
    "name": "kick",
    "source": "campaigns.csv",
    "id_column": "name",
    "date_column": "launched_at",
    "target": {"column": "state", "positive": ["successful"], "unknown": ["live"]},
    "categorical": ["category"],
    "numeric": ["goal"],
}


def test_a_status_target_leaves_out_and_counts_the_launches_still_running(tmp_path: Path) -> None:
    path = campaigns_csv(tmp_path / "campaigns.csv")
    raw = pd.read_csv(path)
    loaded = load_launches(DatasetSpec.model_validate(CAMPAIGNS), data=path)
    frame, report = loaded.frame, loaded.report
    assert report["outcome_unknown"] == 12 and report["missing_target"] == 0
    assert len(frame) == report["rows_used"] == len(raw) - 12
    assert "live" not in set(frame["state"])
    assert frame["label"].sum() == (raw["state"] == "successful").sum()  # canceled: not a hit
    assert report["hits"] == frame["label"].sum()


def test_epoch_seconds_money_and_a_spaced_header_are_read(tmp_path: Path) -> None:
    path = campaigns_csv(tmp_path / "campaigns.csv")
    raw = pd.read_csv(path)
    loaded = load_launches(DatasetSpec.model_validate(CAMPAIGNS), data=path)
    frame, report = loaded.frame, loaded.report
    assert report["date_format"] == "unix" and report["date_format_from"] == "detected"
    assert frame["launch_day"].dt.year.unique().tolist() == [2015]
    first = pd.Timestamp(int(raw["launched_at"].min()), unit="s", tz="UTC")
    assert frame["launch_time"].min() == first
    assert report["columns_matched"] == {" goal ": "goal", "Category": "category"}
    assert report["numbers_cleaned"] == {
        "goal": f"currency signs, thousands separators ({len(raw)} values)"
    }
    assert "unparseable_goal" not in report
    assert set(frame["goal"]) == {500.0, 1000.0, 2500.0, 8500.0, 20000.0, 60000.0}


def test_the_money_column_is_used_by_the_model(tmp_path: Path, fast_config) -> None:
    from training.train import train_model

    path = campaigns_csv(tmp_path / "campaigns.csv", n=900)
    spec = DatasetSpec.model_validate(CAMPAIGNS)
    model = train_model(load_launches(spec, data=path).frame, spec, config=fast_config).model
    gains = dict(
        zip(
            model.booster.feature_name(),
            model.booster.feature_importance("gain"),
            strict=True,
        )
    )
    assert gains["goal"] > 0


def test_a_numeric_column_of_text_stops_loading_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "campaigns.csv"
    rows = [
        f"c{i},Games,{'about ' if i % 3 else ''}{i}0 k,2022-01-{i % 28 + 1:02d},1"
        for i in range(30)
    ]
    path.write_text("campaign,category,goal,launched,hit\n" + "\n".join(rows) + "\n")
    with pytest.raises(SpecError) as err:
        load_launches(spec_of(), data=path)
    message = str(err.value)
    assert "numeric column 'goal': 30 of 30 values are not numbers" in message
    assert "(e.g. '00 k', 'about 10 k', 'about 20 k')" in message


def test_a_few_unreadable_numbers_are_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "campaigns.csv"
    rows = [f"c{i},Games,{'tbd' if i == 7 else i},2022-01-{i % 28 + 1:02d},1" for i in range(30)]
    path.write_text("campaign,category,goal,launched,hit\n" + "\n".join(rows) + "\n")
    loaded = load_launches(spec_of(), data=path)
    assert loaded.report["unparseable_goal"] == 1
    assert loaded.notes == ["goal: 1 of 30 values are not numbers (e.g. 'tbd'): read as missing"]


def test_headers_match_by_case_only_when_one_does(tmp_path: Path) -> None:
    path = tmp_path / "campaigns.csv"
    path.write_text("Campaign,CATEGORY,category ,goal,launched,hit\na,x,y,1,2022-01-01,1\n")
    # " category " (spaces) wins over "CATEGORY" (case): trimming alone matches one header
    loaded = load_launches(spec_of(), data=path)
    assert loaded.report["columns_matched"] == {"Campaign": "campaign", "category ": "category"}
    assert loaded.frame["category"].tolist() == ["y"]
    path.write_text("campaign,CATEGORY,Category,goal,launched,hit\na,x,y,1,2022-01-01,1\n")
    with pytest.raises(SpecError, match="names column.s. not in the data: category"):
        load_launches(spec_of(), data=path)  # two headers differ from it by case alone


def test_an_equality_rule_labels_the_equal_values(tmp_path: Path) -> None:
    path = tmp_path / "campaigns.csv"
    path.write_text(
        "campaign,category,goal,launched,stars\n"
        "a,x,1,2022-01-01,5\nb,x,1,2022-01-02,4\nc,x,1,2022-01-03,\nd,x,1,2022-01-04,5.0\n"
    )
    spec = spec_of(target={"rule": {"column": "stars", "op": "==", "value": 5}})
    loaded = load_launches(spec, data=path)
    assert loaded.frame["label"].tolist() == [1, 0, 1]
    assert loaded.report["missing_target"] == 1


def test_counts_that_break_the_boundary_checks_are_one_message(tmp_path: Path) -> None:
    path = tmp_path / "campaigns.csv"
    path.write_text(
        "campaign,category,goal,launched,hit,tried,liked\n"
        "a,x,1,2022-01-01,1,10,4\nb,x,1,2022-01-02,0,10,12\nc,x,1,2022-01-03,0,-1,0\n"
    )
    pairs = [{"name": "likes", "successes": "liked", "trials": "tried"}]
    with pytest.raises(SpecError) as err:
        load_launches(spec_of(count_pairs=pairs), data=path)
    message = str(err.value)
    assert "the data breaks its checks" in message and "liked <= tried" in message
    assert "column 'tried'" in message and "\n" not in message
