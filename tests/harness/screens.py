"""Screenshots of the app as a newcomer sees it on a 1280 x 800 screen, after a run of each tab, and where the status
lines and results sit on it (printed as JSON): ``python app.py`` is started and driven by headless Chromium.

    python -m tests.harness.screens [--out /work/notes/screens] [--frames 8]

The Photo tab analyses a photo of two people (two of the examples side by side), the Video tab a rendered clip of two
people (:func:`lbi.data.synth.clip.render_clip`). Needs playwright (a dev dependency) and Debian's chromium.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from tests.harness.bench_live import CHROMIUM_ARGS, ROOT, chromium_path, running_app

#: the screen the app must fit: results and status lines visible without scrolling
SCREEN = {"width": 1280, "height": 800}


def two_people_photo(path: Path) -> Path:
    """Two example photos side by side (the smaller one at the bottom left): a photo of two people."""
    import cv2
    from PIL import Image

    from lbi.io.images import read_image

    small = cv2.resize(read_image(ROOT / "assets" / "lbi_synth_lab.jpg"), None, fx=0.85, fy=0.85)
    big = read_image(ROOT / "assets" / "lbi_synth_wild.jpg")
    two = np.full((big.shape[0], small.shape[1] + big.shape[1], 3), 255, np.uint8)
    two[-small.shape[0] :, : small.shape[1]] = small
    two[:, small.shape[1] :] = big
    Image.fromarray(two).save(path)
    return path


def box(page, selector: str) -> dict | None:
    """The element's box on the screen (px), or None when it is not on the page."""
    found = page.locator(selector).first
    return found.bounding_box() if found.count() else None


def photo_tab(page, url: str, photo: Path, out: Path) -> dict:
    page.goto(url, wait_until="load")
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    page.wait_for_function("document.querySelector('#summary').innerText.includes('Kept patches')", timeout=180_000)
    page.wait_for_timeout(1500)  # the 3D plot draws
    page.screenshot(path=str(out / "photo_1280x800.png"))
    return {"status": box(page, "#status"), "plot": box(page, "#plot3d"), "status_text": page.inner_text("#status")}


def video_tab(page, url: str, clip: Path, out: Path) -> dict:
    page.goto(url, wait_until="load")
    page.get_by_role("tab", name="Video").click()
    page.locator("#clip-upload input[type=file]").set_input_files(str(clip))
    page.locator("#clip-people input[type=number]").fill("2")
    page.locator("#clip-people input[type=number]").press("Enter")
    page.locator("#clip-run").click()
    page.wait_for_selector("#clip-player iframe", timeout=600_000)
    player = page.frame_locator("#clip-player iframe")
    player.locator("#motion .main-svg").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(out / "video_1280x800.png"))
    page.locator("#clip-frame input[type=range]").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(3000)
    page.screenshot(path=str(out / "video_frame3_1280x800.png"))
    page.screenshot(path=str(out / "video_full_page.png"), full_page=True)
    return {
        "status": box(page, "#clip-status"),
        "player": box(page, "#clip-player iframe"),
        "status_text": page.inner_text("#clip-status"),
    }


def main(argv: list[str] | None = None) -> None:
    from playwright.sync_api import sync_playwright

    from lbi.data.synth.clip import render_clip

    parser = argparse.ArgumentParser(prog="python -m tests.harness.screens", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("screens"))
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="lbi-screens-"))
    photo = two_people_photo(work / "two_people.jpg")
    render_clip(work / "two_people.mp4", frames=args.frames, fps=8.0, people=2)
    report = {}
    with running_app() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=SCREEN)
        report["photo"] = photo_tab(page, url, photo, args.out)
        report["video"] = video_tab(page, url, work / "two_people.mp4", args.out)
        browser.close()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
