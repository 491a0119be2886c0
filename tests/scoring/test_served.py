"""The published tag every worker and replica follows: one row per served model, shared by
everything that opens the same prediction log."""

from __future__ import annotations

from pathlib import Path

from scoring.prediction_log import PredictionLog
from scoring.served import ServedModels


def test_publish_is_seen_by_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "predictions.db"
    writer, reader = PredictionLog(path), PredictionLog(path)  # as two workers would
    try:
        served, seen = ServedModels(writer), ServedModels(reader)
        assert seen.current("hit-compass") is None
        first = served.publish("hit-compass", "hit-compass:aaa")
        assert seen.current("hit-compass") == first and first.tag == "hit-compass:aaa"
        again = served.publish("hit-compass", "hit-compass:aaa")
        assert again.id != first.id and again.at >= first.at  # a republication is news
        served.publish("hit-compass-video_games", "hit-compass-video_games:bbb")
        assert seen.current("hit-compass") == again  # each served model has its own row
        assert seen.current("hit-compass-video_games").tag == "hit-compass-video_games:bbb"
        assert len(reader.query("SELECT model FROM served_models")) == 2
    finally:
        writer.close()
        reader.close()
