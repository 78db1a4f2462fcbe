"""Interactive Plotly 3D views of poses: one photo's people, or a clip's motion as an animation.

The view opens as the camera saw the people (from the front, a little from above), with a floor grid under the
lowest foot and equal scales on all axes. Display axes: x right, y depth (away from the camera), z up, mm.
Several people stand where the photo shows them: each is placed along the ray through their pelvis at the
distance their size in the photo implies (:func:`placed`); one person stays at the origin.
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


def pose_of(pose: PersonPose, which: str) -> np.ndarray:
    """One of a person's 3D poses (a kind of KINDS); MediaPipe's is NaN where there is none."""
    if which == "mediapipe":
        return pose.mediapipe3d_mm if pose.mediapipe3d_mm is not None else np.full((17, 3), np.nan)
    return pose.joints3d_mm if which == "refined" else pose.coarse3d_mm


def placed(poses: Sequence[PersonPose], which: str = "refined") -> list[np.ndarray]:
    """Each pose (mm, camera axes) moved to where its person stands relative to the first: along the ray through
    the pelvis in the photo, at the depth where the 3D skeleton's size matches its size in 2D."""
    joints = [pose_of(p, which) for p in poses]
    if len(poses) < 2:
        return [j - j[:1] for j in joints]
    roots = []
    for pose, pose3d in zip(poses, joints):
        child, parent = np.array(BONES).T
        size_3d = np.linalg.norm(pose3d[child] - pose3d[parent], axis=1).sum()
        size_2d = np.linalg.norm(pose.joints2d_px[child] - pose.joints2d_px[parent], axis=1).sum()
        fx, fy, cx, cy = pose.intrinsics
        depth = fx * size_3d / max(size_2d, 1e-6)
        u, v = pose.joints2d_px[0]
        roots.append(np.array([(u - cx) / fx * depth, (v - cy) / fy * depth, depth]))
    return [j - j[:1] + root - roots[0] for j, root in zip(joints, roots)]


def _bone_traces(points: np.ndarray, person: int, name: str, dash: str = "solid", legend: bool = True) -> list:
    """Left, right and centre bones of one skeleton in display axes, and invisible joint markers for hovering."""
    import plotly.graph_objects as go

    left, right, centre = person_colours(person)
    traces = []
    for side, joint_ids, colour in (("left", LEFT, left), ("right", RIGHT, right), ("centre", None, centre)):
        bones = [
            (c, p)
            for c, p in BONES
            if (joint_ids is None and c not in LEFT + RIGHT) or (joint_ids is not None and c in joint_ids)
        ]
        xyz = [[v for c, p in bones for v in (points[p, k], points[c, k], None)] for k in range(3)]
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
    """Equal scales on all axes (one cube around everything shown), the floor at the bottom, the front view."""
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    half = max(900.0, float((points.max(axis=0) - points.min(axis=0)).max()) * 0.6)
    ranges = [[c - half, c + half] for c in centre]
    ranges[2] = [floor - 50.0, floor - 50.0 + 2 * half]
    axis = dict(showbackground=False, zeroline=False, showticklabels=False, title="")
    return dict(
        xaxis=dict(range=ranges[0], **axis),
        yaxis=dict(range=ranges[1], **axis),
        zaxis=dict(range=ranges[2], **axis),
        aspectmode="cube",
        camera=dict(eye=FRONT_EYE, up=dict(x=0, y=0, z=1), center=dict(x=0, y=0, z=0)),
    )


def skeleton_figure(poses: Sequence[PersonPose] | PersonPose | None, show: str = "refined"):
    """The people of one photo: ``show`` one of VIEWS (the second pose of a pair dashed; MediaPipe's 3D stands
    where the person's final pose stands)."""
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
            figure.add_traces(_bone_traces(points, person, name, dash))
    if shown:
        everything = np.concatenate([p for people in shown.values() for p in people])
        everything = everything[np.isfinite(everything).all(axis=1)]
        floor = float(everything[:, 2].min())
        figure.add_trace(_floor_trace(everything, floor))
        figure.update_layout(scene=_scene(everything, floor))
    figure.update_layout(
        margin=dict(l=0, r=0, t=30, b=0),
        height=460,
        legend=dict(orientation="h", y=1.02, x=0),
        title=dict(text="3D pose (mm; drag to turn)" if poses else "no pose yet", font=dict(size=13)),
    )
    return figure


def motion_figure(frames: Sequence[dict[int, np.ndarray]], fps: float, max_frames: int = 150):
    """A clip as an animated figure: per frame, each person's pose by their id (mm, camera axes, root-relative),
    side by side in the order of their ids, each in their id's colours; a play button and a frame slider; long
    clips are shown at every k-th frame (at most ``max_frames``)."""
    import plotly.graph_objects as go

    step = max(1, int(np.ceil(len(frames) / max_frames)))
    chosen = list(range(0, len(frames), step))
    ids = sorted({pid for frame in frames for pid in frame})
    if not chosen or not ids:
        return skeleton_figure(None)
    offsets = {pid: np.array([1200.0 * (k - (len(ids) - 1) / 2), 0.0, 0.0]) for k, pid in enumerate(ids)}

    def traces(k: int) -> list:
        out = []
        for pid in ids:  # a person missing from a frame is not drawn in it
            pose = frames[k].get(pid, np.full((17, 3), np.nan))
            out += _bone_traces(to_display(pose - pose[:1]) + offsets[pid], pid, f"person {pid}", legend=False)
        return out

    everything = np.concatenate(
        [to_display(p - p[:1]) + offsets[pid] for k in chosen for pid, p in frames[k].items()], axis=0
    )
    floor = float(np.nanmin(everything[:, 2]))
    figure = go.Figure(
        data=[*traces(chosen[0]), _floor_trace(everything, floor)],
        frames=[go.Frame(data=traces(k), name=str(k), traces=list(range(4 * len(ids)))) for k in chosen],
    )
    delay, still = 1000.0 * step / fps, dict(mode="immediate", frame=dict(duration=0))
    figure.update_layout(
        scene=_scene(everything, floor),
        margin=dict(l=0, r=0, t=30, b=0),
        height=460,
        title=dict(text="3D motion (mm; drag to turn)", font=dict(size=13)),
        updatemenus=[
            dict(
                type="buttons",
                showactive=False,
                x=0.02,
                y=0.02,
                buttons=[
                    dict(label="▶", method="animate", args=[None, dict(frame=dict(duration=delay), fromcurrent=True)]),
                    dict(label="❚❚", method="animate", args=[[None], still]),
                ],
            )
        ],
        sliders=[
            dict(
                steps=[dict(method="animate", label=str(k), args=[[str(k)], still]) for k in chosen],
                x=0.12,
                len=0.86,
                y=0.02,
                currentvalue=dict(prefix="frame "),
            )
        ],
    )
    return figure
