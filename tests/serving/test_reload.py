"""Hot reload: a new model reaches a running service while requests keep being answered."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from pathlib import Path

import bentoml
import httpx
import pytest
from conftest import serving
from fresh_app import fresh_service

from scoring.prediction_log import PredictionLog
from scoring.scorer import Scorer
from scoring.served import ServedModels
from serving.reload import Follower, ReloadFailed, load_from_store, notify, reload_scorer

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
    served_tag = None


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
    assert target.served_tag == alt_tag


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


def test_reload_under_load_drops_nothing(
    champion: dict, alt_tag: str, concept: dict, tmp_path: Path
) -> None:
    """A client thread keeps scoring while the model is swapped back and forth."""
    # its own state folder: what it publishes must not move the session's services
    with fresh_service(HIT_COMPASS_STATE=str(tmp_path)) as client:
        results: list[tuple[int, str]] = []
        stop, finished = threading.Event(), []

        def hammer() -> None:
            while not stop.is_set():
                try:  # any exception is a failed request, not a thread dying unseen
                    r = client.post("/score", json={"concepts": [concept]})
                    version = r.json()[0]["model_version"] if r.status_code == 200 else r.text
                    results.append((r.status_code, version))
                except Exception as exc:
                    results.append((0, repr(exc)))
            finished.append(threading.current_thread().name)

        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            for tag in (alt_tag, champion["bento_tag"], alt_tag, champion["bento_tag"], alt_tag):
                _answers_keep_coming(results)  # each swap happens under load
                r = client.post("/admin/reload", json={"tag": tag})
                assert r.status_code == 200, r.text
                assert r.json()["model_tag"] == tag
            _answers_keep_coming(results)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert sorted(finished) == sorted(t.name for t in threads), "a client thread died"
        failed = [r for r in results if r[0] != 200]
        assert not failed, failed[:5]
        assert len(results) > 20
        versions = {v for _, v in results}
        assert versions == {champion["version"], "reload-test"}, versions
        assert results[-1][1] == "reload-test"  # the last reload is what serves now


def test_reload_refusal_is_a_4xx(champion: dict, tmp_path: Path) -> None:
    with fresh_service(HIT_COMPASS_STATE=str(tmp_path)) as client:
        r = client.post("/admin/reload", json={"tag": "hit-compass:doesnotexist"})
        assert r.status_code == 409 and "not in the BentoML store" in r.text
        log = PredictionLog(tmp_path / "predictions.db")
        assert ServedModels(log).current("hit-compass") is None  # a refused tag is not published
        log.close()
        assert client.post("/score", json={"concepts": [_example()]}).status_code == 200


def test_export_notification_reaches_a_running_service(
    champion: dict, alt_tag: str, tmp_path: Path
) -> None:
    """What ``compass export`` does after exporting: ask the service to load the new tag."""
    with fresh_service(HIT_COMPASS_STATE=str(tmp_path)) as client:
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

    log = PredictionLog()  # the session's state: the tag published is what it serves already
    served = ServedModels(log)
    out = CliRunner().invoke(app, ["export", "--reload-url", "http://127.0.0.1:9"])
    assert out.exit_code == 0, out.output
    assert champion["bento_tag"] in out.output and "no service answered" in out.output
    published = served.current("hit-compass")
    assert published is not None and published.tag == champion["bento_tag"]
    quiet = CliRunner().invoke(app, ["export", "--reload-url", ""])
    assert quiet.exit_code == 0 and "service" not in quiet.output
    assert served.current("hit-compass") == published  # '' = leave the services alone
    log.close()


# ---- every worker, every replica -----------------------------------------------------------
@pytest.fixture()
def served(tmp_path: Path):
    log = PredictionLog(tmp_path / "predictions.db")
    yield ServedModels(log)
    log.close()


def test_follower_loads_each_new_publication(
    champion: dict, alt_tag: str, served: ServedModels
) -> None:
    target, swaps = Holder(), []
    reload_scorer(target, champion["bento_tag"])
    follower = Follower(target, served, "hit-compass", Scorer, on_swap=lambda: swaps.append(1))
    follower.check()  # nothing published: keeps its model
    assert target.scorer.version == champion["version"] and not swaps

    served.publish("hit-compass", alt_tag)
    follower.check()
    assert target.scorer.version == "reload-test" and target.served_tag == alt_tag
    loaded = target.scorer
    follower.check()  # the same publication: nothing to do
    assert target.scorer is loaded and swaps == [1]

    served.publish("hit-compass-video_games", champion["bento_tag"])  # another model's row
    served.publish("hit-compass", "hit-compass:doesnotexist")  # does not load here
    follower.check()
    assert target.scorer is loaded

    served.publish("hit-compass", champion["bento_tag"])
    follower.check()
    assert target.scorer.version == champion["version"] and swaps == [1, 1]


def test_a_starting_worker_serves_a_later_publication(
    champion: dict, alt_tag: str, served: ServedModels
) -> None:
    """Restarted after a reload: what the others serve. Exported after the last reload: the
    declared model."""
    published = served.publish("hit-compass", alt_tag)
    restarted, fresh = Holder(), Holder()
    for target in (restarted, fresh):
        reload_scorer(target, champion["bento_tag"])
    second = dt.timedelta(seconds=1)
    Follower(restarted, served, "hit-compass", Scorer).adopt(published.at - second)
    assert restarted.scorer.version == "reload-test"
    newer = Follower(fresh, served, "hit-compass", Scorer)
    newer.adopt(published.at + second)
    newer.check()
    assert fresh.scorer.version == champion["version"]


WORKERS = 2
# every worker serves a change (each checks every second; a load takes well under one): this
# ceiling only keeps a broken follower from hanging the suite, far above the seconds measured
# (printed); not a speed target
FOLLOW_CEILING_S = 120.0


def _readyz(url: str) -> dict:
    """One probe on a new connection (kept-alive connections stay with one worker)."""
    r = httpx.get(f"{url}/readyz", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _every_worker_on(url: str, pids: set[int], version: str) -> float:
    """Seconds until every worker in ``pids`` answered /readyz with ``version``."""
    started, pending = time.monotonic(), set(pids)
    while pending:
        answer = _readyz(url)
        if answer["model_version"] == version:
            pending.discard(answer["worker_pid"])
        waited = time.monotonic() - started
        assert waited < FOLLOW_CEILING_S, f"workers {pending} not on {version} after {waited:.0f} s"
    return time.monotonic() - started


def _answers_keep_coming(results: list, n: int = 5) -> None:
    """Wait for ``n`` more answers to the client threads: each change happens under load."""
    start, deadline = len(results), time.monotonic() + 60
    while len(results) < start + n:
        assert time.monotonic() < deadline, "the client threads stopped getting answers"
        time.sleep(0.05)


@pytest.mark.e2e
@pytest.mark.slow
def test_every_worker_follows_five_reloads_under_load(
    champion: dict, concept: dict, tmp_path: Path
) -> None:
    """Two workers, two client threads scoring, five model changes: no failed request, every
    client thread scoring to the end, and every worker on the newest version after each
    change."""
    versions = [f"workers-{i}" for i in range(1, 6)]
    tags = [copy_model(champion, "hit-compass-workers-test", v) for v in versions]
    env = {
        "HIT_COMPASS_WORKERS": str(WORKERS),
        "HIT_COMPASS_STATE": str(tmp_path),  # its own published tag and prediction log
        "HIT_COMPASS_ACCESS_LOG": "false",
    }
    # each worker imports the service and loads the model: on a busy 2-core machine, three
    # processes starting at once can take minutes
    with serving(env, ready_timeout=300) as (url, _):
        pids: set[int] = set()
        deadline = time.monotonic() + 60
        while len(pids) < WORKERS:
            assert time.monotonic() < deadline, f"only workers {pids} answered"
            pids.add(_readyz(url)["worker_pid"])

        results: list[tuple[int, str]] = []
        stop, finished = threading.Event(), []

        def hammer() -> None:
            while not stop.is_set():
                try:  # a new connection per request: both workers get traffic
                    r = httpx.post(f"{url}/score", json={"concepts": [concept]}, timeout=30)
                    ok = r.status_code == 200
                    results.append((r.status_code, r.json()[0]["model_version"] if ok else r.text))
                except Exception as exc:  # any of them a failure, never a silent thread death
                    results.append((0, repr(exc)))
            finished.append(threading.current_thread().name)

        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        waits = []
        try:
            for tag, version in zip(tags, versions, strict=True):
                _answers_keep_coming(results)
                r = httpx.post(f"{url}/admin/reload", json={"tag": tag}, timeout=60)
                assert r.status_code == 200 and r.json()["model_version"] == version, r.text
                waits.append(_every_worker_on(url, pids, version))
            _answers_keep_coming(results)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        after = [httpx.post(f"{url}/score", json={"concepts": [concept]}) for _ in range(10)]

    assert sorted(finished) == sorted(t.name for t in threads), "a client thread died"
    failed = [r for r in results if r[0] != 200]
    assert not failed, failed[:5]
    assert {v for _, v in results} <= {champion["version"], *versions}
    assert {a.json()[0]["model_version"] for a in after} == {versions[-1]}
    print(f"every worker on the new version after {max(waits):.1f} s at most")
