"""Interactive Plotly 3D views of poses: one photo's people, or a clip's motion as an animation.

The view opens as the camera saw the people (from the front, a little from above), with a floor grid (squares of
GRID_MM) under the lowest foot and equal scales on all axes, titled in mm. Display axes: x right, y depth (away from
the camera), z up. Several people stand where the image shows them: each is placed along the ray through their
pelvis at the distance their size in the image implies (:func:`root_position`); one person stays at the origin.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..geometry.skeleton import BONES, H36M_JOINTS, LEFT, RIGHT
from ..pipeline.estimate import PersonPose
from .draw import person_colours, to_display

GRID_MM = 250.0
#: what :func:`skeleton_figure` can show: the final pose, stage 1's, both, or the final one beside MediaPipe's own 3D
VIEWS = ("refined", "coarse", "both", "with MediaPipe's 3D")
#: the poses each view draws (a PersonPose's ``joints3d_mm``, ``coarse3d_mm``, ``mediapipe3d_mm``), the first solid
KINDS = {
    "refined": ("refined",),
    "coarse": ("coarse",),
    "both": ("refined", "coarse"),
    VIEWS[3]: ("refined", "mediapipe"),
}
#: the camera of the opening view: in front of the people, a little above them (Plotly's scene units)
FRONT_EYE = dict(x=0.0, y=-2.0, z=0.55)
#: the titles of the display axes (x right, y depth, z up), all in mm
AXIS_TITLES = ("x (mm)", "depth (mm)", "height (mm)")
#: the head joint (a person's label is written above it), and how far above (mm)
HEAD = H36M_JOINTS.index("head")
LABEL_ABOVE_MM = 250.0
#: the most animation frames a clip's figure holds (a longer clip is shown at every k-th frame)
MOTION_FRAMES = 300


def pose_of(pose: PersonPose, which: str) -> np.ndarray:
    """One of a person's 3D poses (a kind of KINDS); MediaPipe's is NaN where there is none."""
    if which == "mediapipe":
        return pose.mediapipe3d_mm if pose.mediapipe3d_mm is not None else np.full((17, 3), np.nan)
    return pose.joints3d_mm if which == "refined" else pose.coarse3d_mm


def root_position(joints3d_mm: np.ndarray, joints2d_px: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Where a person's root (pelvis, joint 0) stands in camera axes (3,) mm: on the ray through its pixel in the
    image, at the depth where the skeleton (17 x 3 mm, camera axes) seen by the camera is as large as it is in the
    image (17 x 2 px): depth = fx x (sum of the bones' lengths across the view, x and y, mm) / (sum of their
    lengths in the image, px). Bones pointing at the camera shorten in both, so they do not bias it.
    ``intrinsics``: (fx, fy, cx, cy)."""
    child, parent = np.array(BONES).T
    size_3d = np.linalg.norm(joints3d_mm[child, :2] - joints3d_mm[parent, :2], axis=1).sum()
    size_2d = np.linalg.norm(joints2d_px[child] - joints2d_px[parent], axis=1).sum()
    fx, fy, cx, cy = intrinsics
    depth = fx * size_3d / max(size_2d, 1e-6)
    u, v = joints2d_px[0]
    return np.array([(u - cx) / fx * depth, (v - cy) / fy * depth, depth])


def placed(poses: Sequence[PersonPose], which: str = "refined") -> list[np.ndarray]:
    """Each pose (mm, camera axes) moved to where its person stands relative to the first
    (:func:`root_position`); one person stays at the origin."""
    joints = [pose_of(p, which) for p in poses]
    if len(poses) < 2:
        return [j - j[:1] for j in joints]
    roots = [root_position(j, p.joints2d_px, p.intrinsics) for p, j in zip(poses, joints)]
    return [j - j[:1] + root - roots[0] for j, root in zip(joints, roots)]


def _bone_coordinates(points: np.ndarray) -> list[tuple[list, list, list]]:
    """Each trace's (x, y, z) of :func:`_bone_traces`, in its order: the left, right and centre bones (a None between
    bones), the joints, and the label's point above the head."""
    out = []
    for joint_ids in (LEFT, RIGHT, None):
        bones = [
            (c, p)
            for c, p in BONES
            if (joint_ids is None and c not in LEFT + RIGHT) or (joint_ids is not None and c in joint_ids)
        ]
        xyz = [[v for c, p in bones for v in (points[p, k], points[c, k], None)] for k in range(3)]
        out.append((xyz[0], xyz[1], xyz[2]))
    out.append((list(points[:, 0]), list(points[:, 1]), list(points[:, 2])))
    top = points[HEAD] + [0.0, 0.0, LABEL_ABOVE_MM]
    out.append(([top[0]], [top[1]], [top[2]]))
    return out


