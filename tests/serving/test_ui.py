"""The product-team page at /ui, driven in headless Chromium (Debian's, via Playwright)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or next(
    (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).is_file()), None
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# a concept typed into the form (no small-sample test: those fields stay unchecked)
TYPED = {
    "concept_id": "chews-2026-browser",
    "launch_date": "2026-05-20",
    "category": "pet",
    "target_segment": "gen_z",
    "brand_tier": "new_d2c",
    "brand": "brand_0042",
    "price": 109.0,
    "novelty": 0.45,
    "marketing_budget": 350000.0,
    "seeding_posts": 25,
    "reach": 30000,
    "interested": 1500,
}


def test_ui_static_files_are_local(client) -> None:
    html = client.get("/ui/").text
    assert 'src="app.js"' in html and "http" not in html.split("<body>")[1]
    assert client.get("/ui/charts.js").status_code == 200
    meta = client.get("/ui/meta.json").json()
    assert len(meta["segments"]) == 8 and "skincare" in meta["categories"]


@pytest.mark.e2e
def test_page_shows_what_the_api_says(live_url: str, state_dir: Path) -> None:
    if CHROMIUM is None:
        # `make test` installs Debian's chromium; in CI a missing browser is a failure, not a skip
        if os.environ.get("CI"):
            pytest.fail("no chromium binary: `make chromium` (apt-get install chromium) failed")
        pytest.skip("no chromium binary (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    expected = httpx.post(f"{live_url}/score", json={"concepts": [TYPED]}, timeout=30).json()[0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{live_url}/ui/")
            page.wait_for_selector("body[data-ready=true]", timeout=20_000)
            page.uncheck("#has-test")
            for name in ("category", "target_segment", "brand_tier"):
                page.select_option(f"select[name={name}]", TYPED[name])
            for name, value in TYPED.items():
                if name not in ("category", "target_segment", "brand_tier"):
                    page.fill(f"input[name={name}]", str(value))
            page.click("#submit")
            page.wait_for_selector("body[data-state=done]", timeout=20_000)
            shown = page.text_content("#hit-probability")
            value = float(page.get_attribute("#hit-probability", "data-value"))
            pre = page.text_content("#pre-test-probability")
            band = page.text_content("#band")
            bars = page.locator("#segments-chart rect").count()
            drivers = page.locator("#drivers-chart rect").count()
            curve = page.locator("#price-chart path").count()
            page.screenshot(path=str(state_dir / "ui.png"), full_page=True)
        finally:
            browser.close()
    p = expected["hit_probability"]
    assert shown == f"{100 * p:.1f} %" and value == pytest.approx(p, abs=1e-12)
    assert pre == f"{100 * expected['pre_test_probability']:.1f} %"
    assert band == expected["band"]
    assert bars == 8 and drivers == 6 and curve == 1
    assert (state_dir / "ui.png").stat().st_size > 10_000
