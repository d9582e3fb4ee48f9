"""The dashboard in a real headless Chromium against the API and a real worker process.

Needs Debian's `chromium` at /usr/bin/chromium (driven by Playwright, never a downloaded
browser): the tests skip without it locally and fail in CI. Screenshots go to
test-artifacts/dashboard/ (git-ignored), or to MEDIAQ_TEST_ARTIFACTS.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from producer.embedded import ApiThread, embedded_system
from producer.settings import Settings
from tests.services import skip_or_fail

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MEDIAQ_TEST_ARTIFACTS") or ROOT / "test-artifacts" / "dashboard")
NEWS = [
    json.loads(line)
    for line in (ROOT / "examples" / "news" / "batch.jsonl").read_text("utf-8").splitlines()
    if line
]


def anchor_params(width: int, height: int, *, fps: int = 12, script_s: int = 12) -> dict[str, Any]:
    """An anchor video at a small size: seconds of work per job on a laptop."""
    size = {"width": width, "height": height}
    return {
        "script": {"target_duration_s": script_s},
        "anchor": {**size, "fps": fps},
        "compose": size,
    }


pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiThread]:
    """The API and one worker process on the embedded default, in a fresh data folder."""
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("MEDIAQ_DATABASE_URL", "MEDIAQ_BROKER_URL", "MEDIAQ_STORAGE_URL"):
            patch.delenv(name, raising=False)
        settings = Settings(data_dir=tmp_path_factory.mktemp("dashboard") / "data")
        settings.data_dir.mkdir(parents=True)
        with embedded_system(settings, concurrency=2) as api:
            yield api


@pytest.fixture(scope="module")
def browser(system: ApiThread) -> Iterator[BrowserContext]:
    """Chromium with a fresh profile; downloads, updates and sync all off."""
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            base_url=system.url,
        )
        context.set_default_timeout(15_000)
        yield context
        context.close()


@pytest.fixture(scope="module")
def http(system: ApiThread) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {system.api_key}"}
    with httpx.Client(base_url=system.url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def page(browser: BrowserContext, system: ApiThread) -> Page:
    """One tab, signed in, for the scenario tests (they run in file order and share it)."""
    tab = browser.new_page()
    watch_errors(tab)
    tab.goto("/")
    tab.get_by_label("API key").fill(system.api_key)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.get_by_role("heading", name="Batches")).to_be_visible()
    # a reload or a navigation away would lose this
    tab.evaluate("window.__kept = 'no reload'")
    return tab


def watch_errors(page: Page) -> None:
    """Keep the page's script errors and console errors (a CSP refusal is one) on the page."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors  # type: ignore[attr-defined]


def assert_no_errors(page: Page, *, expected: tuple[str, ...] = ()) -> None:
    """No script error; no failed request but for the `expected` statuses."""
    errors = [
        error
        for error in page.errors  # type: ignore[attr-defined]
        if not any(f"status of {status}" in error for status in expected)
    ]
    assert errors == [], errors


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    sys.stderr.write(f"\nscreenshot: {path}\n")
    return path


def submit(http: httpx.Client, items: list[dict[str, Any]], params: dict[str, Any]) -> Any:
    body = {"template": "news_anchor", "items": items, "params": params}
    response = http.post("/v1/batches", json=body)
    assert response.status_code == 202, response.text
    return response.json()


def test_nothing_shows_without_a_key_and_a_wrong_key_is_refused_clearly(
    browser: BrowserContext, system: ApiThread
) -> None:
    tab = browser.new_page()
    watch_errors(tab)
    try:
        tab.goto("/#/batches/anything")
        expect(tab.locator("#sign-in-form")).to_be_visible()
        expect(tab.locator("#view")).to_be_hidden()
        expect(tab.locator("#nav")).to_be_hidden()
        tab.get_by_label("API key").fill("mq_wrong_key")
        tab.get_by_role("button", name="Sign in").click()
        expect(tab.get_by_role("alert")).to_contain_text("not accepted")
        expect(tab.locator("#view")).to_be_hidden()
        assert tab.evaluate("sessionStorage.length") == 0
        tab.get_by_label("API key").fill(system.api_key)
        tab.get_by_role("button", name="Sign in").click()
        expect(tab.locator("#view")).to_be_visible()
        expect(tab.get_by_role("alert")).to_have_text("No such batch for this API key.")
        assert tab.evaluate("sessionStorage.getItem('mediaq.apiKey')") == system.api_key
        assert tab.evaluate("localStorage.length") == 0
        tab.get_by_role("button", name="Sign out").click()
        expect(tab.locator("#sign-in-form")).to_be_visible()
        expect(tab.locator("#view")).to_be_hidden()
        assert tab.evaluate("sessionStorage.length") == 0
        assert_no_errors(tab, expected=("401", "404"))
    finally:
        tab.close()


