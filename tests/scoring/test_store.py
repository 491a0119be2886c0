"""The MLflow -> BentoML store contract: names, labels, what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.hit_model import ModelLoadError
from scoring import store


def test_one_model_name_per_launch_history() -> None:
    assert store.model_name_for("simulated") == "hit-compass"
    assert store.model_name_for("video_games") == "hit-compass-video_games"
    assert store.model_name_for("My Shop: 2024/25") == "hit-compass-my-shop-2024-25"
    with pytest.raises(ValueError, match="no usable model name"):
        store.model_name_for("???")


def test_export_is_labelled_found_again_and_loads(champion: dict) -> None:
    import bentoml

    bento_model = bentoml.models.get(champion["bento_tag"])
    assert store.version_of(bento_model) == champion["version"]
    uri = bento_model.info.labels[store.TRACKING_LABEL]
    assert store.find(champion["version"], uri) == champion["bento_tag"]
    assert store.find(champion["version"], "sqlite:///elsewhere.db") is None
    model, version, tag = store.load(champion["bento_tag"])
    assert version == champion["version"] and tag == champion["bento_tag"] and model.spec.name


def test_a_folder_that_does_not_load_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="missing"):
        store.save(tmp_path, "1", "sqlite:///x.db")
    with pytest.raises(store.NotInStore, match="not in the BentoML store"):
        store.load("hit-compass:nosuchversion")
