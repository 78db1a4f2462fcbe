"""The Gradio app: photo, video or webcam -> 3D human pose, with attention and pruned patches on view.

    lbi app [--host 127.0.0.1] [--port 7860] [--weights FILE] [--device cpu|cuda]    (pip install "lbi[app]")

A thin front end: the pipeline lives in the rest of ``lbi`` (the estimator, the views); this module only wires it
to widgets. Nothing else in ``lbi`` imports it (or Gradio).
"""

from __future__ import annotations

import argparse
import html
import os
import urllib.parse
from importlib.resources import files as package_files

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from a local tool

import anyio  # noqa: E402
import gradio as gr  # noqa: E402
import torch  # noqa: E402
from fastapi import FastAPI, Request, Response  # noqa: E402
from fastapi.responses import PlainTextResponse  # noqa: E402
from gradio.utils import get_upload_folder as gradio_upload_folder  # noqa: E402

from .geometry.skeleton import H36M_JOINTS  # noqa: E402
from .io.images import ImageError  # noqa: E402
from .io.weights import default_weights  # noqa: E402
from .model import LiftingConfig  # noqa: E402
from .motion.video import VideoError  # noqa: E402
from .pipeline.estimator import Estimator, NoPersonFound  # noqa: E402
from .views import figure3d  # noqa: E402
from .views.clip import APP_MAX_SECONDS, analyse_clip, frame_view  # noqa: E402
from .views.files import OutputFiles  # noqa: E402
from .views.live_stream import MAX_FRAME_BYTES, LiveFrameError, LiveStreams  # noqa: E402
from .views.photo import (  # noqa: E402
    ALL_JOINTS,
    DEFAULT_LAYER,
    VIEWS_3D,
    Controls,
    attention_view,
    fusion_choices,
    layer_names,
    load_photo,
    person_choices,
    photo_view,
    summary_markdown,
)

#: the example photos, shipped with the package (the checkout's assets/)
ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "example_assets")
EXAMPLES = sorted(os.path.join(ASSETS, f) for f in os.listdir(ASSETS) if f.lower().endswith(".jpg"))
# system fonts: the default theme would fetch Google Fonts, and the app must work offline
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
#: the page's style: the Video tab's player fills its column at a height that fits a 1280 x 800 screen
CSS = """
.lbi-player { width: 100%; height: 370px; border: 0; display: block; }
.lbi-live-button { padding: 6px 16px; border-radius: 8px; }
#live-out { min-height: 300px; margin-top: 8px; border: 1px dashed #bbb; border-radius: 8px; }
#live-out img { display: block; max-width: 100%; max-height: 480px; margin: auto; }
#live-out img:not([src]) { display: none; }
.lbi-player-empty { height: 370px; display: flex; align-items: center; justify-content: center; text-align: center;
  color: #666; border: 1px dashed #bbb; border-radius: 8px; padding: 0 24px; }
"""
INTRO = """# Lifting by Image
A 2D pose (MediaPipe) is lifted to 3D while each joint looks at the image (**stage 1**, the coarse pose); **stage 2**
refines it on the image patches kept. Upload a photo or a video clip, pick an example, or go live."""
#: the examples' captions (file name -> what it shows)
EXAMPLE_CAPTIONS = {
    "astronaut.jpg": "Astronaut: legs out of the photo",
    "grace_hopper.jpg": "Grace Hopper: head and shoulders",
    "lbi_synth_lab.jpg": "LBI-Synth render: lab",
    "lbi_synth_wild.jpg": "LBI-Synth render: outdoors",
}
#: the Video tab's player before a clip is analysed (and after one failed)
PLAYER_EMPTY = (
    '<div class="lbi-player-empty">The clip, with everyone\'s 2D skeleton and number, plays here beside their 3D '
    "motion once it is analysed.</div>"
)
#: runs in the page once: the player (an iframe) moves the frame slider when the user pauses or seeks the clip
PAGE_JS = """() => {
  window.addEventListener('message', (event) => {
    const player = document.querySelector('#clip-player iframe');
    const i = event.data && event.data.lbiShown;
    if (!player || event.source !== player.contentWindow || typeof i !== 'number') return;
    const range = document.querySelector('#clip-frame input[type=range]');
    if (!range || range.disabled || Number(range.value) === i) return;
    range.value = String(i);
    range.dispatchEvent(new Event('input', {bubbles: true}));
  });
}"""
#: the frame slider's value, sent to the player: its video pauses there and the 3D view follows
FRAME_TO_PLAYER_JS = """(frame) => {
  const player = document.querySelector('#clip-player iframe');
  if (player && player.contentWindow) player.contentWindow.postMessage({lbiFrame: Number(frame)}, location.origin);
}"""


