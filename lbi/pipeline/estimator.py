"""Photo -> 3D pose: MediaPipe 2D pose, the person crop, and the two-stage lifter, in one object.

    estimator = Estimator()                          # the bundled weights (or Estimator("my.safetensors"))
    result = estimator.predict(rgb)                  # Estimate: .pose (3D, 2D joints), .diagnostics (attention, ...)
    wider = estimator.refine(result, retention=1.0)  # stage 2 only, from the cached stage-1 results

The flip test (on by default) lifts the mirrored crop too, in the same batch, and averages the two
poses (:mod:`lbi.model.flip`); the attention and kept patches shown are the unflipped crop's.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..crop.affine import Crop, seen_centre
from ..crop.codec import InputCodec
from ..geometry.camera import default_intrinsics, from_ray_frame
from ..geometry.metrics import attention_share, background_attention_ratio, silhouette_background
from ..io.weights import BUNDLED_PRIOR_LIFTER, WeightsError, default_weights
from ..model import LiftingByImage, LiftingOutput, MartinezMLP
from ..model.flip import flip_test, merge_mirrors, with_mirrors
from ..model.lifter import select_samples
from ..pose2d.landmarks import Pose2D
from ..pose2d.people import PeopleDetector
from .estimate import Diagnostics, Estimate, PersonPose
from .fusion import FUSIONS, PLAIN_WEIGHT, fuse, learned_prior
from .onnx_lifter import OnnxLifter, onnx_available

#: how many people :meth:`Estimator.detect` looks for in a photo
MAX_PEOPLE = 4


def default_fusion(model: LiftingByImage, prior_lifter: MartinezMLP | None = None) -> str:
    """The fusion an estimator runs by default: "ensemble" with a prior lifter, "learned" for an image model that
    reads MediaPipe's 3D itself, else "plain" (each beats the lifter alone on real photos: docs/results.md)."""
    if prior_lifter is not None:
        return "ensemble"
    return "learned" if model.config.prior else "plain"


def runnable_fusions(model: LiftingByImage, prior_lifter: MartinezMLP | None = None) -> list[str]:
    """The fusions of FUSIONS these weights can run."""
    needs = {"learned": bool(model.config.prior), "ensemble": prior_lifter is not None}
    return [f for f in FUSIONS if needs.get(f, True)]


def check_fusion(fusion: str, model: LiftingByImage, prior_lifter: MartinezMLP | None = None) -> str:
    """``fusion`` when the weights can run it; ValueError with the choices otherwise."""
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
    if fusion not in runnable_fusions(model, prior_lifter):
        needs = "weights that read MediaPipe's 3D (model.prior)" if fusion == "learned" else "a prior lifter"
        choices = ", ".join(runnable_fusions(model, prior_lifter))
        raise ValueError(f"fusion {fusion!r} needs {needs}; these weights run {choices}")
    return fusion


def load_prior_lifter(path: str | Path) -> MartinezMLP:
    """A lifting-only model that reads MediaPipe's 3D (the ensemble's second lifter), or WeightsError."""
    from ..io.weights import load_model

    model = load_model(path)
    if not isinstance(model, MartinezMLP) or not model.config.prior:
        raise WeightsError(f"{path} is not a lifting-only model that reads a prior: it cannot join the ensemble")
    return model


class NoPersonFound(ValueError):
    """MediaPipe found nobody in the image."""


