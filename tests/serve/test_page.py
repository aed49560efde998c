"""The studio page (`/` of `videogen serve`) in a real browser: Playwright driving the distribution's headless
Chromium against a real server (uvicorn in a subprocess, 127.0.0.1, tiny models). One test runs the steps in order
on one page, as a person would: token, form, a refused field, a job from the form with its progress, previews and a
playing video, a job posted by the API, an image upload, cancel, reload, "use these settings", the unreachable
banner, a phone-width screen; every request the page made went to the server itself.

Screenshots go to $VIDEOGEN_UI_SCREENSHOTS when set (docs/ui.md's come from there), else to a temporary folder."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TOKEN, Server

import videogen

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (Debian: apt-get install chromium)")
WAIT_MS = 90_000  # a tiny model's first load on a busy 2-core machine; every wait is bounded by it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("studio") / "state").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("VIDEOGEN_UI_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Browser:
    """One page in headless Chromium, with every request it made and every uncaught script error."""

    def __init__(self, page: Any):
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.errors.append(str(e)))


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Browser]:
    assert CHROMIUM is not None
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = chromium.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        yield Browser(page)
        context.close()
        chromium.close()


#: records what the queue panel showed, from the mutation records (each status text and each preview image the
#: page put in, however fast they followed each other)
WATCH_QUEUE = """() => {
  window.seen = {status: [], previews: []};
  const preview = (src) => { if (src && !window.seen.previews.includes(src)) window.seen.previews.push(src); };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'childList' && r.target.classList && r.target.classList.contains('status'))
        for (const n of r.addedNodes) if (n.nodeType === Node.TEXT_NODE) window.seen.status.push(n.data);
      if (r.type === 'attributes' && r.target.matches('img.preview')) {
        preview(r.oldValue);
        preview(r.target.getAttribute('src'));
      }
    }
  }).observe(document.getElementById('queue'),
             {subtree: true, childList: true, attributes: true, attributeFilter: ['src'], attributeOldValue: true});
}"""


#: a drop of a PNG file (made on a canvas) on the image box, as the browser delivers one
DROP_IMAGE = """async () => {
  const canvas = document.createElement('canvas'); canvas.width = canvas.height = 8;
  const blob = await new Promise(r => canvas.toBlob(r, 'image/png'));
  const data = new DataTransfer(); data.items.add(new File([blob], 'dropped.png', {type: 'image/png'}));
  const drop = new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true});
  document.getElementById('drop').dispatchEvent(drop);
}"""


def _job_ids(server: Server) -> list[str]:
    return [v["id"] for v in server.request("GET", "/v1/videos?limit=100")[1]["data"]]


def _the_page_asks_for_the_token_then_offers_the_catalog_with_the_planners_verdict(
    server: Server, browser: Browser, shots: Path
) -> None:
    page = browser.page
    page.goto(server.base + "/")
    expect(page.locator("#token-panel")).to_be_visible()  # the API said 401: the page asks
    page.fill("#token", TOKEN)
    page.press("#token", "Enter")
    expect(page.locator("#token-panel")).to_be_hidden()
    expect(page.locator("#f-model option[value='tiny-wan']")).to_have_count(1)
    page.select_option("#f-model", "tiny-wan")
    expect(page.locator("#model-info")).to_contain_text("t2v")
    expect(page.locator("#image-field")).to_be_hidden()  # text-to-video: no image to drop
    report = server.request("POST", "/v1/plan", {"model": "tiny-wan", "prompt": "plan"})[1]
    expect(page.locator("#verdict")).to_contain_text(f"{report['plan']['name']}")
    expect(page.locator("#verdict")).to_contain_text(report["reason"][:40])
    page.select_option("#f-model", "tiny-wan-i2v")
    expect(page.locator("#image-field")).to_be_visible()  # image-to-video: the drop box shows
    page.evaluate(DROP_IMAGE)  # drag and drop an image file onto it
    expect(page.locator("#image-preview")).to_be_visible()
    assert page.evaluate("state.image.name") == "dropped.png"
    page.click("#image-clear")
    expect(page.locator("#image-preview")).to_be_hidden()
    page.select_option("#f-model", "tiny-wan")

    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
             .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                           && !(el.tagName === 'BUTTON' && el.textContent.trim()))
             .map(el => el.id || el.outerHTML)"""
    )
    assert unlabelled == []
    page.click("#advanced summary")
    page.focus("#dice")
    page.keyboard.press("Enter")  # keyboard: the dice button draws a seed
    assert page.input_value("#f-seed").isdigit()
    page.fill("#f-seed", "")
    page.fill("#f-prompt", "a ferret leaps into a mountain stream")
    page.screenshot(path=shots / "ui-form.png")


