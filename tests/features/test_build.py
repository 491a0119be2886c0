from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from features.build import FeatureBuilder, fit_pair_prior
from features.simulator import simulate
from features.spec import DatasetSpec, EntityHistory, load_spec
from training import DEFAULT_SPEC
from training.dataset import load_launches, to_columns


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("build") / "launches.parquet"
    simulate(3000, 4).to_parquet(path)
    return load_launches(load_spec(DEFAULT_SPEC), data=path).frame


def _builder(df: pd.DataFrame) -> FeatureBuilder:
    spec = load_spec(DEFAULT_SPEC)
    return FeatureBuilder.fit(to_columns(df, spec), df["label"].to_numpy(), spec)


def test_matrix_shape_and_names(frame: pd.DataFrame) -> None:
    fb = _builder(frame)
    x = fb.transform(to_columns(frame, fb.spec))
    assert x.shape == (len(frame), len(fb.feature_names))
    assert set(fb.feature_sources.values()) <= set(fb.spec.input_columns())
    assert np.isfinite(x[:, len(fb.spec.categorical) :]).all()


def test_unknown_category_is_missing_and_warned(frame: pd.DataFrame) -> None:
    fb = _builder(frame)
    cols = to_columns(frame.head(2), fb.spec)
    cols["category"] = np.array(["skincare", "space_tourism"])
    x = fb.transform(cols)
    assert not np.isnan(x[0, 0]) and np.isnan(x[1, 0])
    assert any("never seen" in w for w in fb.warnings(cols)[1])


def test_json_round_trip_gives_identical_matrix(frame: pd.DataFrame) -> None:
    fb = _builder(frame)
    again = FeatureBuilder.from_dict(json.loads(json.dumps(fb.to_dict())))
    cols = to_columns(frame, fb.spec)
    np.testing.assert_array_equal(fb.transform(cols), again.transform(cols))