#: where the Live tab posts its webcam frames (lbi/views/live.js; answered by LiveStreams)
LIVE_ROUTE = "/lbi/live"
#: the Live tab's stream: a start button, a status line and the frames drawn (run by LIVE_JS, which posts to the
#: route the page names, relative to the page so that the app also works under a root path)
LIVE_HTML = f"""<div class="lbi-live" data-route="{LIVE_ROUTE.lstrip("/")}">
  <button class="lbi-live-button lg secondary">Start webcam</button> <span class="lbi-live-status"></span>
  <div id="live-out"><img alt="The webcam's frames with everyone's 2D skeleton and a small 3D view"></div>
</div>"""
LIVE_JS = (package_files("lbi.views") / "live.js").read_text(encoding="utf-8")
#: the pause button asks for the page's live stream (lbi/views/live.js keeps its key)
PAUSE_JS = "(key, show) => [window.lbiLive ? window.lbiLive.key : '', show]"


def player_html(page: str) -> str:
    """The player page (a file of the served output folder) in an iframe, by a URL relative to the app's."""
    src = "gradio_api/file=" + urllib.parse.quote(page)
    return f'<iframe src="{html.escape(src)}" title="The clip and its 3D motion" class="lbi-player"></iframe>'


def is_served_file(path: str) -> bool:
    """True for files in Gradio's upload folder or in assets/ (examples); never anything else."""
    resolved = os.path.realpath(path)
    roots = (os.path.realpath(gradio_upload_folder()), os.path.realpath(ASSETS))
    return any(os.path.commonpath([resolved, root]) == root for root in roots) and os.path.isfile(resolved)


#: the clip endpoint's outputs, in the order gradio_client returns them (the clip state last, not returned)
VIDEO_OUTPUTS = ("status", "frame", "person", "pose2d", "attention", "frame_info", "player", "downloads")
#: the photo endpoints' outputs, in the order gradio_client returns them (the session state last, not returned)
PHOTO_OUTPUTS = ("pose2d", "plot", "attention", "kept", "summary", "result_json", "status", "person")