def _a_field_the_family_refuses_shows_the_spec_error_beside_it(server: Server, browser: Browser) -> None:
    page = browser.page
    before = _job_ids(server)
    page.uncheck("#f-snap")
    page.fill("#f-frames", "10")  # tiny-wan takes 4k+1 frames
    page.click("#submit")
    refusal = server.request("POST", "/v1/videos", {"model": "tiny-wan", "prompt": "x", "num_frames": 10})[1]
    message = refusal["error"]["message"]
    assert refusal["error"]["param"] == "num_frames"
    expect(page.locator("#e-num_frames")).to_have_text(message)  # the SpecError's words, beside its field
    expect(page.locator("#f-frames")).to_have_attribute("aria-invalid", "true")
    assert _job_ids(server) == before  # nothing queued
    page.check("#f-snap")
    page.fill("#f-frames", "")


def _a_job_from_the_form_shows_progress_a_preview_and_plays(server: Server, browser: Browser, shots: Path) -> None:
    page = browser.page
    page.fill("#f-steps", "6")
    page.fill("#f-seed", "5")
    page.evaluate(WATCH_QUEUE)  # a tiny model's steps can pass faster than a test polls: the page records them
    page.focus("#f-prompt")
    page.keyboard.press("Control+Enter")
    job = page.locator("#queue li.job").first
    expect(job).to_be_attached()
    video_id = job.get_attribute("data-id")
    card = page.locator(f"#gallery li[data-id='{video_id}']")
    expect(card).to_be_visible()
    seen = page.evaluate("window.seen")
    steps = [t.split(" · ")[0] for t in seen["status"] if t.startswith("step ")]
    steps = [t for i, t in enumerate(steps) if i == 0 or t != steps[i - 1]]  # the poll redraws the same line
    assert steps == [f"step {i}/6" for i in range(1, 7)], seen["status"]  # live progress from the events stream
    assert any("ETA" in t for t in seen["status"])
    assert seen["previews"] and all(src.startswith("data:image/jpeg;base64,") for src in seen["previews"])
    page.wait_for_function(
        "id => { const v = document.querySelector(`#gallery li[data-id='${id}'] video`);"
        " return v && v.readyState >= 2 && v.duration > 0; }",
        arg=video_id,
    )
    played = page.evaluate(
        """async id => { const v = document.querySelector(`#gallery li[data-id='${id}'] video`);
             v.muted = true; await v.play(); const t0 = v.currentTime;
             await new Promise(r => setTimeout(r, 400)); return [t0, v.currentTime]; }""",
        video_id,
    )
    assert played[1] > played[0]  # it plays
    expect(page.locator("#queue li.job")).to_have_count(0)
    spec = server.request("GET", f"/v1/studio/videos/{video_id}/spec")[1]["spec"]
    assert (spec["steps"], spec["seed"], spec["prompt"]) == (6, 5, "a ferret leaps into a mountain stream")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=shots / "ui-gallery.png")


def _api_jobs_appear_cancel_stops_a_queued_and_a_running_one_an_image_makes_a_video(
    server: Server, browser: Browser, shots: Path, tmp_path: Path
) -> None:
    page = browser.page
    # long enough on any machine to still run when cancelled below (at 32x32, 400 steps took 1.1 s on an idle core)
    long = {"model": "tiny-wan", "prompt": "by the API", "steps": 1000, "size": "128x128", "num_frames": 33}
    running_id = server.request("POST", "/v1/videos", long)[1]["id"]
    running = page.locator(f"#queue li[data-id='{running_id}']")
    expect(running).to_be_visible()  # without a reload
    expect(running.locator(".status")).to_contain_text("step ")
    expect(running.locator("img.preview")).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=shots / "ui-running.png")

    image = tmp_path / "first.png"
    videogen.testing.sample_image(32, 32).save(image)
    page.select_option("#f-model", "tiny-wan-i2v")
    page.set_input_files("#f-image", str(image))
    expect(page.locator("#image-preview")).to_be_visible()
    page.fill("#f-prompt", "the first frame moves")
    page.fill("#f-steps", "2")
    page.fill("#f-seed", "")  # the server draws one
    page.click("#submit")
    i2v = page.locator("#queue li.job").filter(has_text="the first frame moves")
    expect(i2v).to_be_visible()
    i2v_id = i2v.get_attribute("data-id")
    answer = server.request("GET", f"/v1/studio/videos/{i2v_id}/spec")[1]
    assert answer["input_reference"] is True and answer["spec"]["model"] == "tiny-wan-i2v"  # the image went up

    queued_id = server.request("POST", "/v1/videos", {**long, "prompt": "waits"})[1]["id"]
    queued = page.locator(f"#queue li[data-id='{queued_id}']")
    expect(queued.locator(".status")).to_contain_text("queued")
    queued.locator("button.cancel").click()  # cancel a queued job: gone at once
    expect(queued).to_have_count(0)
    assert server.request("GET", f"/v1/videos/{queued_id}")[0] == 404
    running.locator("button.cancel").click()  # cancel the running one: it stops at its next step
    expect(running).to_have_count(0)
    assert server.request("GET", f"/v1/videos/{running_id}")[0] == 404

    made = page.locator(f"#gallery li[data-id='{i2v_id}']")  # then the image-to-video job runs
    expect(made).to_be_visible()
    page.wait_for_function(
        "id => { const v = document.querySelector(`#gallery li[data-id='${id}'] video`);"
        " return v && v.readyState >= 2 && v.duration > 0; }",
        arg=i2v_id,
    )
    page.select_option("#f-model", "tiny-wan")


