"""Serving a launch history of yet another shape, written here: a year for a date, a closed and
an open vocabulary (both inferred from the history: studios keep being founded, themes do not),
a column name with a space, no count pairs, no outcome, no segments.

Trained through the real pipeline (MLflow registry, its own registered model and champion),
exported, served by a real ``bentoml serve``; then the API it publishes is fuzzed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import serving
from schemathesis import GenerationMode
from test_fuzz import fuzz_live

pytestmark = pytest.mark.e2e

SPEC = {
    "name": "board_games",
    "source": "board_games.csv",
    "id_column": "title",
    "date_column": "year",
    "date_is_year": True,
    "target": {"column": "hit"},
    "categorical": ["theme", "studio"],
    "numeric": ["list price", "players"],
    "entities": ["designer"],
    "track_record_lag_days": 1,
    "inputs": {
        "studio": {"description": "Publishing studio."},  # open: inferred
        "list price": {"description": "Shop price.", "unit": "EUR", "gt": 0, "le": 500},
        "players": {"whole": True, "ge": 1, "le": 12, "unit": "players"},
    },
}
THEMES = ["war", "trade", "party", "puzzle"]


def board_games(n: int = 1500, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    theme = rng.choice(THEMES, n)
    year = rng.integers(2000, 2020, n)
    # a fifth of the titles come from a studio founded that year: the vocabulary keeps growing
    founded = rng.uniform(size=n) < 0.2
    studio = np.where(founded, [f"studio {y}" for y in year], rng.choice(["north", "south"], n))
    price = rng.uniform(10, 90, n).round(2)
    players = rng.integers(1, 9, n)
    designer = rng.choice([f"designer {i}" for i in range(40)], n)
    z = -1.8 + 1.2 * (theme == "party") - 0.02 * (price - 40) + 0.2 * (players - 4)
    z += np.array([hash(d) % 7 for d in designer]) / 7.0  # designers differ
    return pd.DataFrame(
        {
            "title": [f"game {i}" for i in range(n)],
            "year": year,
            "theme": theme,
            "studio": studio,
            "list price": price,
            "players": players,
            "designer": designer,
            "hit": (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int),
        }
    )


@pytest.fixture(scope="module")
def board_games_url(tmp_path_factory, champion: dict) -> Iterator[tuple[str, dict]]:
    from training.pipeline import run_training
    from training.registry import export_version

    folder = tmp_path_factory.mktemp("board_games")
    board_games().to_csv(folder / "board_games.csv", index=False)
    spec_path = folder / "board_games.yaml"
    spec_path.write_text(yaml.safe_dump(SPEC))
    result = run_training(data=None, spec_path=spec_path)
    assert result["model_name"] == "hit-compass-board_games"  # its own registered model
    assert result["promotion"]["promoted"]  # its own champion, whatever the simulated one is
    tag = export_version(model_name=result["model_name"])
    with serving({"HIT_COMPASS_MODEL": tag}) as (url, _):
        yield url, result


def post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, timeout=30)


def example_of(url: str) -> dict:
    doc = httpx.get(f"{url}/docs.json", timeout=10).json()
    return doc["components"]["schemas"]["Concept"]["example"]


def test_its_own_api(board_games_url: tuple[str, dict]) -> None:
    url, _ = board_games_url
    doc = httpx.get(f"{url}/docs.json", timeout=10).json()
    concept = doc["components"]["schemas"]["Concept"]
    props = concept["properties"]
    assert set(props) == {"title", "year", "theme", "studio", "list price", "players", "designer"}
    assert sorted(props["theme"]["enum"]) == sorted(THEMES)  # closed: an enum
    assert "enum" not in props["studio"] and props["studio"]["description"] == "Publishing studio."
    assert props["list price"]["unit"] == "EUR" and props["list price"]["maximum"] == 500
    assert props["year"]["type"] == "integer"

    example = example_of(url)
    r = post(url, "/score", {"concepts": [example]})
    assert r.status_code == 200, r.text
    scored = r.json()[0]
    assert scored["concept_id"] == example["title"] and 0 < scored["hit_probability"] < 1
    fields = {d["field"] for d in scored["drivers"]["top"]}
    assert fields <= set(props) - {"title"}, fields  # drivers in the spec's own field names

    typo = post(url, "/score", {"concepts": [example | {"theme": "partyy"}]})
    assert typo.status_code == 400 and "theme" in typo.text
    said = "'partyy' is not one of the 4 allowed values; closest: 'party'"
    assert typo.json()["detail"][0]["msg"] == said, typo.text  # not every allowed value
    # among others, it costs only itself; its error names it by its own id column
    two = post(url, "/score", {"concepts": [example | {"theme": "partyy"}, example]})
    error, scored = two.json()
    assert error["error"] == f"concepts.0 (title {example['title']!r}): theme: {said}"
    assert error["concept_id"] == example["title"] and 0 < scored["hit_probability"] < 1

    # a batch with one studio training never saw: every concept answered, a warning on that one
    batch = [example, example | {"title": "new", "studio": "west"}, example | {"title": "x"}]
    new = post(url, "/score", {"concepts": batch})
    assert new.status_code == 200, new.text
    assert [a["concept_id"] for a in new.json()] == [example["title"], "new", "x"]
    warned = [a["warnings"] for a in new.json()]
    assert warned == [[], ["studio: 'west' never seen in training"], []]
    meta = {f["name"]: f for f in httpx.get(f"{url}/ui/meta.json", timeout=10).json()["fields"]}
    assert meta["studio"]["vocabulary"]["open"] and meta["theme"]["vocabulary"]["open"] is False
    assert meta["studio"]["vocabulary"]["source"] == "inferred"

    far = post(url, "/score", {"concepts": [example | {"year": 2090}]})
    assert any("after the latest training launch" in w for w in far.json()[0]["warnings"])

    forecast = post(url, "/forecast", {"concepts": [example]})
    assert forecast.status_code == 400 and "outcome_column" in forecast.text
    target = post(url, "/target", {"concept": example})
    assert target.status_code == 400 and "segment_column" in target.text

    whatif = post(url, "/whatif", {"concept": example, "lever": "list price"})
    assert whatif.status_code == 200 and whatif.json()["unit"] == "EUR"
    years = post(url, "/whatif", {"concept": example, "lever": "year"}).json()
    assert all(float(p["value"]).is_integer() for p in years["points"])
    assert post(url, "/whatif", {"concept": example, "lever": "theme"}).status_code == 400

    # its outcomes: its id and its year, the label its target column names
    done = {"title": example["title"], "year": 2019, "hit": 1}
    r = post(url, "/outcomes", {"outcomes": [done]})
    assert r.status_code == 200 and r.json()["unmatched"] == 0, r.text  # scored above
    r = post(url, "/outcomes", {"outcomes": [done | {"year": "2019-05-01"}]})
    assert r.status_code == 400 and r.json()["detail"][0]["loc"] == ["outcomes", 0, "year"]
    r = post(url, "/outcomes", {"outcomes": [done | {"concept_id": "x"}]})
    assert r.status_code == 400 and r.json()["detail"][0]["loc"] == ["outcomes", 0, "concept_id"]


def test_reload_refuses_another_schema(board_games_url: tuple[str, dict], champion: dict) -> None:
    url, result = board_games_url
    r = post(url, "/admin/reload", {"tag": champion["bento_tag"]})
    assert r.status_code == 409, r.text
    assert "restart" in r.text and "field 'theme' removed" in r.text
    # still serving its own model
    assert (
        post(url, "/score", {"concepts": [example_of(url)]}).json()[0]["model_version"]
        == (result["version"])
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_its_openapi(board_games_url: tuple[str, dict], mode: GenerationMode) -> None:
    url, _ = board_games_url
    paths = ("/score", "/whatif", "/target", "/forecast", "/compare", "/outcomes")
    fuzz_live(url, paths, mode, examples=40, check_answers=True)