class Handlers:
    """What the app's events do, apart from its layout. Photo handlers return the values of PHOTO_OUTPUTS and
    the session state, in that order (``gr.skip()`` for what an event leaves as it is)."""

    def __init__(
        self,
        estimator: Estimator | None,
        load_error: str | None = None,
        files: OutputFiles | None = None,
        live: LiveStreams | None = None,
    ) -> None:
        self.estimator, self.load_error = estimator, load_error
        self.layers = layer_names(estimator) if estimator else ["stage 1 · layer 1"]
        self.files = files or OutputFiles()
        self.live = live or LiveStreams(estimator, load_error)

    @staticmethod
    def fail(message: str) -> tuple:
        """Clears every photo output and says what went wrong in the status line."""
        values: dict[str, str | gr.Dropdown | None] = {name: None for name in PHOTO_OUTPUTS}
        values |= {"summary": "", "status": f"⚠️ {message}"}
        values["person"] = gr.Dropdown(choices=[], value=None)
        return (*values.values(), None)

    def show(self, session: dict, estimates: list, controls: Controls, skip_unchanged: bool = False) -> tuple:
        view = photo_view(
            session["rgb"],
            estimates,
            self.files,
            controls.person,
            controls.layer,
            controls.joint,
            controls.show,
            session["original_scale"],
        )
        choices = person_choices(len(estimates))
        notes = estimates[controls.person].diagnostics.notes
        values = {
            "pose2d": view.pose2d,
            "plot": view.figure,
            "attention": view.attention,
            "kept": view.kept,
            "summary": view.summary,
            "result_json": view.json_path,
            "status": " ".join(n for n in notes if "people found" not in n) or "Done.",
            "person": gr.Dropdown(choices=choices, value=choices[controls.person], interactive=len(choices) > 1),
        }
        if skip_unchanged:  # a new r changes stage 2 only: the 2D pose never changes, stage-1 attention neither
            values["pose2d"] = values["person"] = gr.skip()
            assert self.estimator is not None  # estimates exist, so the model loaded
            if controls.layer < len(self.estimator.model.config.stage1):
                values["attention"] = gr.skip()
        return (*(values[name] for name in PHOTO_OUTPUTS), {**session, "estimates": estimates})

    def analyse(self, upload, retention, joint, layer, show, fusion=None) -> tuple:
        # preprocess=False: we get the uploaded file as it is (gr.Image would decode and re-encode it,
        # losing EXIF orientation and 16-bit depth, and fail on a broken file with a generic message).
        # Gradio then vets none of the inputs: every one is checked here.
        if self.estimator is None:
            return self.fail(self.load_error or "no model")
        try:
            controls = Controls.parse(retention, joint, layer, show, self.layers, fusion=fusion)
        except ValueError as err:
            return self.fail(str(err))
        path = upload.get("path") if isinstance(upload, dict) else None
        name = upload.get("orig_name") if isinstance(upload, dict) else None
        name = name if isinstance(name, str) and name else "the uploaded file"
        if not isinstance(path, str) or not path:
            return self.fail("Upload a photo, pick an example below or take a webcam snapshot.")
        if "\x00" in path or not is_served_file(path):  # without preprocessing, Gradio no longer vets the path
            return self.fail("that file is not an upload of this app")
        try:
            photo = load_photo(path, name)
            estimates = self.estimator.predict_people(photo.rgb, controls.retention, fusion=controls.fusion)
        except (ImageError, NoPersonFound, ValueError) as err:  # ValueError: a fusion these weights cannot run
            return self.fail(str(err))
        for estimate in estimates:
            estimate.diagnostics.notes.extend([photo.note] if photo.note else [])
        session = {"rgb": photo.rgb, "original_scale": photo.original_size[0] / photo.rgb.shape[1]}
        return self.show(session, estimates, controls)

    def _controls(self, session: dict, retention, joint, layer, show, person) -> Controls:
        return Controls.parse(retention, joint, layer, show, self.layers, person, len(session["estimates"]))

    def change_retention(self, retention, joint, layer, show, person, session) -> tuple:
        """Stage 2 again for everyone, from their cached stage 1."""
        return self._again(session, (retention, joint, layer, show, person), refine=True)

    def change_person(self, retention, joint, layer, show, person, session) -> tuple:
        """Another person's attention, patches and summary (nothing is re-run)."""
        return self._again(session, (retention, joint, layer, show, person), refine=False)

    def _again(self, session: dict | None, settings: tuple, refine: bool) -> tuple:
        unchanged = (gr.skip(),) * (len(PHOTO_OUTPUTS) + 1)
        if self.estimator is None or not session:
            return unchanged
        try:
            controls = self._controls(session, *settings)
        except ValueError as err:
            return (*unchanged[:-3], f"⚠️ {err}", gr.skip(), gr.skip())
        if not refine:
            return self.show(session, session["estimates"], controls)
        refined = [self.estimator.refine(e, controls.retention) for e in session["estimates"]]
        return self.show(session, refined, controls, skip_unchanged=True)

    def change_view(self, joint, layer, show, person, session) -> tuple:
        """The attention image and the 3D figure only: no re-drawing of the other overlays, no new JSON file."""
        if self.estimator is None or not session:
            return gr.skip(), gr.skip()
        estimates = session["estimates"]
        try:
            controls = self._controls(session, estimates[0].diagnostics.retention, joint, layer, show, person)
        except ValueError:
            return gr.skip(), gr.skip()
        picked = estimates[controls.person]
        return (
            attention_view(session["rgb"], picked, self.files, controls.layer, controls.joint),
            figure3d.skeleton_figure([e.pose for e in estimates], controls.show),
        )

    @staticmethod
    def clear_clip(status: str = "") -> tuple:
        """VIDEO_OUTPUTS and the clip state with nothing of a clip left: a new clip, or one that failed."""
        values = {
            "status": status,
            "frame": gr.Slider(minimum=0, maximum=1, value=0, step=1, interactive=False),
            "person": gr.Dropdown(choices=[], value=None, interactive=False),
            "pose2d": None,
            "attention": None,
            "frame_info": "",
            "player": PLAYER_EMPTY,
            "downloads": None,
        }
        return (*(values[name] for name in VIDEO_OUTPUTS), None)

    def analyse_clip(self, upload, people, smoothing, fusion=None, progress=gr.Progress()) -> tuple:  # noqa: B008
        """A clip analysed: VIDEO_OUTPUTS and the clip state. A clip that fails leaves nothing of the one before."""
        if self.estimator is None:
            return self.clear_clip(f"⚠️ {self.load_error}")
        path = upload if isinstance(upload, str) else None
        if not path or "\x00" in path or not is_served_file(path):
            return self.clear_clip("⚠️ Upload a video clip (MP4, AVI, MOV, MKV or WebM) first.")
        people = int(people) if people in (1, 2, 3, 4) else 1

        def tell(stage: str, done: int, total: int) -> None:
            progress((done, total) if total else None, desc=stage, unit="frames")

        try:
            fusion = Controls.parse(0.3, ALL_JOINTS, self.layers[0], VIEWS_3D[0], self.layers, fusion=fusion).fusion
            view = analyse_clip(self.estimator, path, self.files, people, bool(smoothing), tell, fusion)
        except (VideoError, ValueError) as err:
            return self.clear_clip(f"⚠️ {err}")
        clip = view.clip
        ids = [str(i) for i in clip.ids]
        pose2d, attention, line = frame_view(self.estimator, clip, 0, self.files, clip.ids[0] if ids else None)
        return (
            view.status,
            gr.Slider(minimum=0, maximum=max(len(clip.frames) - 1, 1), value=0, step=1, interactive=True),
            gr.Dropdown(choices=ids, value=ids[0] if ids else None, interactive=len(ids) > 1),
            pose2d,
            attention,
            line,
            player_html(view.page),
            view.downloads,
            clip,
        )

    def clip_frame(self, frame, person, clip) -> tuple:
        """One frame of the analysed clip: everyone's 2D pose, one person's attention, a line about it."""
        if self.estimator is None or clip is None:
            return gr.skip(), gr.skip(), gr.skip()
        index = int(frame) if isinstance(frame, int | float) and 0 <= frame < len(clip.frames) else 0
        pid = int(person) if isinstance(person, str) and person.isdigit() else None
        try:
            return frame_view(self.estimator, clip, index, self.files, pid)
        except VideoError as err:
            return gr.skip(), gr.skip(), f"⚠️ {err}"

    def live_pause(self, key, show):
        """The full 3D view and summary of the last frame with a person of live stream ``key``."""
        state = self.live.state(key) if isinstance(key, str) else None
        if state is None or state.last is None:
            return None, "No live frame with a person yet: start the webcam first."
        show = show if show in VIEWS_3D else VIEWS_3D[0]
        return figure3d.skeleton_figure(state.last.pose, show), summary_markdown(state.last)


