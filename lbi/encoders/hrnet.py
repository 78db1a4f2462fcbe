"""HRNet-w32 (Sun et al. 2019) as in the official ``pose_hrnet`` (config w32_256x192).

Module and parameter names follow the official implementation, so its COCO checkpoint
``pose_hrnet_w32_256x192.pth`` loads strictly. The heatmap head (``final_layer``) is dropped:
the encoder returns the highest-resolution branch, 32 channels at stride 4 (64 x 48 at 256x192).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..crop.affine import IMAGENET_MEAN, IMAGENET_STD
from .base import ImageEncoder

BN_MOMENTUM = 0.1
HEAD_PREFIXES = ("final_layer.", "keypoint_head.", "head.")
WRAPPER_PREFIXES = ("module.", "backbone.")


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, relu: bool) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout, momentum=BN_MOMENTUM)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + residual)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + residual)


def _make_blocks(block: type[BasicBlock] | type[Bottleneck], cin: int, planes: int, count: int) -> nn.Sequential:
    downsample = None
    if cin != planes * block.expansion:
        downsample = _conv_bn(cin, planes * block.expansion, 1, 1, relu=False)
    layers = [block(cin, planes, 1, downsample)]
    layers += [block(planes * block.expansion, planes) for _ in range(count - 1)]
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks followed by all-to-all multi-resolution fusion."""

    def __init__(self, channels: list[int], blocks: int, multi_scale_output: bool = True) -> None:
        super().__init__()
        n = len(channels)
        self.branches = nn.ModuleList(_make_blocks(BasicBlock, c, c, blocks) for c in channels)
        self.fuse_layers: nn.ModuleList | None = None
        if n > 1:  # fuse_layers[i][j] brings branch j to branch i's resolution (None for j == i)
            self.fuse_layers = nn.ModuleList(
                nn.ModuleList(self._fuse(channels, i, j) for j in range(n))  # type: ignore[misc]
                for i in range(n if multi_scale_output else 1)
            )
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _fuse(channels: list[int], i: int, j: int) -> nn.Module | None:
        """Brings branch j to the resolution and width of branch i."""
        if j == i:
            return None
        if j > i:  # lower resolution: 1x1 conv then nearest upsampling
            return nn.Sequential(
                nn.Conv2d(channels[j], channels[i], 1, bias=False),
                nn.BatchNorm2d(channels[i], momentum=BN_MOMENTUM),
                nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
            )
        steps = []  # higher resolution: (i - j) stride-2 3x3 convs, ReLU between them
        for k in range(i - j):
            last = k == i - j - 1
            steps.append(_conv_bn(channels[j], channels[i] if last else channels[j], 3, 2, relu=not last))
        return nn.Sequential(*steps)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        fused = []
        for i, layers in enumerate(self.fuse_layers):
            assert isinstance(layers, nn.ModuleList)
            y = xs[0] if i == 0 else layers[0](xs[0])
            for j in range(1, len(xs)):
                y = y + (xs[j] if i == j else layers[j](xs[j]))
            fused.append(self.relu(y))
        return fused


def _make_transition(prev: list[int], cur: list[int]) -> nn.ModuleList:
    layers: list[nn.Module | None] = []
    for i, c in enumerate(cur):
        if i < len(prev):
            layers.append(_conv_bn(prev[i], c, 3, 1, relu=True) if c != prev[i] else None)
        else:  # a new, lower-resolution branch grown from the lowest existing one
            steps = [
                _conv_bn(prev[-1], c if k == i - len(prev) else prev[-1], 3, 2, relu=True)
                for k in range(i + 1 - len(prev))
            ]
            layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)  # type: ignore[arg-type]  # None: a branch that passes through unchanged


@dataclass(frozen=True)
class HRNetSpec:
    width: int = 32
    modules: tuple[int, int, int] = (1, 4, 3)  # stage 2, 3, 4
    blocks: int = 4

    def channels(self, stage: int) -> list[int]:
        return [self.width * 2**k for k in range(stage)]


class HRNetEncoder(ImageEncoder):
    """HRNet trunk (stem, layer1, stages 2-4) returning the stride-4 branch."""

    stride = 4
    size_multiple = 32
    input_mean = IMAGENET_MEAN  # as the COCO checkpoint expects
    input_std = IMAGENET_STD

    def __init__(self, spec: HRNetSpec = HRNetSpec()) -> None:
        super().__init__()
        self.out_channels = spec.width
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _make_blocks(Bottleneck, 64, 64, 4)

        prev = [256]
        for stage, n_modules in zip((2, 3, 4), spec.modules):
            cur = spec.channels(stage)
            setattr(self, f"transition{stage - 1}", _make_transition(prev, cur))
            last_single = stage == 4  # the last module of stage 4 outputs the high-res branch only
            setattr(
                self,
                f"stage{stage}",
                nn.Sequential(
                    *(
                        HighResolutionModule(
                            cur, spec.blocks, multi_scale_output=not (last_single and m == n_modules - 1)
                        )
                        for m in range(n_modules)
                    )
                ),
            )
            prev = cur

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        for stage in (2, 3, 4):
            transition = getattr(self, f"transition{stage - 1}")
            # unchanged branches pass through; new ones grow from the lowest resolution
            xs = [t(xs[-1]) if t is not None else xs[i] for i, t in enumerate(transition)]
            xs = getattr(self, f"stage{stage}")(xs)
        return xs[0]


# ---------------------------------------------------------------------------------------- loading
class CheckpointError(ValueError):
    """A checkpoint that does not fit the model; the message lists what is wrong."""


def _unwrap(obj: object, path: str) -> dict[str, torch.Tensor]:
    """Accepts a bare state_dict or {'state_dict'|'model': ...}; strips 'module.'/'backbone.'."""
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a state_dict of tensors (optionally under 'state_dict')")
    state = {}
    for key, value in obj.items():
        changed = True
        while changed:
            changed = False
            for prefix in WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix) :], True
        state[key] = value
    return state


def load_hrnet_checkpoint(encoder: HRNetEncoder, path: str | Path) -> list[str]:
    """Loads an official/mmpose-style HRNet checkpoint into the trunk, strictly.

    Reads with ``torch.load(weights_only=True)`` (no arbitrary unpickling). Head keys are dropped
    and returned; any missing, unexpected or wrongly shaped trunk key raises CheckpointError.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"HRNet checkpoint not found: {path}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means the same to the user
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({err})") from err
    state = _unwrap(raw, str(path))
    dropped = sorted(k for k in state if k.startswith(HEAD_PREFIXES))
    trunk = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIXES)}

    own = encoder.state_dict()
    missing = sorted(set(own) - set(trunk))
    unexpected = sorted(set(trunk) - set(own))
    wrong = sorted(
        f"{k}: checkpoint {tuple(trunk[k].shape)} vs model {tuple(own[k].shape)}"
        for k in set(own) & set(trunk)
        if trunk[k].shape != own[k].shape
    )
    if missing or unexpected or wrong:

        def show(items: list[str]) -> str:
            return ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")

        parts = [
            f"{len(missing)} missing: {show(missing)}" if missing else "",
            f"{len(unexpected)} unexpected: {show(unexpected)}" if unexpected else "",
            f"{len(wrong)} wrong shape: {show(wrong)}" if wrong else "",
        ]
        raise CheckpointError(f"{path} does not fit HRNet-w{encoder.out_channels}: " + "; ".join(p for p in parts if p))
    encoder.load_state_dict(trunk, strict=True)
    return dropped