def _after_a_reload_the_gallery_is_there_and_use_these_settings_fills_the_form(
    server: Server, browser: Browser
) -> None:
    page = browser.page
    page.reload()
    expect(page.locator("#gallery li.video")).to_have_count(2)  # the form's t2v and i2v jobs
    card = page.locator("#gallery li.video").filter(has_text="the first frame moves")
    video_id = card.get_attribute("data-id")
    seed = server.request("GET", f"/v1/videos/{video_id}")[1]["seed"]
    assert seed > 2**53  # drawn by the server: beyond a JavaScript number's exact range
    spec = server.request("GET", f"/v1/studio/videos/{video_id}/spec")[1]["spec"]
    page.fill("#f-prompt", "something else")
    card.locator("button.use").click()
    expect(page.locator("#f-prompt")).to_have_value(spec["prompt"])
    assert page.input_value("#f-model") == spec["model"] == "tiny-wan-i2v"
    assert page.input_value("#f-steps") == str(spec["steps"])
    assert page.input_value("#f-width") == str(spec["width"])
    assert page.input_value("#f-frames") == str(spec["num_frames"])
    assert page.input_value("#f-seed") == str(seed)  # every digit
    assert json.loads(page.evaluate("asJSON(request())"))["seed"] == seed  # and so is what the page would send
    expect(page.locator("#e-input_reference")).to_contain_text("drop it again")  # the image isn't kept
    assert card.locator("a.download").get_attribute("href").startswith("blob:")
    card.locator("details.spec summary").click()  # the spec it ran with, as text
    expect(card.locator("details.spec pre")).to_contain_text(f'"seed": {seed}')


def _an_unreachable_server_shows_a_banner_that_goes_when_it_answers(browser: Browser) -> None:
    page = browser.page
    page.route("**/v1/**", lambda route: route.abort())
    expect(page.locator("#offline")).to_be_visible()
    page.unroute("**/v1/**")
    expect(page.locator("#offline")).to_be_hidden()


def _a_phone_width_screen_has_no_sideways_scroll(browser: Browser, shots: Path) -> None:
    page = browser.page
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        expect(page.locator("#submit")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=shots / "ui-phone.png", full_page=True)
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


def _every_request_the_page_made_went_to_the_server(server: Server, browser: Browser) -> None:
    assert browser.requests, "the page made no request?"
    elsewhere = [u for u in browser.requests if not u.startswith((server.base + "/", "data:", "blob:"))]
    assert elsewhere == []
    assert browser.errors == []


def test_a_person_uses_the_page_step_by_step(server: Server, browser: Browser, shots: Path, tmp_path: Path) -> None:
    """The steps share one page and one server, in this order (one test, so no test runner can split or reorder
    them: under xdist the tests of a module may run on different workers)."""
    _the_page_asks_for_the_token_then_offers_the_catalog_with_the_planners_verdict(server, browser, shots)
    _a_field_the_family_refuses_shows_the_spec_error_beside_it(server, browser)
    _a_job_from_the_form_shows_progress_a_preview_and_plays(server, browser, shots)
    _api_jobs_appear_cancel_stops_a_queued_and_a_running_one_an_image_makes_a_video(server, browser, shots, tmp_path)
    _after_a_reload_the_gallery_is_there_and_use_these_settings_fills_the_form(server, browser)
    _an_unreachable_server_shows_a_banner_that_goes_when_it_answers(browser)
    _a_phone_width_screen_has_no_sideways_scroll(browser, shots)
    _every_request_the_page_made_went_to_the_server(server, browser)