def _bone_traces(
    points: np.ndarray, person: int, name: str, dash: str = "solid", legend: bool = True, label: str | None = None
) -> list:
    """Left, right and centre bones of one skeleton in display axes, invisible joint markers for hovering, and
    ``label`` (when given) written above the head."""
    import plotly.graph_objects as go

    left, right, centre = person_colours(person)
    traces = []
    for side, colour, xyz in zip(("left", "right", "centre"), (left, right, centre), _bone_coordinates(points)):
        traces.append(
            go.Scatter3d(
                x=xyz[0],
                y=xyz[1],
                z=xyz[2],
                mode="lines+markers",
                name=f"{name} {side}",
                legendgroup=name,
                line=dict(color=f"rgb{colour}", width=7, dash=dash),
                marker=dict(size=3, color=f"rgb{colour}"),
                hoverinfo="skip",
                showlegend=legend and side != "centre",
            )
        )
    traces.append(
        go.Scatter3d(
            x=points[:, 0],
            y=points[:, 1],
            z=points[:, 2],
            mode="markers",
            marker=dict(size=4, color="white", opacity=0.01),
            name=name,
            showlegend=False,
            text=[f"{name}: {j}" for j in H36M_JOINTS],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    if label is not None:
        top = points[HEAD] + [0.0, 0.0, LABEL_ABOVE_MM]
        traces.append(
            go.Scatter3d(
                x=[top[0]],
                y=[top[1]],
                z=[top[2]],
                mode="text",
                text=[label],
                textfont=dict(color=f"rgb{left}", size=13),
                hoverinfo="skip",
                showlegend=False,
                name=f"{name} label",
            )
        )
    return traces


def _floor_trace(points: np.ndarray, floor: float):
    """Grid lines every GRID_MM on the floor plane (display z = ``floor``) under ``points``."""
    import plotly.graph_objects as go

    lo = np.floor((points[:, :2].min(axis=0) - 600) / GRID_MM) * GRID_MM
    hi = np.ceil((points[:, :2].max(axis=0) + 600) / GRID_MM) * GRID_MM
    xs: list[float | None] = []
    ys: list[float | None] = []
    for x in np.arange(lo[0], hi[0] + 1, GRID_MM):
        xs += [x, x, None]
        ys += [lo[1], hi[1], None]
    for y in np.arange(lo[1], hi[1] + 1, GRID_MM):
        xs += [lo[0], hi[0], None]
        ys += [y, y, None]
    return go.Scatter3d(
        x=xs,
        y=ys,
        z=[None if x is None else floor for x in xs],
        mode="lines",
        line=dict(color="rgb(190,190,190)", width=2),
        hoverinfo="skip",
        showlegend=False,
        name="floor",
    )


def _scene(points: np.ndarray, floor: float) -> dict:
    """Equal scales on all axes (one cube around everything shown; ticks every 500 or 1000 mm, titled in mm; the
    depth axis, seen end-on from the front, without tick labels), the floor at the bottom, the front view."""
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    half = max(900.0, float((points.max(axis=0) - points.min(axis=0)).max()) * 0.6)
    ranges = [[c - half, c + half] for c in centre]
    ranges[2] = [floor - 50.0, floor - 50.0 + 2 * half]
    tick = 500 if half <= 1500 else 1000
    axis = dict(showbackground=False, zeroline=False, dtick=tick, tickfont=dict(size=9), gridcolor="rgb(225,225,225)")
    titles = [dict(text=text, font=dict(size=11)) for text in AXIS_TITLES]
    return dict(
        xaxis=dict(range=ranges[0], title=titles[0], **axis),
        yaxis=dict(range=ranges[1], title=titles[1], **axis, showticklabels=False),  # seen end-on from the front
        zaxis=dict(range=ranges[2], title=titles[2], **axis),
        aspectmode="cube",
        camera=dict(eye=FRONT_EYE, up=dict(x=0, y=0, z=1), center=dict(x=0, y=0, z=0)),
    )


def skeleton_figure(poses: Sequence[PersonPose] | PersonPose | None, show: str = "refined"):
    """The people of one photo: ``show`` one of VIEWS (the second pose of a pair dashed; MediaPipe's 3D stands
    where the person's final pose stands); several people are labelled with their numbers, as in the 2D view (the
    legend then only tells the first person's poses apart)."""
    import plotly.graph_objects as go

    poses = [poses] if isinstance(poses, PersonPose) else list(poses or [])
    figure = go.Figure()
    kinds = KINDS[show]
    shown = {}
    if poses:
        places = [j[0] for j in placed(poses, kinds[0])]
        shown = {kind: [to_display(j - j[:1] + r) for j, r in zip(placed(poses, kind), places)] for kind in kinds}
    for kind, people in shown.items():
        for person, points in enumerate(people):
            label = "MediaPipe's 3D" if kind == "mediapipe" else kind
            name = label if len(people) == 1 else f"person {person + 1} {label}"
            dash = "dash" if kind != kinds[0] else "solid"
            tag = f"person {person + 1}" if len(people) > 1 and kind == kinds[0] else None
            legend = len(people) == 1 or (len(kinds) > 1 and person == 0)  # else the labels say who is who
            figure.add_traces(_bone_traces(points, person, name, dash, legend, tag))
    if shown:
        everything = np.concatenate([p for people in shown.values() for p in people])
        everything = everything[np.isfinite(everything).all(axis=1)]
        floor = float(everything[:, 2].min())
        figure.add_trace(_floor_trace(everything, floor))
        figure.update_layout(scene=_scene(everything, floor))
    figure.update_layout(
        margin=dict(l=0, r=0, t=30, b=0),
        height=420,
        legend=dict(orientation="h", y=1.02, x=0),
        title=dict(text="3D pose (mm; drag to turn)" if poses else "no pose yet", font=dict(size=13)),
    )
    return figure


def motion_step(frame_count: int, max_frames: int = MOTION_FRAMES) -> int:
    """Every how many frames :func:`motion_figure` has an animation frame: 1, or more for a clip longer than
    ``max_frames`` frames."""
    return max(1, int(np.ceil(frame_count / max_frames)))


def motion_figure(
    frames: Sequence[dict[int, np.ndarray]], fps: float, max_frames: int = MOTION_FRAMES, controls: bool = True
):
    """A clip as an animated figure: per frame, each person's pose by their id (17 x 3 mm, camera axes, already
    placed where the person stands: :func:`root_position`), in their id's colours and labelled "person ID"; a
    person missing from a frame is not drawn in it. The animation's frames are named by their position in
    ``frames`` and hold only coordinates; a long clip has one at every :func:`motion_step`-th frame. ``controls``:
    Plotly's own play button and frame slider (off where a video drives the animation)."""
    import plotly.graph_objects as go

    step = motion_step(len(frames), max_frames)
    chosen = list(range(0, len(frames), step))
    ids = sorted({pid for frame in frames for pid in frame})
    if not chosen or not ids:
        return skeleton_figure(None)
    absent = np.full((17, 3), np.nan)

    def traces(k: int) -> list:
        out = []
        for pid in ids:  # a person missing from a frame is drawn at NaN: not at all
            points = to_display(frames[k].get(pid, absent))
            out += _bone_traces(points, pid, f"person {pid}", legend=False, label=f"person {pid}")
        return out

    def coordinates(k: int) -> list:  # the traces' coordinates alone, as the animation frames hold them
        xyz = [c for pid in ids for c in _bone_coordinates(to_display(frames[k].get(pid, absent)))]
        return [go.Scatter3d(x=x, y=y, z=z) for x, y, z in xyz]

    everything = np.concatenate([to_display(p) for k in chosen for p in frames[k].values()], axis=0)
    everything = everything[np.isfinite(everything).all(axis=1)]
    floor = float(everything[:, 2].min())
    first = traces(chosen[0])
    figure = go.Figure(
        data=[*first, _floor_trace(everything, floor)],
        frames=[go.Frame(data=coordinates(k), name=str(k), traces=list(range(len(first)))) for k in chosen],
    )
    figure.update_layout(
        scene=_scene(everything, floor),
        margin=dict(l=0, r=0, t=30, b=0),
        height=460,
        title=dict(text="3D motion (mm; drag to turn)", font=dict(size=13)),
    )
    if controls:
        figure.update_layout(**_animation_controls(chosen, 1000.0 * step / fps))
    return figure


def _animation_controls(names: Sequence[int], delay_ms: float) -> dict:
    """Plotly's play / pause buttons and frame slider over the animation frames ``names``."""
    still = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    play = dict(frame=dict(duration=delay_ms, redraw=True), transition=dict(duration=0), fromcurrent=True)
    return dict(
        updatemenus=[
            dict(
                type="buttons",
                showactive=False,
                x=0.02,
                y=0.02,
                buttons=[
                    dict(label="▶", method="animate", args=[None, play]),
                    dict(label="❚❚", method="animate", args=[[None], still]),
                ],
            )
        ],
        sliders=[
            dict(
                steps=[dict(method="animate", label=str(k), args=[[str(k)], still]) for k in names],
                x=0.12,
                len=0.86,
                y=0.02,
                currentvalue=dict(prefix="frame "),
            )
        ],
    )
