"""The out-of-time split's refusals: counts and dates, not a traceback."""

from __future__ import annotations

import pandas as pd
import pytest

from features.spec import DatasetSpec, SpecError
from training.train import split_out_of_time

SPEC = {
    "name": "campaigns",
    "source": "campaigns.csv",
    "date_column": "launched",
    "target": {"column": "hit"},
    "categorical": ["category"],
}


def history(n: int, hit_every: int = 4) -> pd.DataFrame:
    days = pd.date_range("2022-01-01", periods=n, freq="D")
    return pd.DataFrame({"launch_day": days, "label": [int(i % hit_every == 0) for i in range(n)]})


def test_too_little_data_says_counts_dates_and_what_to_move() -> None:
    spec = DatasetSpec.model_validate(SPEC | {"test_from_date": "2022-01-31"})
    with pytest.raises(SpecError) as err:
        split_out_of_time(history(60), spec)
    message = str(err.value)
    assert "too little data for an out-of-time split: 30 training launches" in message
    assert "(2022-01-01 to 2022-01-30, 8 hits)" in message
    assert "30 test launches (2022-01-31 to 2022-03-01, 7 hits)" in message
    assert "test_from_date: 2022-01-31" in message and "test_fraction" in message
    assert "\n" not in message


def test_a_training_period_of_one_class_is_named() -> None:
    spec = DatasetSpec.model_validate(SPEC)
    with pytest.raises(SpecError, match="the training period holds only non-hits: 240 training"):
        split_out_of_time(history(300, hit_every=1000).assign(label=0), spec)
