"""The app in a real browser: headless Chromium (Debian's) driven by Playwright.

A user uploads a photo, the 3D plot and the overlays render, the retention slider moves and the
kept patches follow; an example runs and fits a 1280 x 800 screen; a clip's annotated video plays in step with its
3D motion; live mode with Chromium's fake camera playing a clip streams frames back.
"""

import os
import re
from pathlib import Path

import pytest

from lbi.model import kept_count
from tests.harness.bench_live import (
    CHROMIUM_ARGS,
    chromium_path,
    count_frames,
    image_src,
    running_app,
    start_live,
    still_clip,
)
from tests.harness.screens import SCREEN  # the small screen the app must fit, results and status in view

ROOT = Path(__file__).resolve().parents[1]
#: CI sets LBI_REQUIRE_BROWSER=1: a missing browser then fails these tests instead of skipping them
REQUIRED = os.environ.get("LBI_REQUIRE_BROWSER") == "1"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        chromium_path() is None and not REQUIRED, reason="needs Debian's chromium (apt-get install chromium)"
    ),
]
if REQUIRED:
    from playwright import sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app_url():
    with running_app() as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if chromium_path() is None:
        pytest.fail("LBI_REQUIRE_BROWSER=1 but chromium is not installed (apt-get install chromium)")
    clip = still_clip(ROOT / "assets" / "lbi_synth_lab.jpg", tmp_path_factory.mktemp("camera") / "walker.y4m")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={clip}"]
        )
        yield browser
        browser.close()


def kept_tokens(page) -> tuple[int, int]:
    """(kept, total) image tokens, as the summary reports them."""
    found = re.search(r"Kept patches:\s*(\d+) of (\d+)", page.inner_text("#summary"))
    assert found, page.inner_text("#summary")
    return int(found.group(1)), int(found.group(2))