def photo_tab(handlers: Handlers, r: float, fusion: gr.Radio) -> None:
    """The Photo tab: the photo, its examples, the status line and the controls beside the 2D and 3D views (all
    within a 1280 x 800 screen); the attention and the kept patches below."""
    layers = handlers.layers
    state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=2, min_width=300):
            photo = gr.Image(
                type="filepath", sources=["upload", "webcam", "clipboard"], label="Photo", height=260, elem_id="photo"
            )
            gr.Examples(
                [[p] for p in EXAMPLES],
                inputs=[photo],
                label="Examples",
                example_labels=[EXAMPLE_CAPTIONS.get(os.path.basename(p), os.path.basename(p)) for p in EXAMPLES],
            )
            status = gr.Markdown(elem_id="status")
            retention = gr.Slider(
                0.01,
                1.0,
                value=r,
                step=0.01,
                label="Retention rate r",
                info="Share of image patches stage 2 keeps; moving it re-runs stage 2 only",
                elem_id="retention",
            )
            with gr.Row():
                joint = gr.Dropdown([ALL_JOINTS, *H36M_JOINTS], value=ALL_JOINTS, label="Keypoint (attention)")
                layer = gr.Dropdown(
                    layers,
                    value=layers[min(DEFAULT_LAYER, len(layers) - 1)],
                    label="Attention layer",
                    info="PGTL: pose-guided layer, attention kept near the body; TL: plain transformer layer",
                )
            with gr.Row():
                show = gr.Radio(
                    list(VIEWS_3D),
                    value="refined",
                    label="3D pose",
                    info="coarse: stage 1's pose; refined: stage 2's, from the kept patches",
                )
                person = gr.Dropdown([], value=None, label="Person (attention, patches)", elem_id="person")
        with gr.Column(scale=4):
            with gr.Row():
                # the overlays come as JPEG files written once, atomically, under content-hash names: two
                # users never overwrite a picture the other is downloading
                pose2d = gr.Image(label="2D pose", height=420, elem_id="pose2d", scale=2)
                plot = gr.Plot(label="3D skeleton (mm)", elem_id="plot3d", scale=3)
            summary = gr.Markdown(elem_id="summary")
            result_json = gr.File(label="Result (JSON)", elem_id="result-json")
    with gr.Row():
        attention = gr.Image(label="Attention of the chosen keypoint and layer", elem_id="attention")
        kept = gr.Image(label="Patches kept for stage 2 (the others darkened)", elem_id="kept")
    shown = dict(
        pose2d=pose2d,
        plot=plot,
        attention=attention,
        kept=kept,
        summary=summary,
        result_json=result_json,
        status=status,
        person=person,
    )
    outputs = [shown[name] for name in PHOTO_OUTPUTS] + [state]
    photo.change(
        handlers.analyse,
        [photo, retention, joint, layer, show, fusion],
        outputs,
        api_name="analyse",
        concurrency_limit=2,
        trigger_mode="always_last",
        preprocess=False,
    )
    fusion.change(  # the whole pose again: the learned fusion reads MediaPipe's 3D in stage 1
        handlers.analyse,
        [photo, retention, joint, layer, show, fusion],
        outputs,
        concurrency_limit=2,
        trigger_mode="always_last",
        preprocess=False,
        api_visibility="private",
    )
    retention.change(
        handlers.change_retention,
        [retention, joint, layer, show, person, state],
        outputs,
        api_name="retention",
        trigger_mode="always_last",
        show_progress="hidden",
    )
    person.input(
        handlers.change_person,
        [retention, joint, layer, show, person, state],
        outputs,
        api_name="person",
        show_progress="hidden",
    )
    for control in (joint, layer, show):
        control.change(
            handlers.change_view,
            [joint, layer, show, person, state],
            [attention, plot],
            show_progress="hidden",
            api_visibility="private",
        )