class Estimator:
    """Loaded once; predicts on RGB uint8 images. Uses CUDA (bf16) when present, else the CPU.

    Thread-safe: the shared static MediaPipe graph runs under a lock, the lifter concurrently.
    Inference is five named stages, each timed: detector, crop (the input codec), encoder,
    stage 1 and stage 2. ``flip_test`` is the default of :meth:`predict`'s; ``fusion`` how MediaPipe's own 3D
    joins the pose (:data:`lbi.pipeline.fusion.FUSIONS`; by default the weights' best on real photos), ``blend`` its
    share
    in the plain fusion.
    """

    def __init__(
        self,
        weights: str | Path | None = None,
        model: LiftingByImage | None = None,
        device: str | torch.device | None = None,
        detector: PeopleDetector | None = None,
        flip_test: bool = True,
        onnx: bool = False,
        fusion: str | None = None,
        blend: float = PLAIN_WEIGHT,
        prior_lifter: str | Path | MartinezMLP | None = None,
    ) -> None:
        if model is None:
            from ..io.weights import load_model

            path = weights or default_weights()
            loaded = load_model(path)
            if not isinstance(loaded, LiftingByImage):
                raise WeightsError(
                    f"{path} holds a lifting-only model ({loaded.arch}): the estimator needs an image model"
                )
            model = loaded
            if prior_lifter is None and weights is None and BUNDLED_PRIOR_LIFTER.is_file():
                prior_lifter = BUNDLED_PRIOR_LIFTER  # the bundled weights come with their ensemble's second lifter
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.codec = InputCodec.for_model(self.model)
        #: the ensemble's second lifter: 2D pose + MediaPipe's 3D, no image (None: no ensemble)
        if isinstance(prior_lifter, str | Path):
            prior_lifter = load_prior_lifter(prior_lifter)
        self.prior_lifter = None if prior_lifter is None else prior_lifter.to(self.device).eval()
        #: how MediaPipe's own 3D joins the pose (lbi.pipeline.fusion.FUSIONS); by default the weights' best on real
        #: photos
        if fusion is None:
            self.fusion = default_fusion(self.model, self.prior_lifter)
        else:
            self.fusion = check_fusion(fusion, self.model, self.prior_lifter)
        #: MediaPipe's share of the plain fusion for the joints it sees surely (lbi.pipeline.fusion.blend_weights)
        self.blend = blend
        self.detector = detector or PeopleDetector()
        self._detector_lock = threading.Lock()
        self.flip_test = flip_test
        #: onnxruntime for what will not be refined (``onnx``: on a CPU, when installed; lbi.pipeline.onnx_lifter)
        self.onnx: OnnxLifter | None = None
        if onnx and self.device.type == "cpu" and onnx_available():
            try:
                self.onnx = OnnxLifter(self.model)
            except Exception as err:  # noqa: BLE001 - any failure to export or load: PyTorch still lifts
                warnings.warn(f"onnxruntime not used ({type(err).__name__}: {err}); lifting with PyTorch", stacklevel=2)

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def detect(self, rgb: np.ndarray, max_people: int = MAX_PEOPLE) -> list[Pose2D]:
        """Everyone found (at most ``max_people``), largest first (:class:`lbi.pose2d.people.PeopleDetector`)."""
        with self._detector_lock:
            return self.detector(rgb, max_people=max_people)

    def predict(
        self,
        rgb: np.ndarray,
        retention: float | None = None,
        flip_test: bool | None = None,
        intrinsics: np.ndarray | None = None,
        refinable: bool = True,
        fusion: str | None = None,
    ) -> Estimate:
        """(H, W, 3) uint8 RGB -> Estimate of the largest person. Raises NoPersonFound.

        ``flip_test``: average with the mirrored crop's pose (None: the estimator's default).
        ``intrinsics``: the photo's camera (fx, fy, cx, cy) when known; else one is assumed
        (:func:`lbi.geometry.camera.default_intrinsics`). ``refinable``: keep the stage-1 cache for :meth:`refine`;
        False
        lets the estimator's onnxruntime session (if any) lift instead. ``fusion``: how MediaPipe's 3D joins
        (:data:`lbi.pipeline.fusion.FUSIONS`; None: the estimator's).
        """
        timings: dict[str, float] = {}
        people = self._detect_timed(rgb, None, MAX_PEOPLE, timings)
        flip = self.flip_test if flip_test is None else flip_test
        fusion = self.fusion_for(fusion)
        estimates = self._lift([rgb], [people[0]], retention, timings, flip, [intrinsics], refinable, fusion)
        return estimates[0].noting_people(len(people))

    def predict_people(
        self,
        rgb: np.ndarray,
        retention: float | None = None,
        flip_test: bool | None = None,
        max_people: int = MAX_PEOPLE,
        refinable: bool = True,
        fusion: str | None = None,
        poses: list[Pose2D] | None = None,
        measures: bool = True,
    ) -> list[Estimate]:
        """Everyone found in the image (up to ``max_people``, largest first), lifted in one batch. Raises
        NoPersonFound. Each estimate's ``timings_ms`` are those of the whole batch; ``refinable`` and ``fusion``
        as for :meth:`predict`. ``poses``: the people's 2D poses when the caller found them (a stream's
        :class:`lbi.motion.tracking.PeopleTracker`), in the order of the estimates; None: the estimator's detector.
        ``measures``: False leaves out what only the photo view reports (the attention's share on the background and
        off the person: None), a few milliseconds per person that streams skip."""
        timings: dict[str, float] = {}
        people = self._detect_timed(rgb, poses, max_people, timings)
        flip = self.flip_test if flip_test is None else flip_test
        fusion = self.fusion_for(fusion)
        estimates = self._lift([rgb] * len(people), people, retention, timings, flip, None, refinable, fusion, measures)
        for estimate in estimates:
            estimate.diagnostics.people_found = len(people)
        return estimates

    def _detect_timed(
        self, rgb: np.ndarray, poses: list[Pose2D] | None, max_people: int, timings: dict[str, float]
    ) -> list[Pose2D]:
        t = time.perf_counter()
        people = self.detect(rgb, max_people) if poses is None else poses[:max_people]
        timings["detector"] = (time.perf_counter() - t) * 1000
        if not people:
            raise NoPersonFound(
                "no person found in the image: MediaPipe Pose needs a person whose head, shoulders and hips are visible"
            )
        return people

    def lift(
        self,
        rgb: np.ndarray,
        joints_px: np.ndarray | Pose2D,
        retention: float | None = None,
        flip_test: bool | None = None,
        intrinsics: np.ndarray | None = None,
        fusion: str | None = None,
    ) -> Estimate:
        """The lifter on a 2D pose given by the caller (another detector's, or ground truth): ``joints_px``
        (17, H36M order) in image pixels, the person box then the joints' (as for MediaPipe's); or a whole
        :class:`Pose2D` (its box, confidences and 3D ``world`` to fuse with). ``fusion`` overrides the
        estimator's for this call; without a ``world`` the lifter answers alone."""
        if isinstance(joints_px, Pose2D):
            pose = joints_px
        else:
            pose = Pose2D.from_joints(np.asarray(joints_px, dtype=np.float64))
        flip = self.flip_test if flip_test is None else flip_test
        return self._lift([rgb], [pose], retention, {}, flip, [intrinsics], fusion=self.fusion_for(fusion))[0]

    def fusion_for(self, fusion: str | None) -> str:
        """A call's fusion: the estimator's when None, else checked against the weights (ValueError)."""
        return self.fusion if fusion is None else check_fusion(fusion, self.model, self.prior_lifter)

    def predict_batch(self, images: list[np.ndarray], retention: float | None = None) -> list[Estimate | NoPersonFound]:
        """Many images: detection per image (the largest person of each), then one batched forward pass.
        Each estimate's ``timings_ms`` are those of the whole batch."""
        people = [self.detect(rgb) for rgb in images]
        results: list[Estimate | NoPersonFound] = [
            NoPersonFound(f"no person found in image {i}") for i in range(len(images))
        ]
        found = [i for i, p in enumerate(people) if p]
        if found:
            estimates = self._lift(
                [images[i] for i in found], [people[i][0] for i in found], retention, {}, self.flip_test
            )
            for i, estimate in zip(found, estimates):
                results[i] = estimate.noting_people(len(people[i]))
        return results

    def _lift(
        self,
        images: list[np.ndarray],
        poses: list[Pose2D],
        retention: float | None,
        timings: dict[str, float],
        flip: bool,
        intrinsics: list[np.ndarray | None] | None = None,
        refinable: bool = True,
        fusion: str | None = None,
        measures: bool = True,
    ) -> list[Estimate]:
        """The codec, encoder, stage 1 and stage 2 on a batch of people (one per image); with ``flip``
        their mirrors ride in the same batch (the flip test). ``intrinsics``: per image, None where unknown.
        Each person's MediaPipe 3D (``Pose2D.world``) joins as ``fusion`` (default: the estimator's) says;
        ``measures`` as for :meth:`predict_people`."""
        fusion = fusion or self.fusion
        t = time.perf_counter()
        n = len(images)
        cameras = [
            default_intrinsics(rgb.shape[1], rgb.shape[0]) if k is None else np.asarray(k, dtype=np.float64)
            for rgb, k in zip(images, intrinsics or [None] * n)
        ]
        inputs = [self.codec.encode(rgb, pose.box, pose.joints) for rgb, pose in zip(images, poses)]
        batch = torch.stack([i.image for i in inputs]).to(self.device)
        joints2d = torch.stack([i.joints2d for i in inputs]).to(self.device)
        prior = self._prior(poses, inputs, cameras) if fusion == "learned" else None
        if flip:
            both = with_mirrors(joints2d, self.codec, batch, prior=prior)
            assert both.images is not None
            batch, joints2d, prior = both.images, both.joints2d, both.prior
        timings["crop"] = (time.perf_counter() - t) * 1000
        out = self._forward(batch, joints2d, retention, timings, refinable, prior)
        # The model's axes look along the ray through the crop centre. A portrait's crop centre lies below the
        # photo (MediaPipe extrapolates the legs), where that ray would be steep under the assumed wide-angle
        # focal length and the upright body the model sees would come out leaning back; so the pose is turned
        # back from the ray through the middle of what the photo shows of the person.
        through = [seen_centre(pose.box, rgb.shape) for rgb, pose in zip(images, poses)]
        learned = self._learned(poses, cameras, through, flip) if fusion == "ensemble" else [None] * n
        estimates = [
            self._estimate(
                select_samples(out, [k, n + k] if flip else [k]),
                pose.joints,
                pose.confidence,
                i.crop,
                i.joints_crop_px,
                dict(timings),
                camera,
                through[k],
                flip,
                pose.world,
                fusion,
                learned[k],
                measures,
            )
            for k, (pose, i, camera) in enumerate(zip(poses, inputs, cameras))
        ]
        for estimate, pose, rgb in zip(estimates, poses, images):
            estimate.noting_unseen(rgb.shape)
            if measures and pose.mask is not None:
                off_person = self.off_person(estimate, pose.mask)
                estimate.diagnostics.off_person_attention, estimate.diagnostics.off_person_uniform = off_person
        return estimates

    def _prior(self, poses: list[Pose2D], inputs: list, cameras: list[np.ndarray]) -> torch.Tensor:
        """(B, 17, 3) the people's MediaPipe 3D as the learned fusion reads it
        (:func:`lbi.pipeline.fusion.learned_prior`)."""
        priors = [
            learned_prior(self.codec, pose.world, pose.confidence, i.crop.center, camera)
            for pose, i, camera in zip(poses, inputs, cameras)
        ]
        return torch.from_numpy(np.stack(priors)).to(self.device)

    def _learned(
        self, poses: list[Pose2D], cameras: list[np.ndarray], through: list[np.ndarray], flip: bool
    ) -> list[np.ndarray | None]:
        """The prior lifter's pose of each person (mm, camera axes; None for a person without MediaPipe's 3D), from
        the same crop's 2D pose and MediaPipe's 3D, with the flip test when ``flip``."""
        lifter = self.prior_lifter
        assert lifter is not None  # check_fusion: the ensemble needs one
        codec = InputCodec.for_model(lifter)
        crops = [codec.crop(p.box) for p in poses]  # the lifter's own crop: its size may differ from the model's
        joints2d = torch.from_numpy(np.stack([codec.normalize(c.to_crop(p.joints)) for p, c in zip(poses, crops)]))
        prior = torch.from_numpy(
            np.stack(
                [learned_prior(codec, p.world, p.confidence, c.center, k) for p, c, k in zip(poses, crops, cameras)]
            )
        )
        with torch.inference_mode():
            joints2d, prior = joints2d.to(self.device), prior.to(self.device)
            out = flip_test(lifter, None, joints2d, prior=prior) if flip else lifter(None, joints2d, prior=prior)
        poses_m = out.refined.float().cpu().numpy()
        return [
            None if p.world is None else codec.decode_pose((pose - pose[:1]) * 1000.0, centre, camera)
            for p, pose, centre, camera in zip(poses, poses_m, through, cameras)
        ]

    def _forward(
        self,
        batch: torch.Tensor,
        joints2d: torch.Tensor,
        retention: float | None,
        timings: dict[str, float],
        refinable: bool,
        prior: torch.Tensor | None = None,
    ) -> LiftingOutput:
        """Encoder, stage 1 and stage 2, timed: by onnxruntime where the estimator has it and nothing will be
        refined (``refinable`` False, the model's own rate), else by PyTorch with the stage-1 cache."""
        own_rate = retention is None or retention == self.model.config.retention
        if self.onnx is not None and not refinable and own_rate:
            t = time.perf_counter()
            out = self.onnx(batch, joints2d, prior)
            timings["lifter (onnxruntime)"] = (time.perf_counter() - t) * 1000
            return out
        with torch.inference_mode(), self._autocast():
            t = time.perf_counter()
            features = self.model.encoder(batch)
            timings["encoder"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            s1 = self.model.stage1(joints2d, features=features, prior=prior)
            timings["stage1"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            out = self.model.stage2(s1, retention)
            timings["stage2"] = (time.perf_counter() - t) * 1000
        return out

    def off_person(self, estimate: Estimate, mask: np.ndarray) -> tuple[float, float]:
        """The last stage-1 layer's attention off the person (MediaPipe's segmentation warped into the
        crop) and uniform attention's share on the same crop."""
        on_crop = estimate.pose.crop.warp(mask) > 0.5
        background = silhouette_background(on_crop[None], self.model.encoder.stride)
        last = estimate.diagnostics.attention[len(self.model.config.stage1) - 1]
        return float(attention_share(last[None], background)[0]), float(background.mean())

    def refine(self, estimate: Estimate, retention: float) -> Estimate:
        """Re-runs selection + stage 2 with another retention rate; the encoder and stage 1 are not re-run."""
        if estimate._stage1 is None:
            raise ValueError("this estimate carries no stage-1 cache: predict it with refinable=True")
        t = time.perf_counter()
        with torch.inference_mode(), self._autocast():
            out = self.model.stage2(estimate._stage1, retention)
        before, pose = estimate.diagnostics, estimate.pose
        timings = {**before.timings_ms, "stage2": (time.perf_counter() - t) * 1000}
        refined = self._estimate(
            out,
            pose.joints2d_px,
            pose.confidence,
            pose.crop,
            pose.crop.to_crop(pose.joints2d_px),
            timings,
            pose.intrinsics,
            pose.ray_through_px,
            before.flip_test,
            pose.world,
            pose.fusion,
            pose.learned3d_mm,
        )
        refined.diagnostics = replace(
            refined.diagnostics,
            people_found=before.people_found,
            notes=list(before.notes),
            off_person_attention=before.off_person_attention,
            off_person_uniform=before.off_person_uniform,
        )
        return refined

    def _estimate(
        self,
        out: LiftingOutput,
        joints_px: np.ndarray,
        confidence: np.ndarray,
        crop: Crop,
        joints_crop: np.ndarray,
        timings: dict[str, float],
        intrinsics: np.ndarray,
        ray_through: np.ndarray,
        flip: bool,
        world: np.ndarray | None,
        fusion: str,
        learned: np.ndarray | None = None,
        measures: bool = True,
    ) -> Estimate:
        """One person's output (a batch of one; with ``flip`` of two: the crop, then its mirror), their MediaPipe
        3D (``world``, or None) and the prior lifter's pose (``learned``, camera axes, or None) -> Estimate (mm,
        root-relative, camera axes; attention on the token grid), the poses fused as ``fusion`` says."""
        stage1 = out.stage1
        if flip:
            out = merge_mirrors(out)
        assert out.grid is not None and out.retention is not None  # set by LiftingByImage.stage2
        h, w = out.grid
        joints = out.coarse.shape[1]
        attention = (
            torch.stack([a.float().mean(dim=1)[0] for a in out.attention()]).view(-1, joints, h, w).cpu().numpy()
        )
        background = None
        if measures:
            last_stage1 = attention[len(self.model.config.stage1) - 1]
            background = float(
                background_attention_ratio(last_stage1[None], joints_crop[None], self.model.encoder.stride)[0]
            )
        mask = out.kept_mask()

        # MediaPipe's axes are those of a camera looking at the person: turned back into the camera's as lbi's are
        mediapipe = None if world is None else from_ray_frame(world - world[:1], ray_through, intrinsics)

        def camera_mm(pose: torch.Tensor) -> np.ndarray:  # the model's axes -> camera axes, mm, root-relative
            relative = (pose[0] - pose[0, :1]).float().cpu().numpy() * 1000
            decoded = self.codec.decode_pose(relative, ray_through, intrinsics)
            return fuse(fusion, decoded, mediapipe, confidence, learned, self.blend)

        pose = PersonPose(
            joints3d_mm=camera_mm(out.refined),
            coarse3d_mm=camera_mm(out.coarse),
            world=world,
            learned3d_mm=learned,
            fusion=fusion if mediapipe is not None else "none",
            joints2d_px=np.asarray(joints_px),
            confidence=np.asarray(confidence),
            crop=crop,
            intrinsics=np.asarray(intrinsics, dtype=np.float64),
            ray_through_px=np.asarray(ray_through, dtype=np.float64),
        )
        diagnostics = Diagnostics(
            attention=attention,
            kept_mask=None if mask is None else mask[0].cpu().numpy(),
            retention=out.retention,
            background_attention=background,
            flip_test=flip,
            timings_ms={k: round(v, 2) for k, v in timings.items()},
        )
        return Estimate(pose, diagnostics, _stage1=stage1)
