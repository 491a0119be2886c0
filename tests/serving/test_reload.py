"""Hot reload: a new model reaches a running service while requests keep being answered."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import bentoml
import pytest
from fresh_app import fresh_service

from serving.reload import ReloadFailed, load_from_store, notify, reload_scorer

ALT = "hit-compass-reload-test"  # its own name: the session's hit-compass:latest stays untouched


def copy_model(champion: dict, name: str, version_label: str) -> str:
    """A copy of the champion in the store under another name and MLflow version label."""
    src = bentoml.models.get(champion["bento_tag"])
    with bentoml.models.create(name, labels={"mlflow_version": version_label}) as m:
        shutil.copytree(src.path, m.path, dirs_exist_ok=True, ignore=_bentoml_files)
    return str(m.tag)


def _bentoml_files(_: str, names: list[str]) -> list[str]:
    return [n for n in names if n in ("model.yaml", "custom_objects.pkl")]


@pytest.fixture(scope="module")
def alt_tag(champion: dict) -> str:
    return copy_model(champion, ALT, "reload-test")


class Holder:
    scorer = None


def test_reload_swaps_scorer(champion: dict, alt_tag: str) -> None:
    target = Holder()
    info = reload_scorer(target, champion["bento_tag"])
    assert info["model_version"] == champion["version"]
    first = target.scorer
    info = reload_scorer(target, alt_tag)
    assert info == {
        "model_tag": alt_tag,
        "model_version": "reload-test",
        "previous_version": champion["version"],
    }
    assert target.scorer is not first and target.scorer.version == "reload-test"


def test_bad_reload_keeps_old_model(champion: dict, tmp_path: Path) -> None:
    target = Holder()
    reload_scorer(target, champion["bento_tag"])
    before = target.scorer
    with pytest.raises(ReloadFailed, match="not in the BentoML store"):
        reload_scorer(target, "hit-compass:doesnotexist")
    broken = copy_model(champion, "hit-compass-broken", "broken")
    (Path(bentoml.models.get(broken).path) / "booster.txt").write_text("tree\ngarbage\n")
    with pytest.raises(ReloadFailed, match="does not load"):
        reload_scorer(target, broken)
    assert target.scorer is before


def test_load_from_store_resolves_latest(champion: dict) -> None:
    _, version, tag = load_from_store()
    assert tag.startswith("hit-compass:") and version


def test_reload_under_load_drops_nothing(champion: dict, alt_tag: str, concept: dict) -> None:
    """A client thread keeps scoring while the model is swapped back and forth."""
    with fresh_service() as client:
        results: list[tuple[int, str]] = []
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                r = client.post("/score", json={"concepts": [concept]})
                version = r.json()[0]["model_version"] if r.status_code == 200 else r.text
                results.append((r.status_code, version))

        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            for tag in (alt_tag, champion["bento_tag"], alt_tag, champion["bento_tag"], alt_tag):
                time.sleep(0.3)
                r = client.post("/admin/reload", json={"tag": tag})
                assert r.status_code == 200, r.text
                assert r.json()["model_tag"] == tag
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        failed = [r for r in results if r[0] != 200]
        assert not failed, failed[:5]
        assert len(results) > 20
        versions = {v for _, v in results}
        assert versions == {champion["version"], "reload-test"}, versions
        assert results[-1][1] == "reload-test"  # the last reload is what serves now


def test_reload_refusal_is_a_4xx(champion: dict) -> None:
    with fresh_service() as client:
        r = client.post("/admin/reload", json={"tag": "hit-compass:doesnotexist"})
        assert r.status_code == 409 and "not in the BentoML store" in r.text
        assert client.post("/score", json={"concepts": [_example()]}).status_code == 200


def test_export_notification_reaches_a_running_service(champion: dict, alt_tag: str) -> None:
    """What ``compass export`` does after exporting: ask the service to load the new tag."""
    with fresh_service() as client:
        msg = notify("http://testserver", alt_tag, client=client)
        assert f"now serves {alt_tag}" in msg
        r = client.post("/score", json={"concepts": [_example()]})
        assert r.json()[0]["model_version"] == "reload-test"
    assert "no service answered" in notify("http://127.0.0.1:9", alt_tag)


def _example() -> dict:
    from features.spec import load_spec
    from training import DEFAULT_SPEC

    return dict(load_spec(DEFAULT_SPEC).example or {})


def test_compass_export_tries_to_reload(champion: dict) -> None:
    from typer.testing import CliRunner

    from compass.cli import app

    out = CliRunner().invoke(app, ["export", "--reload-url", "http://127.0.0.1:9"])
    assert out.exit_code == 0, out.output
    assert champion["bento_tag"] in out.output and "no service answered" in out.output
    quiet = CliRunner().invoke(app, ["export", "--reload-url", ""])
    assert quiet.exit_code == 0 and "service" not in quiet.output
