"""Loading a user's launch-history file into a labelled, dated frame: files written here as
exports write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from features.spec import DatasetSpec
from training.dataset import load_launches

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
