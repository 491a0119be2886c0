"""The page's comparison view (serving/ui/compare.js), driven in headless Chromium: concepts
added from the form (and a variant of it), more from an uploaded CSV, ranked with their
intervals by /compare, and "why A over B" for a pair the answer did not hold; for the simulated
spec and the video games spec. Screenshots go to a folder of their own (printed)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_ui import ARGS, _chromium

pytestmark = pytest.mark.e2e


def screenshots(state_dir: Path) -> Path:
    """HIT_COMPASS_SCREENSHOTS, else a folder in the session's state."""
    folder = Path(os.environ.get("HIT_COMPASS_SCREENSHOTS", state_dir / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def variants(meta: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """``n`` concepts from the page's example: each with its own id and one numeric lever
    moved (so their probabilities differ)."""
    example, id_field = meta["example"], meta["id_field"]
    levers = [lv["name"] for lv in meta["levers"] if lv["kind"] in ("number", "count")]
    out = []
    for k in range(n):
        c = dict(example) | {id_field: f"{example[id_field]}-csv-{k}"}
        if levers:
            lever = levers[k % len(levers)]
            value = float(example[lever]) * (0.6 + 0.15 * k)
            c[lever] = round(value) if isinstance(example[lever], int) else round(value, 2)
        out.append(c)
    return out


def drive_compare(url: str, shots: Path, name: str, tmp_path: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    meta = httpx.get(f"{url}/ui/meta.json", timeout=30).json()
    id_field = meta["id_field"]
    rows = variants(meta, 2)
    upload = tmp_path / f"{name}.csv"
    with upload.open("w", newline="") as f:
        fields = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    seen: dict[str, Any] = {"meta": meta}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/ui/")
            page.wait_for_selector("body[data-compare-ready=true]", timeout=20_000)
            page.click("#compare-add")  # the form's concept (the example)
            page.click("#compare-add")  # the same again: its id gets a suffix
            page.set_input_files("#compare-file", str(upload))
            page.wait_for_selector("body[data-compare=done]", timeout=20_000)
            seen["listed"] = page.eval_on_selector_all(
                "#compare-list li span", "s => s.map(x => x.textContent)"
            )
            page.click("#compare-run")
            page.wait_for_function(
                "() => document.body.dataset.compare === 'done'"
                " && document.querySelectorAll('#compare-table tbody tr').length > 0",
                timeout=30_000,
            )
            seen["table"] = page.eval_on_selector_all(
                "#compare-table tbody tr",
                "rs => rs.map(r => [r.dataset.concept, Number(r.dataset.p),"
                " r.children[3].textContent, r.children[5].textContent])",
            )
            seen["chart_drawn"] = page.evaluate(
                "() => { const c = document.getElementById('compare-chart');"
                " return c.width > 0 && c.height > 0 && !!Chart.getChart(c); }"
            )
            seen["first_why"] = page.get_attribute("#why-summary", "data-pair")
            page.screenshot(path=str(shots / f"compare_{name}.png"), full_page=True)
            # a pair the default answer does not hold: the last against the second
            ids = [r[0] for r in seen["table"]]
            page.select_option("#why-a", ids[-1])
            page.select_option("#why-b", ids[1])
            page.wait_for_function(
                "pair => document.body.dataset.compare === 'done'"
                " && document.getElementById('why-summary').dataset.pair === pair",
                arg=f"{ids[-1]}|{ids[1]}",
                timeout=30_000,
            )
            seen["why_pair"] = (ids[-1], ids[1])
            seen["why_fields"] = json.loads(page.get_attribute("#why-chart", "data-fields"))
            seen["why_text"] = page.text_content("#why-summary")
            page.locator("#compare-view").screenshot(path=str(shots / f"compare_{name}_why.png"))
        finally:
            browser.close()
    seen["concepts"] = [meta["example"], meta["example"] | {id_field: seen["listed"][1]}, *rows]
    return seen


def check(url: str, seen: dict[str, Any], shots: Path, name: str) -> None:
    meta = seen["meta"]
    id_field = meta["id_field"]
    example_id = meta["example"][id_field]
    assert seen["listed"][:2] == [example_id, f"{example_id}-2"] and len(seen["listed"]) == 4
    assert seen["chart_drawn"]
    # what the page shows is what the API answers for the same concepts
    answer = httpx.post(f"{url}/compare", json={"concepts": seen["concepts"]}, timeout=30).json()
    expected = [(r["concept_id"], r["hit_probability"]) for r in answer["ranking"]]
    assert [(c, pytest.approx(p, abs=1e-12)) for c, p, *_ in seen["table"]] == expected
    assert all("–" in interval for _, _, interval, _ in seen["table"])
    assert seen["table"][0][3] == "top" and all("%" in r[3] for r in seen["table"][1:])
    top = answer["ranking"][0]["concept_id"]
    assert seen["first_why"] == f"{answer['ranking'][1]['concept_id']}|{top}"
    a, b = seen["why_pair"]
    pair = httpx.post(
        f"{url}/compare",
        json={"concepts": seen["concepts"], "pairs": [{"a": a, "b": b}]},
        timeout=30,
    ).json()["pairs"][0]
    shown = [d["field"].replace("_", " ") for d in pair["why"][:8]]
    assert seen["why_fields"][: len(shown)] == shown
    assert seen["why_text"].startswith(f"{a} minus {b}")
    for shot in (shots / f"compare_{name}.png", shots / f"compare_{name}_why.png"):
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")


def test_compare_view_simulated(live_url: str, state_dir: Path, tmp_path: Path) -> None:
    shots = screenshots(state_dir)
    check(live_url, drive_compare(live_url, shots, "simulated", tmp_path), shots, "simulated")


def test_compare_view_video_games(video_games_url: str, state_dir: Path, tmp_path: Path) -> None:
    shots = screenshots(state_dir)
    seen = drive_compare(video_games_url, shots, "video_games", tmp_path)
    check(video_games_url, seen, shots, "video_games")
