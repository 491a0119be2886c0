"""The text model's serving side: n-grams, TF-IDF rows, scores, phrases, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from features.spec import DatasetSpec, TextField
from features.text import TextModel, grams_of, token_grams, tokens
from training.text import GramCounts, TextTraining, fit_text_model

TEXTS = [
    "Your AI writing assistant for emails",
    "AI notes for teams",
    "敏感肌可用，补水保湿",
    "补水保湿面膜 买一送一",
    "ＡＩ writing",  # full-width letters: the same words after NFKC
    "",
    None,
    "Write write WRITE",
]


def test_char_ngrams_are_within_tokens_and_work_without_spaces() -> None:
    assert tokens("敏感肌可用，补水保湿") == ["敏感肌可用", "补水保湿"]  # split at punctuation
    grams = grams_of("敏感肌可用", "char", (1, 2))
    assert {"敏", "感肌", " 敏", "用 "} <= set(grams) and " " not in grams
    assert grams_of("ＡＩ", "char", (2, 2)) == grams_of("ai", "char", (2, 2)) == (" a", "ai", "i ")
    words = token_grams(["AI", "notes", "for"], "word", (1, 2))
    assert ("ai notes", (0, 1)) in words and ("for", (2,)) in words
    assert grams_of(None, "char", (1, 4)) == ()


@pytest.fixture(scope="module")
def model() -> TextModel:
    rng = np.random.default_rng(0)
    texts = [TEXTS[i] for i in rng.integers(0, len(TEXTS), 300)]
    y = np.array([int("AI" in (t or "") or "敏感" in (t or "")) for t in texts])
    y[rng.uniform(size=300) < 0.2] ^= 1
    field = TextField(column="tagline")
    return fit_text_model(field, texts, y, 1.0, TextTraining(min_df=2))


def test_training_rows_equal_serving_rows(model: TextModel) -> None:
    """The vectorised training matrix (GramCounts) and the row serving builds (TextModel.row)
    are the same TF-IDF: the same scores to rounding, for every text (unseen n-grams too)."""
    field = TextField(column="tagline")
    counts = GramCounts.of(TEXTS + ["never seen: zebra quokka"], field)
    ids = {g: i for i, g in enumerate(counts.names)}
    vocab = np.array([ids.get(g, -1) for g in model.vocabulary])
    known = vocab >= 0  # the vocabulary's n-grams these texts hold
    x = counts.matrix(np.arange(counts.n_docs), vocab[known], np.asarray(model.idf)[known])
    trained = x @ np.asarray(model.weights)[known] + model.intercept
    served = model.scores(TEXTS + ["never seen: zebra quokka"])
    np.testing.assert_allclose(trained, served, rtol=0, atol=1e-12)
    assert served[5] == served[6] == model.intercept  # no words ("", None): the intercept


def test_phrases_sum_to_the_score(model: TextModel) -> None:
    for text in TEXTS[:5]:
        terms = model.phrases(text)
        assert [w for w, _ in terms] == list(dict.fromkeys(tokens(text)))
        total = model.intercept + sum(v for _, v in terms)
        assert total == pytest.approx(model.scores([text])[0], abs=1e-12)
    # a repeated word is one phrase, as first written, carrying all its occurrences
    assert [w for w, _ in model.phrases("Write write WRITE")] == ["Write"]


def test_unseen_share_counts_ngrams_outside_the_vocabulary(model: TextModel) -> None:
    share = model.unseen_share(["AI notes for teams", "zqxj vwpk", ""])
    assert share[0] < 0.5 < share[1] and np.isnan(share[2])


def test_json_round_trip_scores_the_same(model: TextModel) -> None:
    back = TextModel.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_array_equal(back.scores(TEXTS), model.scores(TEXTS))
    bad = model.to_dict() | {"weights": model.weights[:-1]}
    with pytest.raises(ValueError, match="vocabulary, idf, weights"):
        TextModel.from_dict(bad)


def test_spec_text_keys() -> None:
    base = {"name": "t", "source": "x.csv", "date_column": "d", "target": {"column": "hit"}}
    spec = DatasetSpec.model_validate(
        base | {"text": ["name", {"column": "claim", "analyzer": "word"}]}
    )
    assert spec.text_columns() == ["name", "claim"] and spec.text[0].analyzer == "char"
    assert spec.input_columns()[-2:] == ["name", "claim"]
    assert spec.feature_monotone() == {"name_text_score": 1, "claim_text_score": 1}
    again = DatasetSpec.model_validate(spec.model_dump(mode="json"))
    assert again == spec
    with pytest.raises(ValueError, match="already a categorical"):
        DatasetSpec.model_validate(base | {"categorical": ["name"], "text": ["name"]})
    with pytest.raises(ValueError, match="ngram_range"):
        DatasetSpec.model_validate(base | {"text": [{"column": "n", "ngram_range": [3, 2]}]})
    with pytest.raises(ValueError, match="timing"):
        DatasetSpec.model_validate(base | {"date_is_year": True, "timing": ["hour"]})