def test_a_batch_is_watched_to_completion_then_searched_played_and_traced(
    page: Page, http: httpx.Client
) -> None:
    # Given the batches page, When a batch is submitted through the API,
    accepted = submit(http, NEWS[:2], anchor_params(640, 360))
    row = page.locator(f'tr[data-batch-id="{accepted["id"]}"]')
    # Then it appears and reaches 100% / succeeded without a reload
    expect(row).to_be_visible()
    expect(row.locator(".percent")).to_have_text("100%", timeout=60_000)
    expect(row.locator(".state")).to_have_text("succeeded")
    assert page.evaluate("window.__kept") == "no reload"
    sys.stderr.write(f"\nlive updates: {page.evaluate('window.mediaqLive.mode')}\n")
    screenshot(page, "batches")

    # When the batch is opened and a custom_id searched, Then only that job is listed
    row.get_by_role("link").click()
    jobs = page.locator("#jobs tbody tr")
    expect(jobs).to_have_count(2)
    expect(page.locator("#batch-state")).to_have_text("succeeded")
    screenshot(page, "batch")
    custom_id = NEWS[1]["custom_id"]
    page.get_by_label("Search custom_id").fill(custom_id[:6])
    expect(jobs).to_have_count(1)
    expect(jobs.first).to_contain_text(custom_id)

    # When the job is opened, Then its video plays with a caption track
    jobs.first.get_by_role("link", name=custom_id).click()
    expect(page.locator("#job-state")).to_have_text("succeeded")
    expect(page.locator("#timeline li")).to_have_count(7)
    video = page.locator("video#video")
    expect(video).to_be_visible()
    page.wait_for_function(
        "() => { const v = document.querySelector('video#video'); "
        "return v && v.readyState >= 1 && v.duration > 0; }"
    )
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('video#video').currentTime > 0.3")
    page.wait_for_function(
        "() => { const t = document.querySelector('video#video track'); "
        "return t && t.readyState === 2 && t.track.cues.length > 0; }"
    )
    assert video.evaluate("v => v.textTracks[0].kind") == "captions"
    assert video.evaluate("v => v.src").startswith("blob:")

    # When provenance is opened, Then the engine and the content credentials read plainly
    outputs = page.locator("#outputs-table tbody tr")
    outputs.filter(has_text="anchor").get_by_role("button", name="Provenance").click()
    expect(page.locator("#provenance-engine")).to_have_text("avatar2d")
    credentials = outputs.filter(has_text="credentials").filter(has_text="video/mp4")
    credentials.get_by_role("button", name="Provenance").click()
    expect(page.locator("#provenance-engine")).to_have_text("c2pa")
    expect(page.locator("#credentials")).to_contain_text("AI-generated")
    page.locator("video#video").evaluate("v => v.pause()")
    screenshot(page, "job")
    assert page.evaluate("window.__kept") == "no reload"
    assert_no_errors(page)


def test_a_running_job_is_canceled_and_retried_from_its_page(
    page: Page, http: httpx.Client
) -> None:
    # Given a job running a larger, longer video (about 10 s of anchor frames to cancel in)
    accepted = submit(http, NEWS[2:3], anchor_params(1280, 720, fps=25, script_s=30))
    job_id = accepted["jobs"][0]["id"]
    page.evaluate(f"location.hash = '#/jobs/{job_id}'")
    state = page.locator("#job-state")
    expect(state).to_have_text("running", timeout=30_000)
    # When it is canceled from the page, Then it shows canceled, as the API does
    page.get_by_role("button", name="Cancel job").click()
    expect(state).to_have_text("canceled")
    assert http.get(f"/v1/jobs/{job_id}").json()["state"] == "canceled"
    # When it is retried, Then it runs again to success
    page.get_by_role("button", name="Retry job").click()
    expect(state).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("video#video")).to_be_visible()
    assert page.evaluate("window.__kept") == "no reload"
    assert_no_errors(page)


def test_the_pages_fit_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.evaluate("location.hash = '#/'")
        expect(page.get_by_role("heading", name="Batches")).to_be_visible()
        expect(page.locator("#batches tbody tr").first).to_be_visible()
        # no sideways scrolling: tables turn into labelled cards
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "phone-batches")
        page.locator("#batches tbody tr").first.get_by_role("link").click()
        expect(page.locator("#jobs tbody tr").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_without_an_events_endpoint_the_pages_poll_and_still_update(
    browser: BrowserContext, system: ApiThread, http: httpx.Client
) -> None:
    # Given an API whose /v1/events answers 404 (an older server, or a proxy that drops it)
    tab = browser.new_page()
    watch_errors(tab)
    tab.route("**/v1/events*", lambda route: route.fulfill(status=404))
    try:
        tab.goto("/")
        tab.get_by_label("API key").fill(system.api_key)
        tab.get_by_role("button", name="Sign in").click()
        expect(tab.get_by_role("heading", name="Batches")).to_be_visible()
        # When a batch is submitted, Then polling every 2 s brings it to 100%
        body = {"template": "voiceover", "items": NEWS[3:5]}
        accepted = http.post("/v1/batches", json=body).json()
        row = tab.locator(f'tr[data-batch-id="{accepted["id"]}"]')
        expect(row.locator(".percent")).to_have_text("100%", timeout=30_000)
        assert tab.evaluate("window.mediaqLive.mode") == "polling"
        expect(tab.locator("#live-status")).to_have_text("Updating every 2 s")
        assert_no_errors(tab, expected=("404",))
    finally:
        tab.close()


def test_the_event_stream_parser_joins_split_lines_and_skips_comments(
    browser: BrowserContext,
) -> None:
    tab = browser.new_page()
    try:
        tab.goto("/")
        events = tab.evaluate(
            """async () => {
                const { SseParser } = await import("/dashboard/live.js");
                const got = [];
                const parser = new SseParser((event) => got.push(event));
                for (const chunk of ["id: 7\\r", "\\nevent: job.updated\\ndata: {\\"a\\"",
                                     ":1}\\n\\n: ping\\n\\n", "data: x\\ndata: y\\n\\n"]) {
                    parser.push(chunk);
                }
                return got;
            }"""
        )
        assert events == [
            {"type": "job.updated", "id": "7", "data": {"a": 1}},
            {"type": "message", "id": None, "data": "x\ny"},
        ]
    finally:
        tab.close()
