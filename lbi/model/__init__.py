"""The two-stage lifter, its layers and its baselines."""

from __future__ import annotations

from .baselines import MartinezConfig, MartinezMLP
from .flip import flip_test, mirror_joints
from .layers import PGTL_NORMS, PoseGuidedLayer, TransformerLayer
from .lifter import LiftingByImage, LiftingConfig, LiftingOutput, Stage1Output, plain_image_config
from .selection import FeatureSelection, kept_count

#: a model that lifts 2D poses: the paper's network, or the image-free baseline
Lifter = LiftingByImage | MartinezMLP
ARCHS: dict[str, tuple[type[Lifter], type[LiftingConfig] | type[MartinezConfig]]] = {
    LiftingByImage.arch: (LiftingByImage, LiftingConfig),
    MartinezMLP.arch: (MartinezMLP, MartinezConfig),
}


def build_model(arch: str, config: dict | None = None) -> Lifter:
    """Builds ``lbi`` (LiftingByImage, also the plain image model) or ``martinez`` from a config dict."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHS)}")
    model_cls, config_cls = ARCHS[arch]
    return model_cls(config_cls.from_dict(config or {}))


__all__ = [
    "ARCHS",
    "FeatureSelection",
    "LiftingByImage",
    "LiftingConfig",
    "LiftingOutput",
    "MartinezConfig",
    "MartinezMLP",
    "PGTL_NORMS",
    "PoseGuidedLayer",
    "Stage1Output",
    "TransformerLayer",
    "build_model",
    "flip_test",
    "kept_count",
    "mirror_joints",
    "plain_image_config",
]
