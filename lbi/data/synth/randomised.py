"""The domain-randomised LBI-Synth shot: any camera a photo is taken with, any scene behind.

One sample = one person in one pose, seen by one camera, rendered once; then composited onto
several backgrounds (each with its own light on the person and its own camera effects), so the
background carries no information about the pose and the model gets several images per pose.

Cameras span knee height (0.3 m) to ceiling mounts (3.3 m), 1.8-8 m away, aimed anywhere on the
body and placed anywhere in the frame: level, looking up a little or steeply down (studio rigs,
webcams, phones, tripods), with horizontal fields of view of 35-95 degrees (long studio lenses to
phone wide-angles) on common sensor shapes, rolled by a few degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...crop.affine import PIXEL_STD, Crop, joint_box
from ...crop.codec import InputCodec
from .backgrounds import camera_effects, photo_library, random_background, random_light
from .people import Person, chair_primitives, dress
from .poses import PoseSpec, Skeleton, sample_pose
from .render import Camera, cast, composite, shade

FRAMES = ((1920, 1080), (1280, 720), (1080, 1920), (1000, 1000), (2048, 2048), (640, 480), (1440, 1080), (1080, 1350))


@dataclass
class Variant:
    image: np.ndarray  # (h, w, 3) uint8, the composited crop
    jpeg_quality: int


@dataclass
class RandomisedSample:
    spec: PoseSpec
    camera: Camera
    crop: Crop
    joints_world: np.ndarray  # (17, 3) metres
    silhouette: np.ndarray  # (h, w) bool
    variants: list[Variant]


def _roll(camera: Camera, angle: float) -> Camera:
    c, s = np.cos(angle), np.sin(angle)
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    return Camera(rz @ camera.rotation, camera.position, camera.K, camera.size)


def _turn(camera: Camera, point_cam: np.ndarray, pixel: np.ndarray) -> Camera:
    """The camera rotated about its centre so that ``point_cam`` (camera frame) projects to ``pixel``."""
    a = point_cam / np.linalg.norm(point_cam)
    b = np.linalg.inv(camera.K) @ np.array([pixel[0], pixel[1], 1.0])
    b /= np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    turn = np.eye(3) + vx + vx @ vx / (1 + c)  # the rotation taking a to b
    return Camera(turn @ camera.rotation, camera.position, camera.K, camera.size)


@dataclass(frozen=True)
class CameraDistribution:
    """Where random cameras stand and which lenses they have: a height band drawn by its weight, then a
    height in it (metres), a log-uniform distance (metres) and a uniform horizontal field of view (degrees)."""

    bands: tuple[tuple[float, float], ...]
    band_weights: tuple[float, ...]
    distance: tuple[float, float]
    fov_deg: tuple[float, float]


#: rand's cameras: knee height to ceiling mounts, 1.8-8 m, long studio lenses to phone wide-angles
RAND_CAMERAS = CameraDistribution(((0.3, 0.9), (0.9, 1.9), (1.9, 3.3)), (0.2, 0.5, 0.3), (1.8, 8.0), (35.0, 95.0))
#: the photos people take: mostly eye-level to moderately high, 40-75 degree lenses, low and ceiling shots rarer
PHOTO_CAMERAS = CameraDistribution(((0.5, 1.0), (1.0, 1.9), (1.9, 2.8)), (0.1, 0.65, 0.25), (2.0, 7.0), (40.0, 75.0))


def random_camera(
    rng: np.random.Generator, joints: np.ndarray, tries: int = 50, cameras: CameraDistribution = RAND_CAMERAS
) -> Camera:
    """A camera drawn from ``cameras`` that sees all of ``joints`` (world, metres) inside its frame."""
    centre = joints.mean(axis=0)
    for _ in range(tries):
        band = rng.choice(len(cameras.bands), p=list(cameras.band_weights))
        height = rng.uniform(*cameras.bands[band])
        dist = float(np.exp(rng.uniform(np.log(cameras.distance[0]), np.log(cameras.distance[1]))))
        angle = rng.uniform(-np.pi, np.pi)
        position = np.array([centre[0] + dist * np.sin(angle), height, centre[2] + dist * np.cos(angle)])
        size = FRAMES[rng.integers(len(FRAMES))]
        fov = np.deg2rad(rng.uniform(*cameras.fov_deg))
        focal = size[0] / 2 / np.tan(fov / 2)
        target = np.array([centre[0] + rng.normal(0, 0.2), rng.uniform(0.2, 1.5), centre[2] + rng.normal(0, 0.2)])
        camera = _roll(Camera.look_at(position, target, focal, size), np.deg2rad(rng.normal(0, 3)))
        # turn the camera so that the person lands anywhere in the frame, not only in its centre
        camera = _turn(camera, camera.to_camera(target), rng.uniform(0.1, 0.9, 2) * np.array(size))
        cam_joints = camera.to_camera(joints)
        if (cam_joints[:, 2] < 0.5).any():
            continue
        px = camera.project(cam_joints)
        if (px.min(axis=0) >= 0).all() and (px.max(axis=0) < np.array(size)).all():
            return camera
    raise RuntimeError("no camera found that sees the whole person")


def shoot(
    rng: np.random.Generator, person: Person, cameras: CameraDistribution = RAND_CAMERAS
) -> tuple[PoseSpec, Skeleton, Camera]:
    """The pose and the camera of a sample (what :func:`render_randomised` draws first)."""
    spec = sample_pose(rng)
    skeleton = person.skeleton(spec)
    return spec, skeleton, random_camera(rng, skeleton.joints, cameras=cameras)


def camera_pitch_deg(camera: Camera) -> float:
    """How far the camera looks down (positive) or up from level, in degrees."""
    return float(np.degrees(np.arcsin(-camera.rotation[2, 1])))


def render_randomised(
    rng: np.random.Generator,
    person: Person,
    variant_rngs: list[np.random.Generator],
    split: str,
    codec: InputCodec,
    cameras: CameraDistribution = RAND_CAMERAS,
    whole_frame: int = 0,
) -> RandomisedSample:
    """One pose of ``person`` from a camera drawn from ``cameras``, on ``len(variant_rngs)`` backgrounds. With
    ``whole_frame`` (pixels, the longer side) the picture is the camera's whole frame at that size, not the crop
    around the person (the same person, pose, camera and scene: what a photo shows a detector)."""
    spec, skeleton, camera = shoot(rng, person, cameras)
    joints_px = camera.project(camera.to_camera(skeleton.joints))
    x, y, w, h = joint_box(joints_px, grow=rng.uniform(0.06, 0.2))  # framing varies like a detector's box
    shift = rng.normal(0, 0.04, 2) * max(w, h)
    crop = codec.crop((x + shift[0], y + shift[1], w, h))
    if whole_frame:
        width, height = camera.size
        size = (round(whole_frame * width / max(camera.size)), round(whole_frame * height / max(camera.size)))
        crop = Crop(np.array([width, height]) / 2.0, np.array([width, height]) / PIXEL_STD, size)
    surfaces = cast(dress(person, skeleton) + chair_primitives(skeleton, rng), camera, crop)
    upsampling = crop.size[0] / (crop.scale[0] * 200.0)
    photos = photo_library(split)
    variants = []
    for vrng in variant_rngs:
        light = random_light(vrng)
        background = random_background(vrng, camera, crop, light, skeleton.joints, photos)
        image = composite(shade(surfaces, light), surfaces.hit, background)
        variants.append(Variant(*camera_effects(image, vrng, upsampling)))
    return RandomisedSample(spec, camera, crop, skeleton.joints, surfaces.person, variants)
