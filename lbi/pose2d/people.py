"""Everyone in a photo, and everyone in a stream of frames, from the two BlazePose networks of the mediapipe wheel.

MediaPipe's legacy Pose graph runs its person detector on the whole photo, keeps the best detection and runs the
landmark network in the region it gives. :class:`PeopleDetector` runs the same two stages
(:class:`lbi.pose2d.graphs.BlazePoseGraphs`: MediaPipe's own calculators, run natively) for everyone:

1. **Detector**: on views of the photo (:func:`lbi.pose2d.regions.detector_views`): the whole photo first,
   letterboxed (MediaPipe's own view), then windows. The detector was trained to find *the* person in a photo, so
   in a view of several people it scores one; each window shows fewer.
2. **Regions**: per detection a square turned so that the body stands upright
   (:func:`lbi.pose2d.regions.person_region`). Windows' people turned on their side are dropped
   (:data:`lbi.pose2d.regions.WINDOW_MAX_TURN`), as are regions alike enough to give the same crop; the whole
   photo's come first.
3. **Landmarks**: the landmark network in each region: 33 landmarks, visibilities, the person's segmentation and
   MediaPipe's 3D (world landmarks); a region where its pose flag finds nobody gives nobody.
4. **People**: a second find of someone already kept goes (their visible landmarks agree, or lie on that
   person's visible skeleton, or their silhouettes cover the same pixels: :func:`same_person`, :func:`on_body`,
   :func:`same_silhouette`), and so does a window's find that the network does not see alike in the mirror image
   (:meth:`PeopleDetector.mirror_disagreement`).

A photo of one person gives the legacy graph's answer: the whole photo's best detection comes first. In a stream
(:meth:`PeopleDetector.follow`) each person's next region comes from their landmarks in the frame before, as in
MediaPipe's video mode, so the detector runs only to find newcomers (:class:`lbi.motion.tracking.PeopleTracker`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..crop.affine import joint_box
from ..geometry.skeleton import mediapipe_to_h36m
from .graphs import BlazePoseGraphs, Detections, Landmarks
from .landmarks import Pose2D, world_joints
from .regions import DETECTOR_SIZE, WINDOW_MAX_TURN, Region, detector_views, person_region, same_region

#: two people are one when their landmarks lie this close (median over the BODY landmarks both see, as a share of
#: the longer side of the larger landmark box): two regions on the same body give nearly the same landmarks where
#: the photo shows it, two people overlapping in the photo do not
SAME_PERSON = 0.1
#: a person is a second view of someone found before (or of a part of them: an arm taken for a body) when more than
#: this share of their visible landmarks lies on that someone's visible skeleton (within ON_BODY_RADIUS of their
#: size); people standing in front of each other share less, as each is seen where the other is not
ON_BODY_SHARE = 2 / 3
ON_BODY_RADIUS = 0.05
#: two people are one when their segmentations overlap by more than this (intersection over union). The landmark
#: network segments everyone in its region, so two people in front of each other share much of theirs (up to 0.5 on
#: real photos); two finds of one person whose landmarks disagree (a region far too large) share nearly all
SAME_SILHOUETTE = 0.7
#: A window's find is kept only when the landmark network sees it alike in the mirror image: the median landmark
#: moves less than this share of the person's size. People seen clearly move about 0.01-0.08; a person the window
#: shows in a pose the network cannot read (bent over a table, seen from behind) gives landmarks that jump
MIRROR_LIMIT = 0.1
#: MediaPipe's 33 landmarks with left and right swapped (the nose stays)
MIRROR_LANDMARKS = (0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24, 23, 26,
                    25, 28, 27, 30, 29, 32, 31)  # fmt: skip
#: In a stream, the search for newcomers skips a detection whose region is this near one of a person followed
#: (centres closer than this share of the larger side, sides within this ratio, turned less than this apart; looser
#: than lbi.pose2d.regions.SAME_REGION): a window's view of someone followed gives a region of another size, and its
#: landmark run would only find them again
FOLLOWED_REGION = (0.15, 0.6, math.radians(30.0))
#: a landmark is visible from this visibility on
VISIBLE = 0.5
#: the landmarks that compare two people: the nose and the body (shoulders down); the other ten face landmarks
#: would count one spot ten times over
BODY = (0, *range(11, 33))
#: MediaPipe's skeleton (mp.solutions.pose.POSE_CONNECTIONS): the bones between the 33 landmarks
BONES = (
    (0, 1), (0, 4), (1, 2), (2, 3), (3, 7), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (11, 23),
    (12, 14), (12, 24), (13, 15), (14, 16), (15, 17), (15, 19), (15, 21), (16, 18), (16, 20), (16, 22),
    (17, 19), (18, 20), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (27, 31), (28, 30),
    (28, 32), (29, 31), (30, 32),
)  # fmt: skip


def same_person(
    a: np.ndarray,
    b: np.ndarray,
    a_visibility: np.ndarray | None = None,
    b_visibility: np.ndarray | None = None,
    share: float = SAME_PERSON,
) -> bool:
    """Whether two landmark sets (33, 2) px are one body: the median distance of the :data:`BODY` landmarks both
    see (all of them when they share fewer than 3, or without visibilities) is under ``share`` of the longer side of
    the larger of their two boxes. (Two fits of one body agree where the photo shows it, not where it is guessed.)"""
    side = max(float((a.max(0) - a.min(0)).max()), float((b.max(0) - b.min(0)).max()))
    body = list(BODY)
    distance = np.linalg.norm(a[body] - b[body], axis=-1)
    if a_visibility is not None and b_visibility is not None:
        both = (a_visibility[body] >= VISIBLE) & (b_visibility[body] >= VISIBLE)
        if both.sum() >= 3:
            distance = distance[both]
    return float(np.median(distance)) < share * side


def same_silhouette(a: np.ndarray | None, b: np.ndarray | None, limit: float = SAME_SILHOUETTE) -> bool:
    """Whether two people's segmentations (H, W) in [0, 1] cover nearly the same pixels (intersection over union of
    their halves above ``limit``); False when either has none."""
    if a is None or b is None:
        return False
    a, b = a > 0.5, b > 0.5
    union = int((a | b).sum())
    return union > 0 and int((a & b).sum()) > limit * union


def on_body(
    landmarks: np.ndarray,
    visibility: np.ndarray,
    other: np.ndarray,
    other_visibility: np.ndarray,
    radius: float = ON_BODY_RADIUS,
) -> float:
    """The share of one person's visible :data:`BODY` landmarks (33, 2) px that lie on another's visible skeleton:
    within ``radius`` times the other's size (the longer side of their landmark box) of a bone both of whose ends they
    see. 0 when either sees nothing."""
    seen = np.zeros(len(landmarks), dtype=bool)
    seen[list(BODY)] = visibility[list(BODY)] >= VISIBLE
    bones = np.array([b for b in BONES if other_visibility[b[0]] >= VISIBLE and other_visibility[b[1]] >= VISIBLE])
    if not seen.any() or not len(bones):
        return 0.0
    start, end = other[bones[:, 0]], other[bones[:, 1]]  # (B, 2)
    points = landmarks[seen][:, None, :]  # (N, 1, 2)
    along = end - start
    t = np.clip(((points - start) * along).sum(-1) / np.maximum((along**2).sum(-1), 1e-9), 0.0, 1.0)  # (N, B)
    distance = np.linalg.norm(points - (start + t[..., None] * along), axis=-1).min(axis=1)  # (N,)
    size = float((other.max(0) - other.min(0)).max())
    return float((distance < radius * size).mean())


@dataclass
class Person:
    """One person as the two networks see them."""

    view: int  # where the detector found them: 0 the whole photo, else a window (-1: followed)
    region: Region  # where the landmark network looked
    found: Landmarks

    @property
    def next_region(self) -> Region:
        """Where to look for them in the next frame of a stream (MediaPipe's PoseLandmarksToRoi)."""
        return person_region(self.found.auxiliary[0], self.found.auxiliary[1])

    def pose2d(self) -> Pose2D:
        """The person as a :class:`lbi.pose2d.landmarks.Pose2D` (17 H36M joints, confidences, MediaPipe's 3D)."""
        joints, confidence = mediapipe_to_h36m(self.found.xy, self.found.visibility)
        assert confidence is not None  # given visibilities, the map gives confidences
        return Pose2D(
            joints,
            confidence,
            self.found.xy,
            self.found.visibility,
            joint_box(joints),
            world_joints(self.found.world_m),
            self.found.mask,
        )

    def repeats(self, others: list[Person]) -> bool:
        """Whether this is a second find of one of ``others`` (or of a part of them)."""
        a = self.found
        return any(
            same_person(a.xy, o.found.xy, a.visibility, o.found.visibility)
            or on_body(a.xy, a.visibility, o.found.xy, o.found.visibility) > ON_BODY_SHARE
            or same_silhouette(a.mask, o.found.mask)
            for o in others
        )


class PeopleDetector:
    """MediaPipe's person detector and landmark network, for everyone in a photo (see the module).

    ``segmentation``: each person gets their segmentation in the photo (it also tells two finds of one person apart
    from two people: :func:`same_silhouette`). ``with_windows``: the detector also looks at
    windows of the photo; without, it sees the whole photo only, as MediaPipe does (and then finds mostly one
    person). The graphs are built once per instance; not thread-safe.
    """

    def __init__(self, segmentation: bool = True, with_windows: bool = True) -> None:
        self.segmentation, self.with_windows = segmentation, with_windows
        self.graphs = BlazePoseGraphs(segmentation)

    def __call__(self, rgb: np.ndarray, max_people: int = 8) -> list[Pose2D]:
        """rgb (H, W, 3) uint8 -> everyone found (at most ``max_people``), largest visible person first."""
        poses = [person.pose2d() for person in self.people(rgb, max_people)]
        return sorted(poses, key=lambda p: p.visible_area, reverse=True)

    def detect(self, rgb: np.ndarray) -> tuple[Detections, np.ndarray]:
        """rgb (H, W, 3) uint8 -> (the detector's people in image px; the view each came from (K,), 0: the whole
        photo). The whole photo's (MediaPipe's own view) come first, then the windows', each by descending score."""
        views = detector_views(rgb.shape, self.with_windows)
        squares = [
            cv2.warpAffine(rgb, view.affine(DETECTOR_SIZE), (DETECTOR_SIZE, DETECTOR_SIZE), flags=cv2.INTER_AREA)
            for view in views[1:]
        ]  # zero outside the photo; the whole photo is letterboxed by MediaPipe, as its legacy graph does
        found = self.graphs.detect([rgb, *squares])
        for view, window in zip(views[1:], found[1:]):
            window.keypoints = view.to_image(window.keypoints, DETECTOR_SIZE)
        view_of = np.concatenate([np.full(len(f), v, dtype=np.int64) for v, f in enumerate(found)])
        scores = np.concatenate([f.scores for f in found])
        order = np.lexsort((-scores, view_of > 0))
        return Detections(np.concatenate([f.keypoints for f in found])[order], scores[order]), view_of[order]

    def people(self, rgb: np.ndarray, max_people: int = 8, known: list[Person] | None = None) -> list[Person]:
        """rgb (H, W, 3) uint8 -> everyone found (at most ``max_people``, besides ``known``: people already found
        in this frame, whom the search leaves out), the whole photo's detections first, then the windows'."""
        rgb = _checked(rgb)
        known = known or []
        if max_people < 1:
            return []
        found, view_of = self.detect(rgb)
        candidates: list[tuple[int, Region]] = []  # (detection, region), best first
        for k, keypoints in enumerate(found.keypoints):
            region = person_region(keypoints[0], keypoints[1])
            if region.size < 1.0 or (view_of[k] > 0 and abs(region.rotation) >= WINDOW_MAX_TURN):
                continue  # a degenerate detection; a window's person on their side (WINDOW_MAX_TURN)
            if any(same_region(region, p.region, FOLLOWED_REGION) for p in known):
                continue  # someone followed already (a stream's newcomer search: see FOLLOWED_REGION)
            if not any(same_region(region, other) for _, other in candidates):
                candidates.append((k, region))
        seen = [
            Person(int(view_of[k]), region, landmarks)
            for (k, region), landmarks in zip(candidates, self.graphs.landmarks(rgb, [r for _, r in candidates]))
            if landmarks is not None
        ]
        windows = [p for p in seen if p.view > 0]
        unsure = {id(p) for p, d in zip(windows, self.mirror_disagreement(rgb, windows)) if d > MIRROR_LIMIT}
        people: list[Person] = []
        for person in seen:
            if id(person) in unsure or person.repeats(known + people):
                continue  # a window's find the network does not repeat in the mirror image; a second find
            people.append(person)
            if len(people) == max_people:
                break
        return people

    def mirror_disagreement(self, rgb: np.ndarray, people: list[Person]) -> list[float]:
        """How differently the landmark network sees each person in the mirror image: the median distance of their
        33 landmarks (mirrored back, left and right swapped) as a share of their size (the longer side of their
        landmark box). Near 0.01 for a person seen clearly. 0 when the network finds nobody in the mirror image: whether
        someone is there is its pose flag's decision, taken on the photo itself (a person cut off by the photo's edge
        can fall just under it in the mirror); this measures only where the landmarks fall."""
        width = rgb.shape[1]
        mirrored = [
            Region((width - p.region.centre[0], p.region.centre[1]), p.region.size, -p.region.rotation) for p in people
        ]
        answers = []
        again_all = self.graphs.landmarks(np.ascontiguousarray(rgb[:, ::-1]), mirrored, segmentation=False)
        for person, again in zip(people, again_all):
            if again is None:
                answers.append(0.0)
                continue
            xy = again.xy[list(MIRROR_LANDMARKS)] * np.array([-1.0, 1.0]) + np.array([width, 0.0])
            size = float((person.found.xy.max(0) - person.found.xy.min(0)).max())
            answers.append(float(np.median(np.linalg.norm(xy - person.found.xy, axis=-1))) / max(size, 1e-9))
        return answers

    def follow(self, rgb: np.ndarray, regions: list[Region]) -> list[Person | None]:
        """Each region's person in rgb (H, W, 3) uint8 (None where the landmark network finds nobody): the people
        of a stream, each looked for where their landmarks of the frame before put them (:attr:`Person.next_region`).
        Without their segmentation: it costs a stream a fair share of each person's landmark run, and two people
        followed are told apart by their landmarks (:meth:`Person.repeats`)."""
        rgb = _checked(rgb)
        found = self.graphs.landmarks(rgb, regions, segmentation=False) if regions else []
        return [None if lm is None else Person(-1, region, lm) for region, lm in zip(regions, found)]

    def close(self) -> None:
        self.graphs.close()


def _checked(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    return np.ascontiguousarray(rgb)