def video_tab(handlers: Handlers, fusion: gr.Radio) -> None:
    """The Video tab: upload a clip and analyse it (with progress); the clip with everyone's 2D skeleton and number
    then plays beside their 3D motion (one player page, :mod:`lbi.views.player`); the frame slider moves both and
    shows a frame's 2D poses and one person's attention below; JSON / CSV / BVH and the annotated clip (WebM) to
    download. A new clip clears everything of the one before."""
    clip_state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            upload = gr.File(
                label=f"Video clip (up to {APP_MAX_SECONDS:.0f} s)",
                file_types=[".mp4", ".avi", ".mov", ".mkv", ".webm"],
                height=110,
                elem_id="clip-upload",
            )
            people = gr.Slider(
                1, 4, value=1, step=1, label="People per frame", info="The most to look for", elem_id="clip-people"
            )
            smoothing = gr.Checkbox(value=True, label="Smooth over time (1-euro filter)")
            run = gr.Button("Analyse the clip", variant="primary", elem_id="clip-run")
            status = gr.Markdown(elem_id="clip-status")
        with gr.Column(scale=3):
            player = gr.HTML(PLAYER_EMPTY, elem_id="clip-player")
            with gr.Row():
                frame = gr.Slider(
                    0,
                    1,
                    value=0,
                    step=1,
                    label="Frame",
                    info="Moves the clip and the 3D view; pausing the clip moves it",
                    interactive=False,
                    elem_id="clip-frame",
                    scale=3,
                )
                person = gr.Dropdown([], value=None, label="Person (attention)", elem_id="clip-person", scale=1)
    downloads = gr.File(
        label="Downloads: motion (JSON, CSV, BVH per person) and the annotated clip (WebM)",
        file_count="multiple",
        elem_id="clip-downloads",
    )
    frame_info = gr.Markdown(elem_id="clip-frame-info")
    with gr.Row():
        pose2d = gr.Image(label="The frame: everyone's 2D pose, box and number", elem_id="clip-pose2d")
        attention = gr.Image(label="Attention of the chosen person", elem_id="clip-attention")
    shown = dict(
        status=status,
        frame=frame,
        person=person,
        pose2d=pose2d,
        attention=attention,
        frame_info=frame_info,
        player=player,
        downloads=downloads,
    )
    outputs = [shown[name] for name in VIDEO_OUTPUTS] + [clip_state]
    upload.change(handlers.clear_clip, None, outputs, api_visibility="private", show_progress="hidden")
    run.click(
        handlers.analyse_clip,
        [upload, people, smoothing, fusion],
        outputs,
        api_name="analyse_clip",
        concurrency_limit=1,
    )
    frame.change(None, [frame], None, js=FRAME_TO_PLAYER_JS, api_visibility="private")
    frame.change(
        handlers.clip_frame,
        [frame, person, clip_state],
        [pose2d, attention, frame_info],
        trigger_mode="always_last",
        show_progress="hidden",
        api_name="clip_frame",
    )
    person.change(
        handlers.clip_frame,
        [frame, person, clip_state],
        [pose2d, attention, frame_info],
        trigger_mode="always_last",
        show_progress="hidden",
        api_visibility="private",
    )


