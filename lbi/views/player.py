"""The Video tab's player: one standalone HTML page with the clip (everyone's 2D skeleton and number drawn on it, a
WebM) beside its animated 3D motion (Plotly). The app serves the page from its output folder and shows it in an
iframe; the page loads plotly.js from ``static/`` beside it (the installed plotly package's copy: no network).

What keeps the two in step: the video is the clock. While it plays, and whenever it is seeked, the 3D view shows
the animation frame of the video frame on screen (frame i = floor(currentTime x fps), the last animation frame at or
before it). The page that embeds it moves it with a message ``{"lbiFrame": i}`` (the app's frame slider): the video
pauses at frame i and the 3D view follows. When the user pauses or seeks the video, the page tells its parent
``{"lbiShown": i}`` (only then: a message from the parent is not echoed back). ``<body data-frame>`` is the
animation frame shown, ``data-video-frame`` the video frame, both read by the browser tests.

Without a video (OpenCV could not write VP8), the figure keeps Plotly's own play button and slider, and messages move
the 3D view directly.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

#: the page's script: defines lbiPlayer(plotId, fps, count, step), which the figure calls once it is drawn
SCRIPT = """
function lbiPlayer(plotId, fps, count, step) {
  const plot = document.getElementById(plotId);
  const video = document.getElementById('clip');
  const caption = document.getElementById('caption');
  const last = Math.floor((count - 1) / step) * step;
  let shown = 0, wanted = 0, busy = false, quiet = false;
  const frameAt = (t) => Math.max(0, Math.min(count - 1, Math.floor(t * fps + 1e-3)));
  function pump() {  // one animation at a time, always towards the latest frame wanted
    if (busy || wanted === shown) return;
    busy = true;
    const k = wanted;
    const still = {mode: 'immediate', frame: {duration: 0, redraw: true}, transition: {duration: 0}};
    Plotly.animate(plot, [String(k)], still).then(
      () => { shown = k; document.body.dataset.frame = k; busy = false; pump(); },
      () => { busy = false; });
  }
  function show(i) {
    document.body.dataset.videoFrame = i;
    caption.textContent = 'frame ' + i + ' of ' + (count - 1) + ' (' + (i / fps).toFixed(2) + ' s)';
    wanted = Math.min(Math.floor(i / step) * step, last);
    pump();
  }
  function tell() {
    if (!quiet && window.parent !== window) {
      window.parent.postMessage({lbiShown: frameAt(video.currentTime)}, window.location.origin);
    }
  }
  if (video) {
    const tick = () => {
      show(frameAt(video.currentTime));
      if (!video.paused && !video.ended) requestAnimationFrame(tick);
    };
    video.addEventListener('play', () => requestAnimationFrame(tick));
    video.addEventListener('timeupdate', () => show(frameAt(video.currentTime)));
    video.addEventListener('pause', () => { show(frameAt(video.currentTime)); tell(); });
    video.addEventListener('seeked', () => { show(frameAt(video.currentTime)); tell(); quiet = false; });
  }
  window.addEventListener('message', (event) => {
    const i = event.data && event.data.lbiFrame;
    if (event.source !== window.parent || typeof i !== 'number' || !isFinite(i)) return;
    const frame = Math.max(0, Math.min(count - 1, Math.round(i)));
    if (video) {
      quiet = true;  // the parent moved us: tell it nothing back
      video.pause();
      video.currentTime = (frame + 0.5) / fps;
    }
    show(frame);
  });
  show(0);
}
"""

STYLE = """
html, body { margin: 0; height: 100%; font: 13px system-ui, sans-serif; color: #222; background: #fff; }
#wrap { display: flex; height: 100%; gap: 8px; }
#left { flex: 1 1 44%; min-width: 0; display: flex; flex-direction: column; justify-content: center; }
#left video { width: 100%; max-height: calc(100% - 48px); background: #000; }
#right { flex: 1 1 56%; min-width: 0; }
#caption { padding: 4px 2px 0; }
#hint { padding: 2px; color: #666; }
"""


def player_page(figure, video: str | None, fps: float, count: int, step: int, plotly_js: str) -> str:
    """The page: ``video`` (a file name beside the page, None: no video) and ``figure`` (a :func:`motion_figure`
    of ``count`` frames at ``fps``, one animation frame every ``step``) in step as the module says; ``plotly_js``:
    plotly.js's path relative to the page. Nothing in the page comes from the user but the video's name (escaped;
    :func:`lbi.views.files.safe_stem` keeps it to letters, digits, _ and -)."""
    figure.update_layout(height=None, autosize=True, margin=dict(l=0, r=0, t=30, b=0))
    call = f"lbiPlayer('{{plot_id}}', {json.dumps(float(fps))}, {int(count)}, {int(step)});"
    plot = figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        auto_play=False,
        div_id="motion",
        default_height="100%",
        config={"displaylogo": False, "responsive": True},
        post_script=call,
    )
    if video is None:
        left = '<div id="caption"></div><div id="hint">Play the 3D motion with its own button below it.</div>'
    else:
        left = (
            f'<video id="clip" src="{html.escape(Path(video).name)}" controls muted playsinline preload="auto"></video>'
            '<div id="caption"></div><div id="hint">Play or scrub the clip: the 3D view follows it.</div>'
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>lbi: the clip and its 3D motion</title>'
        f'<style>{STYLE}</style><script src="{plotly_js}"></script><script>{SCRIPT}</script></head>'
        f'<body data-frame="0"><div id="wrap"><div id="left">{left}</div><div id="right">{plot}</div></div>'
        "</body></html>"
    )