def test_track_record_never_looks_ahead(frame: pd.DataFrame) -> None:
    """A launch's features do not change when later launches are added to the history."""
    early = frame.iloc[: len(frame) // 2]
    fb_early, fb_all = _builder(early), _builder(frame)
    cols = to_columns(early, fb_early.spec)
    names = fb_early.feature_names
    idx = [names.index("brand_prior_launches"), names.index("brand_hit_rate_eb")]
    a = fb_early.transform(cols)[:, idx]
    b = fb_all.transform(cols)[:, idx]
    np.testing.assert_array_equal(a, b)
    # and a launch's own outcome never feeds its own features
    flipped = frame.copy()
    flipped.loc[len(frame) - 1, "label"] = 1 - flipped.loc[len(frame) - 1, "label"]
    fb_flip = _builder(flipped)
    last = to_columns(frame.tail(1), fb_all.spec)
    np.testing.assert_array_equal(fb_all.transform(last), fb_flip.transform(last))


def test_shrinkage_pulls_small_samples_to_the_prior(frame: pd.DataFrame) -> None:
    """The builder's own shrunk rates: 12 positive of 20 trials sits nearer the prior than
    210 of 350 (the same raw 60 %), and both between the raw rate and the prior (counts inside
    the training range: the builder clips counts beyond it)."""
    rng = np.random.default_rng(0)
    trials = rng.integers(20, 400, 2000).astype(float)
    succ = rng.binomial(trials.astype(int), rng.beta(20, 30, 2000)).astype(float)
    prior = fit_pair_prior(succ, trials, np.array([""] * 2000, dtype=object))
    assert 0.35 < prior.global_mean < 0.45 and 10 < prior.kappa < 200
    fb = _builder(frame)
    cols = to_columns(frame.head(2), fb.spec)
    for key in ("category", "target_segment"):  # one prior group for both rows
        cols[key] = np.repeat(np.asarray(cols[key])[:1], 2)
    cols["test_samples_sent"] = np.array([30, 500])
    cols["test_trials"], cols["test_positive"] = np.array([20, 350]), np.array([12, 210])
    rate = fb.transform(cols)[:, fb.feature_names.index("test_positive_rate_eb")]
    mean = fb.prior_mean("test_positive", {k: np.asarray(v)[0] for k, v in cols.items()})
    assert abs(mean - 0.6) > 0.05  # the prior is not the raw rate: shrinking shows
    small, large = abs(rate - mean)
    assert 0 < small < large < abs(0.6 - mean)
    assert np.all(np.sign(rate - mean) == np.sign(0.6 - mean))


def test_video_games_spec_loads_with_counted_problems(video_games_spec) -> None:
    spec = load_spec(video_games_spec)
    loaded = load_launches(spec, spec_dir=video_games_spec.parent)
    assert loaded.report["missing_date"] > 0  # N/A years counted, not crashed on
    assert loaded.frame["Year_of_Release"].between(1996, 2014).all()
    assert loaded.frame["Critic_Count"].notna().all()
    assert 0.05 < loaded.frame["label"].mean() < 0.3


def _history_spec() -> DatasetSpec:
    """The simulated spec with every entity-history feature switched on for brand."""
    spec = load_spec(DEFAULT_SPEC)
    history = {"brand": EntityHistory(age=True, window_days=180, outcome=True)}
    return spec.model_copy(update={"entity_history": history})


def _history_builder(df: pd.DataFrame) -> FeatureBuilder:
    spec = _history_spec()
    return FeatureBuilder.fit(
        to_columns(df, spec), df["label"].to_numpy(), spec, df["gmv_90d"].to_numpy(float)
    )


def test_entity_history_features_never_look_ahead(frame: pd.DataFrame) -> None:
    """Age, recent window and outcome history: unchanged when later launches are added, and a
    launch's own outcome (label and GMV) never reaches its own features."""
    early = frame.iloc[: len(frame) // 2]
    fb_early, fb_all = _history_builder(early), _history_builder(frame)
    names = fb_all.feature_names
    wanted = [f"brand_{s}" for s in ("age_days", "recent_launches", "recent_hit_rate_eb")]
    wanted.append("brand_outcome_mean_eb")
    assert set(wanted) <= set(names)
    idx = [i for i, n in enumerate(names) if n.startswith("brand_")]
    cols = to_columns(early, fb_early.spec)
    np.testing.assert_array_equal(fb_early.transform(cols)[:, idx], fb_all.transform(cols)[:, idx])
    changed = frame.copy()
    last = len(frame) - 1
    changed.loc[last, "label"] = 1 - changed.loc[last, "label"]
    changed.loc[last, "gmv_90d"] = changed.loc[last, "gmv_90d"] * 1000
    tail = to_columns(frame.tail(1), fb_all.spec)
    np.testing.assert_array_equal(fb_all.transform(tail), _history_builder(changed).transform(tail))
    # and the state round-trips through JSON
    again = FeatureBuilder.from_dict(json.loads(json.dumps(fb_all.to_dict())))
    np.testing.assert_array_equal(again.transform(cols), fb_all.transform(cols))


def test_entity_age_counts_days_since_first_earlier_launch() -> None:
    from features.build import fit_track_record

    days = np.array([0, 10, 10, 30])
    tr = fit_track_record(np.array(["a", "a", "b", "a"]), days, np.array([1, 0, 1, 1]), 0, 10.0)
    hist = EntityHistory(age=True, window_days=15)
    out = tr.features(np.array(["a", "a", "b", "c"]), np.array([0, 20, 20, 20]), hist)
    np.testing.assert_array_equal(out["age_days"], [np.nan, 20, 10, np.nan])
    np.testing.assert_array_equal(out["prior_launches"], [0, 2, 1, 0])
    np.testing.assert_array_equal(out["recent_launches"], [0, 1, 1, 0])  # days 5..19


def test_an_outcome_counts_only_once_known(frame: pd.DataFrame) -> None:
    """With the simulated spec's lag (a launch's outcome is known 90 days after it), a
    same-brand hit launched 30 or 90 days before a concept is not in its track record yet;
    ones launched 91 and 200 days before are."""
    spec = load_spec(DEFAULT_SPEC)
    assert spec.track_record_lag_days == 90
    day = frame["launch_day"].max() + pd.Timedelta(days=1)
    earlier = frame.tail(4).assign(
        brand="brand_lag_test",
        label=1,
        launch_day=[day - pd.Timedelta(days=n) for n in (200, 91, 90, 30)],
    )
    fb = _builder(pd.concat([frame, earlier], ignore_index=True))
    concept = to_columns(frame.tail(1).assign(brand="brand_lag_test", launch_day=day), spec)
    x = fb.transform(concept)[0]
    assert x[fb.feature_names.index("brand_prior_launches")] == 2


def _brute_force_track_record(
    values: np.ndarray,
    days: np.ndarray,
    label: np.ndarray,
    outcome: np.ndarray,
    lag: int,
    k: float,
    window: int,
    query: tuple[str, int],
) -> dict[str, float]:
    """A launch of entity ``v`` on day ``d``: every history feature from a loop over the
    launches whose outcome was known strictly before ``d`` (launch day + ``lag`` < ``d``)."""
    v, d = query
    log_out = np.log1p(np.nan_to_num(np.clip(outcome, 0, None)))
    known_all = [j for j in range(len(days)) if days[j] + lag < d]
    known = [j for j in known_all if values[j] == v]
    recent = [j for j in known if days[j] + lag >= d - window]
    base = (sum(label[j] for j in known_all) + 1) / (len(known_all) + 2)
    base_out = np.mean([log_out[j] for j in known_all]) if known_all else np.nan
    launched = [days[j] for j in range(len(days)) if values[j] == v]
    before = [t for t in launched if t < d]
    return {
        "prior_launches": len(known),
        "hit_rate_eb": (sum(label[j] for j in known) + k * base) / (len(known) + k),
        "age_days": d - min(launched) if before else np.nan,
        "recent_launches": sum(d - window <= t < d for t in launched),
        "recent_hit_rate_eb": (sum(label[j] for j in recent) + k * base) / (len(recent) + k),
        "outcome_mean_eb": (sum(log_out[j] for j in known) + k * base_out) / (len(known) + k),
    }


@pytest.mark.parametrize("lag", [0, 1, 90])
def test_track_record_equals_a_brute_force_loop(lag: int) -> None:
    """Every entity-history feature, on a small random history with same-day launches and
    missing outcomes, equals the loop over "known strictly before this launch"."""
    from features.build import fit_track_record

    rng = np.random.default_rng(lag)
    n, k, window = 80, 6.0, 120
    values = rng.choice(["a", "b", "c", "d"], n)
    days = rng.integers(0, 400, n)
    label = rng.integers(0, 2, n)
    outcome = np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(3, 1, n))
    tr = fit_track_record(values, days, label, lag, k, outcome)
    # the history's own launches (as in training), then other days and an unseen entity
    q_values = np.concatenate([values, rng.choice(["a", "b", "c", "d", "z"], 40)])
    q_days = np.concatenate([days, rng.integers(-10, 520, 40)])
    hist = EntityHistory(age=True, window_days=window, outcome=True)
    got = tr.features(q_values, q_days, hist)
    for i, query in enumerate(zip(q_values.tolist(), q_days.tolist(), strict=True)):
        expected = _brute_force_track_record(values, days, label, outcome, lag, k, window, query)
        for name, value in expected.items():
            assert got[name][i] == pytest.approx(value, rel=1e-9, nan_ok=True), (name, query)


def test_spec_rejects_inconsistent_entity_history() -> None:
    raw = load_spec(DEFAULT_SPEC).model_dump()
    with pytest.raises(ValueError, match="not listed under entities"):
        DatasetSpec.model_validate(raw | {"entity_history": {"category": {"age": True}}})
    with pytest.raises(ValueError, match="outcome_column"):
        DatasetSpec.model_validate(
            raw | {"outcome_column": None, "entity_history": {"brand": {"outcome": True}}}
        )
    with pytest.raises(ValueError, match="outcome"):
        FeatureBuilder.fit({}, np.zeros(3), _history_spec())


def test_days_to_festival_match_the_calendar(frame: pd.DataFrame) -> None:
    fb = _builder(frame)
    spec = fb.spec
    days = pd.date_range("1999-12-25", "2032-03-05", freq="37D").append(
        pd.DatetimeIndex(["2024-02-29", "2026-11-11", "2026-11-12", "2026-06-18", "2026-12-31"])
    )
    cols = to_columns(frame.head(1), spec)
    cols = {k: np.repeat(np.asarray(v), len(days)) for k, v in cols.items()}
    cols[spec.date_column] = days.to_numpy().astype("datetime64[D]")
    x = fb.transform(cols)
    for month, day in spec.festivals:
        got = x[:, fb.feature_names.index(f"days_to_{month:02d}{day:02d}")]
        expected = []
        for d in days.date:
            this = d.replace(month=month, day=day)
            expected.append(((this if this >= d else this.replace(year=d.year + 1)) - d).days)
        assert got.tolist() == expected


def test_rows_scored_one_at_a_time_equal_the_batch(frame: pd.DataFrame) -> None:
    """The service transforms one concept per request, training thousands per call: same rows,
    same features (nothing in the stacked arithmetic mixes rows)."""
    fb = _builder(frame)
    cols = to_columns(frame.head(40), fb.spec)
    batch = fb.transform(cols)
    for i in range(40):
        one = fb.transform({k: np.asarray(v)[i : i + 1] for k, v in cols.items()})
        np.testing.assert_array_equal(one[0], batch[i])


def test_small_test_warning_only_when_the_whole_test_says_little(frame: pd.DataFrame) -> None:
    fb = _builder(frame)
    cols = to_columns(frame.head(3), fb.spec)
    sizes = {  # sent, tried, positive, repurchase per row: none, tiny, a real test
        "test_samples_sent": [0, 4, 300],
        "test_trials": [0, 3, 220],
        "test_positive": [0, 2, 150],
        "test_repurchase": [0, 1, 60],
    }
    cols = {**cols, **{k: np.array(v) for k, v in sizes.items()}}
    kappas = {p.name: fb.pair_priors[p.name].kappa for p in fb.spec.count_pairs if p.pre_test}
    assert min(kappas.values()) < 150 < max(kappas.values())  # the case the rule is for
    small = [any("small test" in w for w in row) for row in fb.warnings(cols)]
    assert small == [False, True, False]


def test_a_launch_date_far_outside_the_training_period_is_warned(frame: pd.DataFrame) -> None:
    fb = _builder(frame)
    cols = to_columns(frame.head(4), fb.spec)
    latest = frame["launch_day"].max()
    cols[fb.spec.date_column] = np.array(
        ["1900-01-01", "9999-12-31", str((latest + pd.Timedelta(days=700)).date()), "2023-06-01"],
        dtype="datetime64[D]",
    )
    notes = [[w for w in row if w.startswith("launch_date")] for row in fb.warnings(cols)]
    assert "before the first training launch" in notes[0][0]
    assert "more than 730 days after the latest training launch" in notes[1][0]
    assert notes[2] == [] and notes[3] == []  # soon after the history, and inside it
    # a model saved before the date range was kept still loads, and warns about no date
    old = fb.to_dict()
    old.pop("date_range")
    assert not any(
        "launch_date" in w for row in FeatureBuilder.from_dict(old).warnings(cols) for w in row
    )


# ---- vocabularies from the history ------------------------------------------------------------
GROWING_SPEC = {
    "name": "campaigns",
    "source": "campaigns.csv",
    "date_column": "launched",
    "target": {"column": "hit"},
    "categorical": ["subcategory", "country"],
    "numeric": ["goal"],
}


def campaigns(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """A site that adds a subcategory every 50 days (a new one is a tenth of that period's
    campaigns); its countries are the same five throughout."""
    rng = np.random.default_rng(seed)
    day = np.sort(rng.integers(0, 500, n))
    added = rng.uniform(size=n) < 0.1
    sub = np.where(added, [f"new_{d // 50}" for d in day], rng.choice(["art", "games", "tech"], n))
    return {
        "launched": np.datetime64("2020-01-01") + day.astype("timedelta64[D]"),
        "subcategory": sub,
        "country": rng.choice(["US", "GB", "DE", "FR", "CA"], n),
        "goal": rng.uniform(100, 10_000, n),
    }


def test_a_vocabulary_that_keeps_growing_is_inferred_open_and_a_fixed_one_closed() -> None:
    from features.build import infer_vocabulary

    cols = campaigns()
    days = cols["launched"].astype(np.int64)
    growing = infer_vocabulary(cols["subcategory"], days)
    assert growing.open and growing.source == "inferred"
    assert growing.why.startswith("open: 3 of the 3 latest of 5 time periods")
    fixed = infer_vocabulary(cols["country"], days)
    assert not fixed.open and fixed.why.startswith("closed: 0 of the 3 latest")
    # one newcomer late in the history is a one-off, not a growing vocabulary
    once = cols["country"].copy()
    once[-1] = "NZ"
    assert not infer_vocabulary(once, days).open
    # too little history to tell: closed, as before inference
    small = infer_vocabulary(cols["subcategory"][:50], days[:50])
    assert not small.open and "too little history" in small.why


def test_the_vocabulary_choice_is_fitted_state_the_spec_overrides_and_the_page_shows() -> None:
    from features.schema import ConceptSchema

    cols = campaigns()
    label = (np.arange(len(cols["goal"])) % 5 == 0).astype(int)
    fb = FeatureBuilder.fit(cols, label, DatasetSpec.model_validate(GROWING_SPEC))
    assert fb.vocabulary_open("subcategory") and not fb.vocabulary_open("country")
    saved = FeatureBuilder.from_dict(json.loads(json.dumps(fb.to_dict())))
    assert saved.vocabularies == fb.vocabularies  # serving follows what training decided
    fields = {f["name"]: f for f in ConceptSchema(saved.spec, saved).describe()["fields"]}
    assert fields["subcategory"]["values"] is None  # open: any value, with a warning
    assert fields["subcategory"]["vocabulary"]["source"] == "inferred"
    assert fields["subcategory"]["vocabulary"]["open"] is True
    assert set(fields["country"]["values"]) == {"US", "GB", "DE", "FR", "CA"}  # closed
    assert "closed: 0 of the 3 latest" in fields["country"]["vocabulary"]["why"]

    said = GROWING_SPEC | {"inputs": {"subcategory": {"vocabulary": "closed"}}}
    fb = FeatureBuilder.fit(cols, label, DatasetSpec.model_validate(said))
    assert fb.vocabularies["subcategory"].to_dict() == {
        "open": False,
        "source": "spec",
        "why": "closed: set in the spec",
    }
