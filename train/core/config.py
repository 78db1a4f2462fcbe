"""Flat YAML experiment configs with three sections: data, model, training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path

import yaml

from lbi.model.dict_config import unknown_keys


class ConfigError(ValueError):
    """An experiment config that cannot be used: missing, not YAML, unknown keys or bad values."""


class TrainingMode(str, Enum):
    """What a run trains and which of the model's outputs its loss reads (a ``str``, so YAML and JSON keep the name)."""

    STAGE1 = "stage1"  # encoder (unless frozen) + stage 1, on the coarse pose
    STAGE2 = "stage2"  # stage 2 on the refined pose; stage 1 loaded from training.init and frozen
    END_TO_END = "end_to_end"  # everything on the refined pose, stage 2's gradient reaching stage 1
    END_TO_END_BOTH = "end_to_end_both"  # the same on coarse + refined
    SINGLE = "single"  # one-output models (lifting-only MLP, plain image model)

    @property
    def coarse_only(self) -> bool:
        """Only stage 1 trains: stage 2 stays out of the optimiser and out of evaluation."""
        return self is TrainingMode.STAGE1

    @property
    def end_to_end(self) -> bool:
        """Stage 2 reads stage 1's tokens without detaching them."""
        return self in (TrainingMode.END_TO_END, TrainingMode.END_TO_END_BOTH)

    @property
    def losses(self) -> tuple[str, ...]:
        """The outputs the loss sums: "coarse" and / or "refined"."""
        return {TrainingMode.STAGE1: ("coarse",), TrainingMode.END_TO_END_BOTH: ("coarse", "refined")}.get(
            self, ("refined",)
        )


TRAINING_MODES = tuple(mode.value for mode in TrainingMode)
PRECISIONS = ("auto", "bf16", "fp32")
#: the pose loss: "mse" is Eq. 3 (squared joint distances), "mpjpe" the distances themselves (the metric)
LOSSES = ("mse", "mpjpe")


@dataclass
class DataConfig:
    #: "root:split" of the training set, or a list of them (trained on together)
    train: str | list[str] = "data/lbi-synth/lab:train"
    #: evaluation sets, name -> "root:split"
    eval: dict[str, str] = field(
        default_factory=lambda: {"lab-test": "data/lbi-synth/lab:test", "wild-test": "data/lbi-synth/wild:test"}
    )
    inputs_2d: str = "gt"
    #: encode every crop once with the (frozen) encoder and train from the cached features
    cache_features: bool = True
    workers: int = 0
    #: at most this many samples of each training split, the first ones (0: all); a study's subset
    train_limit: int = 0
    #: folders of real annotated photos (python -m train.core.evaluate_photos) the trained model is measured on;
    #: a folder that is not there is reported and skipped
    photos: list[str] = field(default_factory=list)


@dataclass
class TrainingConfig:
    #: stage1: coarse loss (encoder + stage 1); stage2: refined loss with stage 1 loaded and frozen;
    #: end_to_end: refined loss only, no freezing; end_to_end_both: coarse + refined losses;
    #: single: one-output models (lifting-only MLP, plain image model)
    mode: TrainingMode = TrainingMode.STAGE1
    #: weights to start from (the stage-1 model, for mode stage2)
    init: str | None = None
    #: mode stage2: also start stage 2 from ``init`` (continue training it) rather than from scratch
    init_stage2: bool = False
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1.0e-3
    lr_decay: float = 0.9
    lr_decay_every: int = 4
    #: the last this many epochs anneal the learning rate (cosine) from where the step decay left it down to
    #: ``anneal_to`` times that; 0: step decay to the end
    anneal_epochs: int = 0
    anneal_to: float = 0.02
    weight_decay: float = 0.0
    freeze_encoder: bool = False
    #: Gaussian noise (crop pixels) added to the 2D input while training
    noise_2d_px: float = 0.0
    #: a measured 2D noise model (python -m train.core.noise_2d): this share of each batch gets the ground
    #: truth with MediaPipe-like errors (flips, swaps, gross errors, jitter) instead of its 2D input
    noise_model: str | None = None
    noise_model_share: float = 0.5
    #: share of each batch mirrored left to right (crop, 2D input and target; lbi.model.flip); cached
    #: features then come with the mirrored crops' (built with the plain ones)
    flip: float = 0.0
    #: "mse" (Eq. 3, the paper's) or "mpjpe": the joint distances, not squared, so a few gross 2D errors
    #: pull the pose less than under Eq. 3
    loss: str = "mse"
    #: weight of the bone-length term added to the pose loss (train.core.engine.bone_loss; metres, like the
    #: pose loss); 0: none
    bone_weight: float = 0.0
    #: models that take a 3D pose prior (model.prior): the share of training samples whose prior is the true pose
    #: with structured errors (train.core.prior_noise) instead of MediaPipe's own 3D on the crop (samples without
    #: MediaPipe's 3D, such as pose-only pairs, always get the noisy truth)
    prior_noise_share: float = 1.0
    #: the sizes of those errors (standard deviations): each bone's direction (degrees) and length (a share of it),
    #: the whole pose's orientation (degrees), each joint (mm)
    prior_bone_deg: float = 15.0
    prior_length_sd: float = 0.1
    prior_turn_deg: float = 10.0
    prior_jitter_mm: float = 10.0
    seed: int = 0
    out: str = "runs/experiment"
    eval_every: int = 1
    #: cap on evaluation samples per set (0: all)
    eval_limit: int = 0
    #: bf16 autocast for training steps: "auto" (CUDA only), "bf16" (also on CPUs with bf16 support), "fp32"
    precision: str = "auto"


