"""The app in a real browser: headless Chromium (Debian's) driven by Playwright.

A user uploads a photo, the 3D plot and the overlays render, the retention slider moves and the
kept patches follow; live mode with Chromium's fake camera playing a clip streams frames back.
"""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)")]
sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    """``python app.py`` exactly as a user starts it, on a free port."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert process.poll() is None, "app.py exited during start-up"
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("app.py did not start serving within 120 s")
    yield url
    process.terminate()
    process.wait(timeout=30)


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 15) -> None:
    """Frames (RGB, even sizes) -> a YUV4MPEG2 clip, Chromium's fake-camera input format."""
    h, w = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    clip = tmp_path_factory.mktemp("camera") / "walker.y4m"
    still = cv2.cvtColor(cv2.imread(str(ROOT / "assets" / "lbi_synth_lab.jpg")), cv2.COLOR_BGR2RGB)
    frame = cv2.resize(still, (480, 480))
    frames = [np.ascontiguousarray(np.roll(frame, 4 * k, axis=1)[:, :480]) for k in range(-8, 8)]
    write_y4m(clip, [cv2.copyMakeBorder(f, 0, 0, 80, 80, cv2.BORDER_REPLICATE) for f in frames])
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}"])
        yield browser
        browser.close()


def _image_src(page, elem_id: str) -> str | None:
    return page.evaluate(f"(() => {{ const i = document.querySelector('#{elem_id} img'); return i ? i.src : null }})()")


def test_upload_slider_plot_and_overlays(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(app_url, wait_until="load")
    page.locator("#photo input[type=file]").set_input_files(str(ROOT / "assets" / "astronaut.jpg"))
    page.wait_for_selector("#plot3d .js-plotly-plot .main-svg", timeout=90_000)
    page.wait_for_function("document.querySelector('#summary').innerText.includes('231 of 768')", timeout=30_000)
    assert page.locator("#plot3d .js-plotly-plot .scatter3d, #plot3d .js-plotly-plot canvas").count() > 0
    overlays = {name: _image_src(page, name) for name in ("pose2d", "attention", "kept")}
    assert all(overlays.values()), overlays
    # move the retention slider (keyboard on the range input, as a user would) and let go
    slider = page.locator("#retention input[type=range]")
    slider.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("document.querySelector('#summary').innerText.includes('(retention 0.50)')",
                           timeout=30_000)
    assert "384 of 768" in page.inner_text("#summary")
    page.wait_for_function(f"document.querySelector('#kept img').src !== {overlays['kept']!r}", timeout=30_000)
    assert page.inner_text("#status").strip() == "Done."
    page.close()


def test_live_mode_streams_frames_back(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(app_url, wait_until="load")
    page.get_by_role("tab", name="Live webcam").click()
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#camera button[aria-label='capture photo']").click()  # starts the stream
    seen, start = set(), time.time()
    while time.time() - start < 20 and len(seen) < 5:
        src = _image_src(page, "live-out")
        if src:
            seen.add(src)
        time.sleep(0.05)
    assert len(seen) >= 5, f"only {len(seen)} processed frames came back in 20 s"
    page.locator("#pause").click()
    page.wait_for_selector("#live-plot .js-plotly-plot .main-svg", timeout=30_000)
    page.close()
