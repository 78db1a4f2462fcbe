"""The Gradio app end to end: launched on a free port and called with gradio_client, as a user's
script would; several clients at once; an app whose weights failed to load keeps serving."""

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from lbi.app import PHOTO_OUTPUTS, Handlers, build_app, launch, load_estimator
from lbi.model import kept_count
from lbi.views.files import OutputFiles
from lbi.views.live import LiveState, live_frame
from lbi.views.live_stream import LiveStreams
from lbi.views.photo import ALL_JOINTS, layer_names

gradio_client = pytest.importorskip("gradio_client")
ASSETS = Path(__file__).resolve().parents[1] / "assets"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def named(result: tuple) -> dict:
    """A photo endpoint's outputs by name."""
    return dict(zip(PHOTO_OUTPUTS, result, strict=True))


def _launch(estimator, error=None):
    files, live = OutputFiles(), LiveStreams(estimator, error)
    demo = build_app(estimator, error, files, live)
    demo.queue(default_concurrency_limit=2)
    port = _free_port()
    launch(demo, files, live, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def estimator():
    estimator, error = load_estimator(None, "cpu")
    assert error is None
    return estimator


@pytest.fixture(scope="module")
def url(estimator):
    demo, url = _launch(estimator)
    yield url
    demo.close()


def test_photo_then_retention(url, estimator):
    client = gradio_client.Client(url, verbose=False)
    layer = layer_names(estimator)[1]
    out = named(
        client.predict(
            gradio_client.handle_file(str(ASSETS / "astronaut.jpg")),
            0.3,
            ALL_JOINTS,
            layer,
            "refined",
            api_name="/analyse",
        )
    )
    assert all(Path(out[name]).is_file() for name in ("pose2d", "attention", "kept"))
    (first,) = json.loads(Path(out["result_json"]).read_text())["people"]
    total = first["total_tokens"]
    assert first["kept_tokens"] == kept_count(0.3, total)
    assert out["status"].startswith("outside the photo, so inferred rather than seen:") and "left foot" in out["status"]
    assert f"Kept patches:** {kept_count(0.3, total)} of {total}" in out["summary"]
    assert np.array(first["joints3d_mm"]).shape == (17, 3) and first["retention"] == 0.3
    # the same session moves the slider: stage 2 only, the 2D pose and the coarse pose are unchanged
    out = named(client.predict(1.0, ALL_JOINTS, layer, "refined", "1", api_name="/retention"))
    (wide,) = json.loads(Path(out["result_json"]).read_text())["people"]
    assert f"{total} of {total}" in out["summary"] and wide["retention"] == 1.0
    assert wide["coarse3d_mm"] == first["coarse3d_mm"] and wide["joints2d_px"] == first["joints2d_px"]
    assert wide["joints3d_mm"] != first["joints3d_mm"]


def test_the_fusion_setting(url, estimator):
    """The default joins MediaPipe's 3D as the weights do best; the paper's lifter is one setting away; the JSON
    says which produced each pose and carries MediaPipe's own."""
    client = gradio_client.Client(url, verbose=False)
    layer = layer_names(estimator)[1]
    photo = gradio_client.handle_file(str(ASSETS / "astronaut.jpg"))
    people = {}
    for fusion in (None, "none", "plain"):
        args = (photo, 0.3, ALL_JOINTS, layer, "with MediaPipe's 3D") + ((fusion,) if fusion else ())
        out = named(client.predict(*args, api_name="/analyse"))
        (people[fusion],) = json.loads(Path(out["result_json"]).read_text())["people"]
    assert people[None]["fusion"] == estimator.fusion == "ensemble"
    assert people["none"]["fusion"] == "none" and people["plain"]["fusion"] == "plain"
    assert np.array(people["none"]["mediapipe3d_mm"]).shape == (17, 3)
    assert people[None]["joints3d_mm"] != people["none"]["joints3d_mm"] != people["plain"]["joints3d_mm"]
    assert (
        "3D pose from:** lbi alone"
        in named(client.predict(photo, 0.3, ALL_JOINTS, layer, "refined", "none", api_name="/analyse"))["summary"]
    )
    out = named(client.predict(photo, 0.3, ALL_JOINTS, layer, "refined", "learned", api_name="/analyse"))
    assert "learned" in out["status"] and out["result_json"] is None  # these weights read no prior: said so


def _bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """Files a user might upload, each with the message the app must answer with."""
    from PIL import Image

    photo = Image.open(ASSETS / "grace_hopper.jpg")
    cases = {}
    (folder / "notes.png").write_bytes(b"this is not a picture")
    cases["non-image"] = (folder / "notes.png", "is not an image")
    photo.save(folder / "full.jpg")
    data = (folder / "full.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) // 2])
    cases["truncated"] = (folder / "cut.jpg", "truncated or corrupted")
    photo.resize((48, 56)).save(folder / "tiny.png")
    cases["tiny"] = (folder / "tiny.png", "too small")
    Image.new("L", (8001, 64)).save(folder / "huge.png")
    cases["huge"] = (folder / "huge.png", "too large")
    Image.new("RGB", (320, 240), (120, 160, 200)).save(folder / "empty.png")
    cases["no person"] = (folder / "empty.png", "no person found")
    return cases


@pytest.mark.parametrize("case", ["non-image", "truncated", "tiny", "huge", "no person"])
def test_bad_input_is_reported_and_the_app_keeps_serving(url, estimator, tmp_path, case):
    path, message = _bad_inputs(tmp_path)[case]
    client = gradio_client.Client(url, verbose=False)
    layer = layer_names(estimator)[1]
    result = named(
        client.predict(gradio_client.handle_file(str(path)), 0.3, ALL_JOINTS, layer, "refined", api_name="/analyse")
    )
    assert message in result["status"] and result["pose2d"] is None and result["result_json"] is None
    again = named(
        client.predict(
            gradio_client.handle_file(str(ASSETS / "grace_hopper.jpg")),
            0.3,
            ALL_JOINTS,
            layer,
            "refined",
            api_name="/analyse",
        )
    )
    assert again["status"].startswith("outside the photo") and again["result_json"]  # a note, not an error


def test_odd_but_valid_photos_and_several_people(url, estimator, tmp_path):
    """16-bit grayscale, RGBA and EXIF-rotated uploads work; a photo of two people says so."""
    import cv2
    from PIL import Image

    from lbi.io.images import read_image

    photo = Image.open(ASSETS / "astronaut.jpg")
    Image.fromarray(np.asarray(photo.convert("L"), np.uint16) * 257).save(tmp_path / "deep.png")
    photo.convert("RGBA").save(tmp_path / "alpha.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "sideways.jpg", exif=exif)
    small = cv2.resize(read_image(ASSETS / "lbi_synth_lab.jpg"), None, fx=0.85, fy=0.85)
    big = read_image(ASSETS / "lbi_synth_wild.jpg")
    two = np.full((big.shape[0], small.shape[1] + big.shape[1], 3), 255, np.uint8)
    two[-small.shape[0] :, : small.shape[1]] = small
    two[:, small.shape[1] :] = big
    Image.fromarray(two).save(tmp_path / "two.jpg")
    client = gradio_client.Client(url, verbose=False)
    layer = layer_names(estimator)[1]
    for name in ("deep.png", "alpha.png", "sideways.jpg"):
        result = named(
            client.predict(
                gradio_client.handle_file(str(tmp_path / name)), 0.3, ALL_JOINTS, layer, "refined", api_name="/analyse"
            )
        )
        assert result["status"].startswith("outside the photo"), name  # the astronaut's legs: a note, no error
        assert json.loads(Path(result["result_json"]).read_text())["people"][0]["people_found"] == 1
    sideways = json.loads(Path(result["result_json"]).read_text())["people"][0]
    assert sideways["joints2d_px"][10][1] < sideways["joints2d_px"][3][1]  # upright: head above the feet
    result = named(
        client.predict(
            gradio_client.handle_file(str(tmp_path / "two.jpg")), 0.3, ALL_JOINTS, layer, "refined", api_name="/analyse"
        )
    )
    assert "**2 people found**; shown below: person 1" in result["summary"] and result["status"] == "Done."
    largest, other = json.loads(Path(result["result_json"]).read_text())["people"]
    assert largest["joints2d_px"][0][0] > small.shape[1] > other["joints2d_px"][0][0]  # the larger on the right
    second = named(client.predict(0.3, ALL_JOINTS, layer, "refined", "2", api_name="/person"))
    assert "shown below: person 2" in second["summary"] and second["attention"] != result["attention"]
    assert second["pose2d"] != result["pose2d"]  # the picked person's crop box is drawn
    with pytest.raises(gradio_client.exceptions.AppError, match="not in the list of choices"):
        client.predict(0.3, ALL_JOINTS, layer, "refined", "7", api_name="/person")  # Gradio vets the picker


def test_concurrent_users_get_their_own_results(url, estimator):
    """8 clients at once on the same two photos: every download complete, every result their own.
    (Overlays used to be cached by Gradio under content-hash paths rewritten in place, so two users
    of one photo could truncate each other's download.)"""
    from lbi.io.images import read_image

    layer = layer_names(estimator)[1]
    images = [ASSETS / "astronaut.jpg", ASSETS / "grace_hopper.jpg"] * 4

    def run(image):
        client = gradio_client.Client(url, verbose=False)
        seen = []
        for retention in (0.3, 0.5, 0.3):
            first = named(
                client.predict(
                    gradio_client.handle_file(str(image)), retention, ALL_JOINTS, layer, "refined", api_name="/analyse"
                )
            )
            out = named(client.predict(1.0, ALL_JOINTS, layer, "refined", "1", api_name="/retention"))
            for name in ("pose2d", "attention", "kept"):
                assert read_image(first[name]).shape[2] == 3  # a whole JPEG, decodable
            seen.append(json.loads(Path(out["result_json"]).read_text())["people"][0]["joints2d_px"])
        return seen

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(run, images))
    assert all(r == results[0] for r in results[0::2]) and all(r == results[1] for r in results[1::2])
    assert results[0] != results[1]


@pytest.mark.parametrize(
    "retention, joint, layer, message",
    [
        (0, ALL_JOINTS, None, "retention rate must lie in"),
        (-1, ALL_JOINTS, None, "retention rate must lie in"),
        (5, ALL_JOINTS, None, "retention rate must lie in"),
        ("abc", ALL_JOINTS, None, "must be a number"),
        (0.3, "left_tail", None, "unknown keypoint"),
        (0.3, ALL_JOINTS, "layer 99", "unknown attention layer"),
    ],
)
def test_bad_settings_from_a_script_are_reported(url, estimator, retention, joint, layer, message):
    """/analyse skips Gradio's preprocessing (to read uploads itself), so it checks every input itself."""
    client = gradio_client.Client(url, verbose=False)
    layer = layer or layer_names(estimator)[1]
    result = named(
        client.predict(
            gradio_client.handle_file(str(ASSETS / "astronaut.jpg")),
            retention,
            joint,
            layer,
            "refined",
            api_name="/analyse",
        )
    )
    assert message in result["status"] and result["result_json"] is None


def test_crafted_requests_for_other_files_are_refused(url, estimator):
    """Raw HTTP (not gradio_client, which would upload the local file): file routes and /analyse
    calls naming files outside the upload folder are all refused."""
    from tests.harness.stress import traversal_phase

    result = traversal_phase(url, layer_names(estimator)[1])
    assert result["attempts"] >= 12 and result["refused"] == result["attempts"]


def test_app_without_weights_still_serves(tmp_path):
    (tmp_path / "broken.safetensors").write_text("nope")
    estimator, error = load_estimator(str(tmp_path / "broken.safetensors"), "cpu")
    assert estimator is None and "not a readable safetensors file" in error
    demo, url = _launch(None, error)
    try:
        client = gradio_client.Client(url, verbose=False)
        result = named(
            client.predict(
                gradio_client.handle_file(str(ASSETS / "astronaut.jpg")),
                0.3,
                ALL_JOINTS,
                "stage 1 · layer 1",
                "refined",
                api_name="/analyse",
            )
        )
        assert "not a readable safetensors file" in result["status"]
    finally:
        demo.close()


def test_live_streams_keep_their_own_state(estimator):
    """Two webcam streams interleaved: each has its own tracker and last estimate."""
    from lbi.io.images import read_image

    a, b = read_image(ASSETS / "lbi_synth_lab.jpg"), read_image(ASSETS / "astronaut.jpg")
    state_a = state_b = None
    for _ in range(3):
        out_a, state_a = live_frame(estimator, a, state_a)
        out_b, state_b = live_frame(estimator, b, state_b)
    assert isinstance(state_a, LiveState) and state_a.tracker is not state_b.tracker
    assert out_a.shape == a.shape and out_b.shape == b.shape and not np.array_equal(out_a, a)
    assert state_a.last_rgb is a and state_b.last_rgb is b and state_a.fps > 0
    blank = np.full_like(a, 90)
    out, state_a = live_frame(estimator, blank, state_a)
    assert state_a.last_rgb is a  # the last frame with a person is kept for the paused 3D view


def _jpeg(rgb: np.ndarray) -> bytes:
    import cv2

    return cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


def test_live_frames_go_through_the_live_route(url, estimator):
    """The Live tab's transport: a JPEG frame posted with a stream key comes back drawn, as a JPEG of its size; bad
    requests get their reason and the app keeps serving."""
    import urllib.error
    import urllib.request

    import cv2

    from lbi.bench import two_people_frame

    rgb = two_people_frame(480)

    def post(query: str, body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(f"{url}lbi/live?{query}", data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    for _ in range(2):
        status, body = post("key=test-stream-1&retention=0.5", _jpeg(rgb))
        assert status == 200
    drawn = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape == rgb.shape and np.abs(drawn.astype(int) - rgb[..., ::-1]).mean() > 1.0  # skeletons drawn
    assert post("key=no", _jpeg(rgb))[0] == 400  # a key too short
    status, body = post("key=test-stream-1", b"not an image")
    assert status == 400 and b"the frame is not an image" in body
    assert post("key=test-stream-1&retention=7", _jpeg(rgb))[0] == 400
    assert post("key=test-stream-1", _jpeg(rgb))[0] == 200


def test_live_streams_answer_bad_frames_and_make_room(estimator):
    import cv2

    from lbi.io.images import MAX_SIDE, read_image
    from lbi.views.live_stream import LiveFrameError, decode_frame

    frame = _jpeg(read_image(ASSETS / "lbi_synth_lab.jpg"))
    streams = LiveStreams(estimator, max_streams=1, idle_seconds=60.0)
    try:
        assert streams.frame("stream-a1", frame)[:2] == b"\xff\xd8"  # a JPEG
        assert streams.state("stream-a1").last is not None and streams.state("stream-b1") is None
        pause = Handlers(estimator, live=streams).live_pause  # the pause button: that stream's last frame in 3D
        assert pause("stream-a1", "refined")[0] is not None and "3D pose from" in pause("stream-a1", "refined")[1]
        assert "No live frame with a person yet" in pause("stream-b1", "refined")[1]
        with pytest.raises(LiveFrameError, match="live streams run already") as full:
            streams.frame("stream-b1", frame)
        assert full.value.status == 503
        streams.idle_seconds = 0.0  # stream-a1 is idle now: it gives way, and its graphs are closed
        streams.frame("stream-b1", frame)
        assert streams.state("stream-a1") is None and streams.state("stream-b1") is not None
        with pytest.raises(LiveFrameError, match="fusion"):
            streams.frame("stream-b1", frame, fusion="telepathy")
    finally:
        streams.close()
    assert streams.state("stream-b1") is None
    with pytest.raises(LiveFrameError, match="empty"):
        decode_frame(b"")
    wide = cv2.imencode(".png", np.zeros((64, MAX_SIDE + 8, 3), np.uint8))[1].tobytes()
    with pytest.raises(LiveFrameError, match="too large"):
        decode_frame(wide)
    unloaded = LiveStreams(None, "the weights file is broken")
    with pytest.raises(LiveFrameError, match="the weights file is broken") as err:
        unloaded.frame("stream-c1", frame)
    assert err.value.status == 503


def test_a_stream_follows_the_next_frame_while_one_is_drawn(monkeypatch):
    """The two stages of a live frame overlap across consecutive frames of one stream (the page keeps two in flight),
    and each stage still takes the stream's frames one at a time, in order."""
    import threading

    from lbi.views import live_stream

    log: list[str] = []
    second_followed = threading.Event()

    class State:  # stands in for LiveState: no MediaPipe graphs
        def close(self) -> None:
            log.append("closed")

    def follow(state, rgb):
        frame = "dark" if rgb.mean() < 128 else "light"
        log.append(f"follow {frame}")
        if frame == "light":
            second_followed.set()
        return frame

    def show(estimator, rgb, followed, state, retention, fusion):
        log.append(f"show {followed}")
        if followed == "dark":  # the first frame is drawn until the second has been followed
            assert second_followed.wait(10), "the second frame was not followed while the first was drawn"
        log.append(f"shown {followed}")
        return rgb

    monkeypatch.setattr(live_stream, "LiveState", State)
    monkeypatch.setattr(live_stream, "follow", follow)
    monkeypatch.setattr(live_stream, "show", show)
    streams = LiveStreams(estimator=object())  # type: ignore[arg-type]  # the stages above never use it
    dark, light = (_jpeg(np.full((96, 128, 3), v, np.uint8)) for v in (40, 220))
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(streams.frame, "stream-x1", dark)
        assert _wait_for(lambda: "show dark" in log)
        second = pool.submit(streams.frame, "stream-x1", light)
        answers = [first.result(timeout=20), second.result(timeout=20)]
    assert log == ["follow dark", "show dark", "follow light", "shown dark", "show light", "shown light"]
    assert [live_stream.decode_frame(a).mean() < 128 for a in answers] == [True, False]  # each its own frame
    streams.close()
    assert log[-1] == "closed"


def _wait_for(condition, seconds: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_only_uploads_and_examples_are_read(tmp_path):
    """The photo endpoint reads files itself (no Gradio preprocessing), so it vets every path."""
    from gradio.utils import get_upload_folder

    from lbi.app import is_served_file

    uploads = Path(get_upload_folder())
    uploads.mkdir(parents=True, exist_ok=True)
    inside = uploads / "lbi_test_upload.jpg"
    inside.write_bytes((ASSETS / "astronaut.jpg").read_bytes())
    link = uploads / "lbi_test_link.md"
    link.unlink(missing_ok=True)
    link.symlink_to(ASSETS.parent / "README.md")
    try:
        assert is_served_file(str(inside)) and is_served_file(str(ASSETS / "grace_hopper.jpg"))
        assert not is_served_file(str(ASSETS.parent / "README.md"))
        assert not is_served_file("/etc/passwd") and not is_served_file(str(uploads / ".." / "x.jpg"))
        assert not is_served_file(str(link))  # a link out of the upload folder
    finally:
        inside.unlink()
        link.unlink()


def test_video_tab_explains_bad_clips(url, tmp_path):
    """The clip endpoint: a file that is not a video, and a clip over the app's length limit, are told apart."""
    from lbi.app import VIDEO_OUTPUTS
    from lbi.data.synth.clip import render_clip
    from lbi.views.clip import APP_MAX_SECONDS

    client = gradio_client.Client(url, verbose=False)
    (tmp_path / "notes.mp4").write_text("not a video")
    out = dict(
        zip(
            VIDEO_OUTPUTS,
            client.predict(gradio_client.handle_file(str(tmp_path / "notes.mp4")), 1, True, api_name="/analyse_clip"),
        )
    )
    assert "not a video OpenCV can read" in out["status"]
    frames = int(APP_MAX_SECONDS * 0.5) + 2  # at 0.5 fps: just over the limit, in few frames
    render_clip(tmp_path / "long.avi", frames=frames, fps=0.5, people=0, width=160)
    out = dict(
        zip(
            VIDEO_OUTPUTS,
            client.predict(gradio_client.handle_file(str(tmp_path / "long.avi")), 1, True, api_name="/analyse_clip"),
        )
    )
    assert f"the limit is {APP_MAX_SECONDS:.0f} s" in out["status"]


def test_a_clip_plays_in_a_served_player_and_a_new_clip_clears_it(url, tmp_path):
    """The clip endpoint: the player (an iframe) loads from the app with plotly.js beside it, no network; the files
    next to it are served, nothing else; a file that is not a video then leaves nothing of the clip before."""
    import html
    import re

    import httpx

    from lbi.app import PLAYER_EMPTY, VIDEO_OUTPUTS
    from lbi.data.synth.clip import render_clip

    render_clip(tmp_path / "one.avi", frames=4, fps=8.0, people=1, width=320)
    client = gradio_client.Client(url, verbose=False)
    clip = gradio_client.handle_file(str(tmp_path / "one.avi"))
    out = dict(zip(VIDEO_OUTPUTS, client.predict(clip, 1, True, api_name="/analyse_clip"), strict=True))
    assert "4 frames at 8 fps" in out["status"] and out["pose2d"] and out["frame_info"].startswith("frame 0")
    names = [Path(d if isinstance(d, str) else d["path"]).name for d in out["downloads"]]
    assert sum(n.endswith(".webm") for n in names) == 1 and sum(n.endswith(".bvh") for n in names) == 1, names
    src = html.unescape(re.search(r'<iframe src="([^"]+)"', out["player"])[1])
    page = httpx.get(url + src, timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "lbiPlayer(" in page.text and "https://" not in page.text
    folder = src.rpartition("/")[0]
    served = re.findall(r'src="((?:static/)?[\w.-]+\.(?:js|webm))"', page.text)
    assert any(n.endswith(".js") for n in served) and any(n.endswith(".webm") for n in served), served
    for name in served:
        assert httpx.get(f"{url}{folder}/{name}", timeout=30).status_code == 200, name
    assert httpx.get(f"{url}{folder}/../../etc/passwd", timeout=10).status_code != 200
    (tmp_path / "notes.mp4").write_text("not a video")
    bad = gradio_client.handle_file(str(tmp_path / "notes.mp4"))
    out = dict(zip(VIDEO_OUTPUTS, client.predict(bad, 1, True, api_name="/analyse_clip"), strict=True))
    assert "not a video OpenCV can read" in out["status"]
    assert out["player"] == PLAYER_EMPTY and not out["downloads"] and out["pose2d"] is None and not out["frame_info"]