def live_tab(handlers: Handlers, r: float) -> None:
    """The Live webcam tab: the stream (lbi/views/live.js posts the webcam's frames to :data:`LIVE_ROUTE`), and the
    full 3D view of the last frame on pause."""
    gr.Markdown(
        "Each webcam frame comes back with everyone's 2D skeleton and number (up to two people) and a small 3D view "
        "of the first; press *Pause: full 3D view* for the interactive skeleton of the last frame."
    )
    gr.HTML(LIVE_HTML, js_on_load=LIVE_JS, elem_id="live")
    gr.Slider(0.01, 1.0, value=r, step=0.01, label="Retention rate r", elem_id="live-retention")  # read by LIVE_JS
    with gr.Row():
        pause = gr.Button("Pause: full 3D view", elem_id="pause")
        live_show = gr.Radio(list(VIEWS_3D), value="refined", label="3D pose")
    live_key = gr.Textbox(visible=False)  # the stream's key, filled in by the page (PAUSE_JS)
    live_plot = gr.Plot(label="3D skeleton of the last frame", elem_id="live-plot")
    live_summary = gr.Markdown()
    pause.click(
        handlers.live_pause,
        [live_key, live_show],
        [live_plot, live_summary],
        js=PAUSE_JS,
        api_visibility="private",
    )