@dataclass
class ExperimentConfig:
    data: DataConfig = field(default_factory=DataConfig)
    #: "arch" (lbi | martinez) plus the model's own config keys
    model: dict = field(default_factory=lambda: {"arch": "lbi"})
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        if self.training.mode not in TRAINING_MODES:
            raise ConfigError(f"training.mode must be one of {TRAINING_MODES}, got {self.training.mode!r}")
        self.training.mode = TrainingMode(self.training.mode)
        if self.training.precision not in PRECISIONS:
            raise ConfigError(f"training.precision must be one of {PRECISIONS}, got {self.training.precision!r}")
        if not 0 <= self.training.anneal_epochs <= self.training.epochs:
            raise ConfigError(
                f"training.anneal_epochs must be between 0 and training.epochs "
                f"({self.training.epochs}), got {self.training.anneal_epochs}"
            )
        if self.training.loss not in LOSSES:
            raise ConfigError(f"training.loss must be one of {LOSSES}, got {self.training.loss!r}")
        if self.training.bone_weight < 0:
            raise ConfigError(f"training.bone_weight must be 0 or more, got {self.training.bone_weight}")
        if not 0 <= self.training.prior_noise_share <= 1:
            raise ConfigError(
                f"training.prior_noise_share is a share, between 0 and 1, got {self.training.prior_noise_share}"
            )
        if not 0 <= self.training.flip <= 1:
            raise ConfigError(f"training.flip is a share of each batch, between 0 and 1, got {self.training.flip}")
        if self.training.mode is TrainingMode.STAGE2 and not self.training.init:
            raise ConfigError("training.mode stage2 needs training.init: the trained stage-1 weights")

    def to_dict(self) -> dict:
        return asdict(self)


def _section(cls, values: dict, name: str, source: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: section '{name}' must be a mapping of keys to values, got {values!r}")
    types = {f.name: f.type for f in fields(cls)}
    unknown = unknown_keys(cls, values)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in section '{name}': {unknown}; known: {sorted(types)}")
    values = dict(values)
    for key, value in values.items():
        if types[key] in ("float", "int") and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            try:  # YAML reads 1e-3 (no dot) as a string
                values[key] = float(value) if types[key] == "float" else int(value)
            except ValueError:
                raise ConfigError(f"{source}: {name}.{key} must be a number, got {value!r}") from None
    return cls(**values)


def parse_value(text: str):
    """A --set value, read as YAML (so 1e-3, true, [tl, pgtl] work)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"--set value {text!r} is not valid YAML ({err})") from None


SECTIONS = ("data", "model", "training")


def read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A config file's sections, on top of those of the file its ``base:`` names (a path relative to it,
    itself read the same way): each section's keys replace the base's, the rest are inherited."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: its base configs form a loop")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid YAML: {err}".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected sections data/model/training at the top level")
    base = raw.pop("base", None)
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {unknown}; use base, data, model, training")
    for name, section in raw.items():
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: section '{name}' must be a mapping of keys to values, got {section!r}")
    if base is None:
        return raw
    inherited = read_yaml(path.parent / str(base), (*seen, path.resolve()))
    return {
        name: {**inherited.get(name, {}), **raw.get(name, {})} for name in SECTIONS if name in inherited or name in raw
    }


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Reads a YAML config (and the base configs it names; or the defaults) and applies ``section.key=value``
    overrides."""
    source = str(path) if path else "defaults"
    raw: dict = read_yaml(Path(path)) if path else {}
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or section not in ("data", "model", "training"):
            raise ConfigError(f"override {item!r}: write section.key=value, e.g. training.epochs=5")
        raw.setdefault(section, {})[name] = parse_value(value)
    return config_from_dict(raw, source)


def config_from_dict(raw: dict, source: str = "a dict") -> ExperimentConfig:
    """An experiment config from its sections (``data``, ``model``, ``training``: mappings of keys to values)."""
    if not isinstance(raw.get("model", {}), dict):
        raise ConfigError(f"{source}: section 'model' must be a mapping of keys to values")
    model = {"arch": "lbi", **raw.get("model", {})}
    return ExperimentConfig(
        _section(DataConfig, raw.get("data", {}), "data", source),
        model,
        _section(TrainingConfig, raw.get("training", {}), "training", source),
    )


def split_spec(spec: str) -> tuple[str, str]:
    """'root:split' -> (root, split)."""
    root, sep, split = spec.rpartition(":")
    if not sep or not root:
        raise ConfigError(f"dataset {spec!r}: write it as root:split, e.g. data/lbi-synth/lab:train")
    return root, split
