"""The report as a user sees it: rendered in headless Chromium, without console errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

VALIDATION_COHORTS = ("validation_a", "validation_b")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; installed with apt-get when running as root, else the test skips."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(
            "needs Debian's chromium: run as root (the test installs it) or "
            "`apt-get install chromium`"
        )
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
    ):
        result = subprocess.run(
            command, capture_output=True, text=True, env=environment, timeout=900, check=False
        )
        if result.returncode != 0:
            pytest.skip(f"could not install chromium: {result.stderr[-500:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get installed chromium but it is not on PATH")
    return found


def test_report_renders_without_console_errors(toy_report: Path, chromium: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the dev extra")
    shots = toy_report.parent / "report_screenshots"
    shots.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))

        page.goto(toy_report.as_uri())
        for heading in (
            "Quality gate",
            "Locked signature",
            "Independent validation",
            "Transfer learning",
        ):
            page.get_by_role("heading", name=heading).wait_for(state="visible", timeout=20_000)
        page.screenshot(path=str(shots / "summary.png"))

        for cohort in VALIDATION_COHORTS:
            page.goto(toy_report.as_uri())
            page.get_by_text("5. Validation", exact=True).click()
            page.get_by_role("link", name=cohort).click()
            row = page.locator("tr", has_text=f"validation/{cohort}/km.png").first
            row.locator("a[iconname=eye]").click()
            figure = page.locator("img[src^='data:image/png']").first
            figure.wait_for(state="visible", timeout=20_000)
            width = figure.evaluate("image => image.complete ? image.naturalWidth : 0")
            assert width > 500, f"{cohort}: the Kaplan–Meier figure did not load"
            page.screenshot(path=str(shots / f"km_{cohort}.png"))

        # Tables are searchable: the cutpoint table filters as one types a gene id.
        page.goto(toy_report.as_uri())
        page.get_by_text("4. Biomarkers", exact=True).click()
        page.locator("tr", has_text="cutpoints.html").first.locator("a[iconname=eye]").click()
        frame = page.frame_locator("iframe").first
        frame.locator("#count").wait_for(state="visible", timeout=20_000)
        assert frame.locator("#count").inner_text() == "1000 of 1000 rows"
        frame.locator("#search").fill("G0047")
        assert frame.locator("#count").inner_text() == "10 of 1000 rows"
        page.screenshot(path=str(shots / "cutpoints_search.png"))
        browser.close()
    assert problems == [], problems
    assert (shots / "summary.png").stat().st_size > 20_000
    print(f"screenshots: {shots}")