def build_app(
    estimator: Estimator | None,
    load_error: str | None = None,
    files: OutputFiles | None = None,
    live: LiveStreams | None = None,
) -> gr.Blocks:
    """The Blocks app. ``estimator`` is None when the weights could not be loaded: the app then serves and says why
    on every request. ``files``: where its outputs go (:func:`launch` serves that folder to the page); ``live``: the
    live streams that :func:`launch` answers the Live tab's frames with."""
    handlers = Handlers(estimator, load_error, files, live)
    r = estimator.model.config.retention if estimator else LiftingConfig.retention  # the model's r
    # delete_cache: every 10 min, Gradio removes what it cached for downloads more than an hour ago
    with gr.Blocks(title="Lifting by Image", delete_cache=(600, 3600)) as demo:
        gr.Markdown(INTRO)
        if load_error:
            gr.Markdown(f"### ⚠️ The model could not be loaded\n{load_error}", elem_id="load-error")
        choices = fusion_choices(estimator) if estimator else [("lbi alone (the paper's model)", "none")]
        fusion = gr.Radio(
            choices,
            value=choices[0][1],
            label="3D pose from",
            info="MediaPipe gives a 3D pose too: lbi can join it (the best on real photos) or lift alone, as the paper",
            elem_id="fusion",
        )
        with gr.Tab("Photo"):
            photo_tab(handlers, r, fusion)
        with gr.Tab("Video"):
            video_tab(handlers, fusion)
        with gr.Tab("Live webcam"):
            live_tab(handlers, r)
        demo.load(None, None, None, js=PAGE_JS)
    return demo


def launch(demo: gr.Blocks, files: OutputFiles, live: LiveStreams | None = None, **options) -> None:
    """Serves ``demo`` (built with ``files`` and ``live``) as the app needs: the output folder served to the page
    (the Video tab's player pages, their clips and plotly.js), the live frames at :data:`LIVE_ROUTE`, the offline
    theme, the page's style, no server-side rendering. ``options``: the rest of Gradio's ``launch`` (host, port,
    ...)."""
    block = not options.pop("prevent_thread_lock", False)
    demo.launch(
        allowed_paths=[str(files.folder)], theme=THEME, css=CSS, ssr_mode=False, prevent_thread_lock=True, **options
    )
    if live is not None:
        add_live_route(demo.app, live)
    if block:
        demo.block_thread()


def add_live_route(app: FastAPI, live: LiveStreams) -> None:
    """POST :data:`LIVE_ROUTE` ``?key=...&retention=...&fusion=...`` with a JPEG frame -> the frame drawn, as JPEG
    (:meth:`lbi.views.live_stream.LiveStreams.frame`); a frame that cannot be answered gets its reason as text."""

    async def live_frame(request: Request) -> Response:
        size = request.headers.get("content-length", "")
        if size.isdigit() and int(size) > MAX_FRAME_BYTES:
            return PlainTextResponse(f"the frame is larger than {MAX_FRAME_BYTES // 2**20} MB", status_code=413)
        image, query = await request.body(), request.query_params
        try:
            drawn = await anyio.to_thread.run_sync(
                live.frame, query.get("key", ""), image, query.get("retention"), query.get("fusion")
            )
        except LiveFrameError as err:
            return PlainTextResponse(str(err), status_code=err.status)
        return Response(drawn, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    app.add_api_route(LIVE_ROUTE, live_frame, methods=["POST"], include_in_schema=False)


def load_estimator(
    weights: str | None, device: str | None, onnx: bool = True, fusion: str | None = None
) -> tuple[Estimator | None, str | None]:
    """The estimator, or None and the reason it could not be loaded. ``onnx``: onnxruntime for the video and live
    tabs where it is installed (the photo tab keeps PyTorch: its retention slider re-runs stage 2); ``fusion``: the
    one the page starts with (None: the weights' best)."""
    try:
        return Estimator(weights, device=device, onnx=onnx, fusion=fusion), None
    except ValueError as err:  # WeightsError, or a fusion these weights cannot run
        return (
            None,
            f"{err}. Start the app with `--weights PATH` pointing at a file from `python -m train` "
            f"(the bundled default is {default_weights()}).",
        )


def serve(args: argparse.Namespace) -> None:
    """Serves the app with the command line's settings (``lbi app``: :func:`lbi.cli.parser`)."""
    if args.threads:
        torch.set_num_threads(args.threads)  # before the estimator: its onnxruntime session takes as many
    estimator, error = load_estimator(args.weights, args.device, onnx=not args.no_onnx, fusion=args.fusion)
    if error:
        print(f"warning: {error}")
    files, live = OutputFiles(), LiveStreams(estimator, error)
    demo = build_app(estimator, error, files, live)
    demo.queue(default_concurrency_limit=2, max_size=64)
    launch(demo, files, live, server_name=args.host, server_port=args.port, max_file_size="40mb", footer_links=["api"])