def test_upload_slider_plot_and_overlays(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(app_url, wait_until="load")
    page.locator("#photo input[type=file]").set_input_files(str(ROOT / "assets" / "astronaut.jpg"))
    page.wait_for_selector("#plot3d .js-plotly-plot .main-svg", timeout=90_000)
    page.wait_for_function("document.querySelector('#summary').innerText.includes('Kept patches')", timeout=30_000)
    kept, total = kept_tokens(page)
    assert kept == kept_count(0.3, total)
    assert page.locator("#plot3d .js-plotly-plot .scatter3d, #plot3d .js-plotly-plot canvas").count() > 0
    overlays = {name: image_src(page, name) for name in ("pose2d", "attention", "kept")}
    assert all(overlays.values()), overlays
    # move the retention slider (keyboard on the range input, as a user would) and let go
    page.locator("#retention input[type=range]").focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("document.querySelector('#summary').innerText.includes('(retention 0.50)')", timeout=30_000)
    assert kept_tokens(page) == (kept_count(0.5, total), total)
    page.wait_for_function(f"document.querySelector('#kept img').src !== {overlays['kept']!r}", timeout=30_000)
    assert page.inner_text("#status").strip().startswith("outside the photo, so inferred")  # the legs: a note
    page.close()


def on_screen(page, selector: str, screen: dict = SCREEN) -> bool:
    """Whether the element lies within the screen without scrolling (the page at its top)."""
    page.evaluate("window.scrollTo(0, 0)")
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= screen["height"]


def test_examples_run_and_the_result_fits_a_small_screen(app_url, browser):
    """An example picked by its caption runs; on a 1280 x 800 screen its status line, 2D pose and 3D view show
    without scrolling."""
    page = browser.new_page(viewport=SCREEN)
    page.goto(app_url, wait_until="load")
    page.get_by_text("LBI-Synth render: lab").click()
    page.wait_for_function("document.querySelector('#summary').innerText.includes('Kept patches')", timeout=60_000)
    assert page.inner_text("#status").strip() == "Done." and image_src(page, "pose2d")
    page.wait_for_selector("#plot3d .js-plotly-plot .main-svg", timeout=30_000)
    assert on_screen(page, "#status") and on_screen(page, "#pose2d img") and on_screen(page, "#plot3d")
    page.close()


def test_live_mode_streams_frames_back(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    start_live(page, app_url)
    frames = count_frames(page, 15)
    assert frames >= 5, f"only {frames} processed frames came back in 15 s"
    page.locator("#pause").click()
    page.wait_for_selector("#live-plot .js-plotly-plot .main-svg", timeout=30_000)
    page.close()


def player_frame(page):
    """The Video tab's player page (the iframe's document)."""
    return page.locator("#clip-player iframe").element_handle(timeout=30_000).content_frame()


def seen_while_playing(player, seconds: float) -> tuple[set[str], bool]:
    """The 3D animation frames shown while the clip plays for ``seconds``, and whether the figure's data changed."""
    before = player.evaluate("JSON.stringify(document.getElementById('motion').data[0].x)")
    player.evaluate("document.getElementById('clip').play()")
    shown = set()
    for _ in range(int(seconds / 0.1)):
        player.wait_for_timeout(100)
        shown.add(player.evaluate("document.body.dataset.frame"))
    after = player.evaluate("JSON.stringify(document.getElementById('motion').data[0].x)")
    return shown, before != after


def test_video_tab_plays_the_clip_and_its_3d_motion_in_step(app_url, browser, tmp_path):
    """A clip of two people on a 1280 x 800 screen: upload, analyse (a progress bar shows); the status line and the
    player show without scrolling; the annotated WebM plays and the 3D animation plays with it; the frame slider
    moves both (and the 2D picture below), pausing the clip moves the slider; the downloads include the BVH of each
    person and the WebM. Then a file that is not a video leaves nothing of the clip on the page."""
    from lbi.data.synth.clip import render_clip

    render_clip(tmp_path / "two.mp4", frames=10, fps=8.0, people=2)
    page = browser.new_page(viewport=SCREEN)
    page.goto(app_url, wait_until="load")
    page.get_by_role("tab", name="Video").click()
    page.locator("#clip-upload input[type=file]").set_input_files(str(tmp_path / "two.mp4"))
    page.locator("#clip-people input[type=number]").fill("2")
    page.locator("#clip-people input[type=number]").press("Enter")
    page.locator("#clip-run").click()
    page.wait_for_selector(".progress-text, .eta-bar, .progress-level", timeout=60_000)  # progress shows
    page.wait_for_function(
        "document.querySelector('#clip-status').innerText.includes('10 frames at 8 fps')", timeout=400_000
    )
    assert "ids [0, 1]" in page.inner_text("#clip-status")
    assert on_screen(page, "#clip-status") and on_screen(page, "#clip-player iframe")
    player = player_frame(page)
    player.wait_for_selector("#motion .main-svg", timeout=60_000)
    player.wait_for_function("document.getElementById('clip').readyState >= 2", timeout=30_000)
    assert abs(player.evaluate("document.getElementById('clip').duration") - 10 / 8) < 0.2
    shown, changed = seen_while_playing(player, 2.0)
    assert changed and len(shown) >= 3, shown  # the 3D plays with the clip
    player.wait_for_function("document.getElementById('clip').paused", timeout=10_000)  # the clip ended
    last = player.evaluate("document.body.dataset.videoFrame")
    page.wait_for_function(f"document.querySelector('#clip-frame input[type=number]').value === {last!r}")
    before = image_src(page, "clip-pose2d")
    page.locator("#clip-frame input[type=range]").focus()
    page.keyboard.press("Home")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    player.wait_for_function("document.body.dataset.frame === '4' && document.body.dataset.videoFrame === '4'")
    assert abs(player.evaluate("document.getElementById('clip').currentTime") - 4.5 / 8) < 0.05
    page.wait_for_function("document.querySelector('#clip-frame-info').innerText.includes('frame 4')", timeout=60_000)
    assert image_src(page, "clip-pose2d") != before
    links = page.locator("#clip-downloads a.download-link")
    names = [links.nth(k).get_attribute("download") or "" for k in range(links.count())]
    assert any(n.endswith(".json") for n in names) and sum(n.endswith(".bvh") for n in names) == 2, names
    assert sum(n.endswith(".webm") for n in names) == 1, names
    bvh = next(k for k, n in enumerate(names) if n.endswith(".bvh"))
    with page.expect_download() as download:
        links.nth(bvh).click()
    saved = tmp_path / "person.bvh"
    download.value.save_as(saved)
    assert saved.read_text().startswith("HIERARCHY") and "Frames: 10" in saved.read_text()
    # a bad clip: its error alone, nothing of the clip before
    (tmp_path / "notes.mp4").write_text("not a video")
    page.locator("#clip-upload button[aria-label='Clear']").click()
    page.locator("#clip-upload input[type=file]").set_input_files(str(tmp_path / "notes.mp4"))
    page.locator("#clip-run").click()
    page.wait_for_function("document.querySelector('#clip-status').innerText.includes('not a video')", timeout=60_000)
    assert page.locator("#clip-player iframe").count() == 0 and page.locator("#clip-downloads a").count() == 0
    assert not image_src(page, "clip-pose2d") and not page.inner_text("#clip-frame-info").strip()
    page.close()
