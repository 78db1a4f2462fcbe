"""LiftingByImage: the two-stage network of the paper (Fig. 5).

Stage 1, "broad query": keypoint tokens (from J2d) and image tokens (from the encoder) pass
TL -> PGTL -> TL; a linear head reads the coarse pose J3d_1 off the keypoint tokens.
Selection: the last stage-1 attention ranks image tokens; the top ceil(r * HW) are kept.
Stage 2, "focused exploration": 3 TLs over the keypoint tokens and the kept image tokens; a second
head gives the refined pose J3d_2.

Choices the paper leaves open (all in :class:`LiftingConfig`; its defaults, which the bundled weights depart from as
their model card says): d = 192, 8 heads, MLP ratio 3,
pre-norm layers, fixed 2D sine positions added to image keys, a learned per-joint embedding,
J2d given in crop-normalised screen coordinates (x / w * 2 - 1, y / w * 2 - h / w), and stage 2
reading detached stage-1 tokens (``detach_stage1``; progressive training freezes stage 1 anyway).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass, replace

import torch
from torch import nn

from ..crop.codec import DEFAULT_CROP_SIZE, InputCodec
from ..encoders import ImageEncoder, build_encoder
from .dict_config import DictConfig
from .embedding import ImageEmbedding, PoseEmbedding
from .layers import PGTL_NORMS, build_layer
from .prior import PriorEmbedding, check_dropout
from .selection import FeatureSelection, kept_count


@dataclass
class LiftingConfig(DictConfig):
    encoder: str = "blazepose_s4"
    #: (w, h) of the person crop the model reads (its :class:`lbi.crop.codec.InputCodec`)
    crop_size: tuple[int, int] = DEFAULT_CROP_SIZE
    #: axes of the 3D pose it predicts: "camera", or "ray" (a virtual camera looking through the crop centre)
    frame: str = "camera"
    num_joints: int = 17
    dim: int = 192
    heads: int = 8
    mlp_ratio: float = 3.0
    dropout: float = 0.0
    #: stage-1 layer kinds; ("tl", "tl", "tl") is the paper's "w/o PGTL" and Table 6's variants
    stage1: tuple[str, ...] = ("tl", "pgtl", "tl")
    #: number of stage-2 TLs; 0 gives the straightforward image model (no selection, no stage 2)
    stage2_depth: int = 3
    #: default retention rate r in (0, 1]; every call may override it
    retention: float = 0.3
    #: Table 11: "before" (paper), "after", "double", "two_cross"; "renorm" (a reading of "double", see PGTL)
    pgtl_norm: str = "before"
    #: stage 2 reads detached stage-1 tokens, so its loss never reaches stage 1
    detach_stage1: bool = True
    #: keypoint queries also carry the sine embedding of their joint's position (as image keys do)
    pose_positions: bool = False
    #: keypoint tokens also take a 3D pose prior (MediaPipe's world landmarks; lbi.model.prior); False is the paper's
    prior: bool = False
    #: prior dropout: the share of training samples whose prior is withheld (the model must also lift without one),
    #: and of the other samples' joints (the root excepted)
    prior_dropout: float = 0.2
    prior_joint_dropout: float = 0.1

    def __post_init__(self) -> None:
        self.stage1 = tuple(self.stage1)
        w, h = self.crop_size
        self.crop_size = InputCodec((w, h), self.frame).crop_size  # validated, JSON lists -> tuple
        kept_count(self.retention, 1)  # validates r
        if self.pgtl_norm not in PGTL_NORMS:
            raise ValueError(f"pgtl_norm must be one of {PGTL_NORMS}, got {self.pgtl_norm!r}")
        if not self.stage1:
            raise ValueError("stage 1 needs at least one layer")
        check_dropout(self.prior_dropout, self.prior_joint_dropout)

    @property
    def layer_names(self) -> list[str]:
        """Names of the attention layers, in the order of ``LiftingOutput.attention()``."""
        return [f"stage 1 · layer {i + 1} ({kind.upper()})" for i, kind in enumerate(self.stage1)] + [
            f"stage 2 · layer {i + 1} (TL, kept patches)" for i in range(self.stage2_depth)
        ]


def select_samples(output, rows: slice | list[int]):
    """Samples ``rows`` of a batched output dataclass: every tensor field (and every tensor in a list
    field, every nested output) is indexed on its batch axis, except fields marked ``shared`` (one
    tensor for the whole batch); other fields are kept as they are."""
    index = rows if isinstance(rows, slice) else torch.as_tensor(rows, dtype=torch.long)

    def pick(value):
        if isinstance(value, torch.Tensor):
            return value[index.to(value.device) if isinstance(index, torch.Tensor) else index]
        if isinstance(value, list):
            return [pick(v) for v in value]
        if is_dataclass(value):
            return select_samples(value, rows)
        return value

    return replace(
        output, **{f.name: pick(getattr(output, f.name)) for f in fields(output) if not f.metadata.get("shared")}
    )


def select_sample(output, k: int):
    """Sample ``k`` of a batched output dataclass, as a batch of one (see :func:`select_samples`)."""
    return select_samples(output, slice(k, k + 1))


@dataclass
class Stage1Output:
    """Everything stage 2 needs, so it can be re-run with another r without the encoder."""

    joints: torch.Tensor  # (B, N, d) keypoint tokens after stage 1
    image: torch.Tensor  # (B, HW, d) image tokens after stage 1 (updated by the PGTL)
    pos: torch.Tensor = field(metadata={"shared": True})  # (1, HW, d) positional embeddings of the image tokens
    coarse: torch.Tensor  # (B, N, 3) J3d_1
    attention: list[torch.Tensor]  # per layer (B, heads, N, HW)
    grid: tuple[int, int]  # (H, W) of the token grid
    joint_pos: torch.Tensor | None = None  # (B, N, d) the keypoints' positions (pose_positions), for their queries

    def select(self, k: int) -> Stage1Output:
        """Sample ``k`` as a batch of one."""
        return select_sample(self, k)


@dataclass
class LiftingOutput:
    coarse: torch.Tensor  # (B, N, 3) J3d_1
    refined: torch.Tensor  # (B, N, 3) J3d_2 (== coarse for models without stage 2)
    stage1_attention: list[torch.Tensor] = field(default_factory=list)  # per layer (B, h, N, HW)
    stage2_attention: list[torch.Tensor] = field(default_factory=list)  # per layer (B, h, N, k)
    kept_indices: torch.Tensor | None = None  # (B, k) indices into the HW grid
    grid: tuple[int, int] | None = None
    retention: float | None = None
    stage1: Stage1Output | None = None

    def attention(self) -> list[torch.Tensor]:
        """Every layer's keypoint-to-image attention on the full grid, (B, h, N, HW) each;
        stage-2 maps are zero on pruned tokens."""
        maps = list(self.stage1_attention)
        if self.stage2_attention and self.grid is not None and self.kept_indices is not None:
            b, h, n, _ = self.stage2_attention[0].shape
            hw = self.grid[0] * self.grid[1]
            index = self.kept_indices[:, None, None, :].expand(b, h, n, -1)
            for attn in self.stage2_attention:
                maps.append(attn.new_zeros(b, h, n, hw).scatter(3, index, attn))
        return maps

    def select(self, k: int) -> LiftingOutput:
        """Sample ``k`` of a batched output as a batch of one (stage-1 cache included)."""
        return select_sample(self, k)

    def kept_mask(self) -> torch.Tensor | None:
        """(B, H, W) bool: the image tokens stage 2 kept."""
        if self.kept_indices is None or self.grid is None:
            return None
        b = self.kept_indices.shape[0]
        mask = torch.zeros(b, self.grid[0] * self.grid[1], dtype=torch.bool, device=self.kept_indices.device)
        return mask.scatter(1, self.kept_indices, True).view(b, *self.grid)


class LiftingByImage(nn.Module):
    """J2d (B, N, 2) + crop (B, 3, h, w) in [0, 1] -> coarse and refined J3d (B, N, 3)."""

    arch = "lbi"

    def __init__(self, config: LiftingConfig | None = None, encoder: ImageEncoder | None = None) -> None:
        super().__init__()
        self.config = config = config or LiftingConfig()
        self.encoder = encoder if encoder is not None else build_encoder(config.encoder)
        args = (config.dim, config.heads, config.mlp_ratio, config.dropout, config.pgtl_norm)
        w, h = config.crop_size
        self.pose_embed = PoseEmbedding(config.num_joints, config.dim, config.pose_positions, aspect=h / w)
        self.prior_embed = (
            PriorEmbedding(config.dim, config.prior_dropout, config.prior_joint_dropout) if config.prior else None
        )
        self.image_embed = ImageEmbedding(self.encoder.out_channels, config.dim)
        self.stage1_layers = nn.ModuleList(build_layer(kind, *args) for kind in config.stage1)
        self.coarse_head = nn.Sequential(nn.LayerNorm(config.dim), nn.Linear(config.dim, 3))
        self.selection = FeatureSelection()
        self.stage2_layers = nn.ModuleList(build_layer("tl", *args) for _ in range(config.stage2_depth))
        self.refine_head = (
            nn.Sequential(nn.LayerNorm(config.dim), nn.Linear(config.dim, 3)) if config.stage2_depth else None
        )
        self.stage1_frozen = False
        for module in self._transformer_modules():
            module.apply(_init_weights)
        if self.prior_embed is not None:
            self.prior_embed.reset_parameters()

    # ------------------------------------------------------------------ parts
    def _transformer_modules(self) -> list[nn.Module]:
        return [
            self.pose_embed,
            *([self.prior_embed] if self.prior_embed is not None else []),
            self.image_embed,
            self.stage1_layers,
            self.coarse_head,
            self.stage2_layers,
            *([self.refine_head] if self.refine_head is not None else []),
        ]

    #: attribute names of stage 1: the encoder and everything up to the coarse head (the prior's embedding only in
    #: models that take a prior)
    STAGE1_PARTS = ("encoder", "pose_embed", "prior_embed", "image_embed", "stage1_layers", "coarse_head")

    def stage1_modules(self) -> list[nn.Module]:
        """The encoder and everything up to the coarse head (trained first, then frozen)."""
        return [module for name in self.STAGE1_PARTS if (module := getattr(self, name)) is not None]

    def stage2_modules(self) -> list[nn.Module]:
        return [self.stage2_layers, *([self.refine_head] if self.refine_head is not None else [])]

    def freeze_stage1(self, frozen: bool = True) -> None:
        """Stops gradients into stage 1 and keeps its BatchNorm statistics fixed (eval mode)."""
        self.stage1_frozen = frozen
        for module in self.stage1_modules():
            module.requires_grad_(not frozen)
        self.train(self.training)

    def train(self, mode: bool = True) -> LiftingByImage:
        super().train(mode)
        if self.stage1_frozen:
            for module in self.stage1_modules():
                module.eval()
        return self

    # --------------------------------------------------------------- forward
    def stage1(
        self,
        joints2d: torch.Tensor,
        images: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        prior: torch.Tensor | None = None,
    ) -> Stage1Output:
        """joints2d (B, N, 2); images (B, 3, h, w) in [0, 1], or precomputed encoder features; neither:
        the image is absent (one image token of zero features), and the pose path alone answers. ``prior``
        (B, N, 3) metres in the model's axes, NaN where absent (:mod:`lbi.model.prior`); read only by a model
        configured with ``prior``, for which None means absent for the whole batch."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.stage1_frozen):
            if features is None and images is None:
                features = joints2d.new_zeros(len(joints2d), self.encoder.out_channels, 1, 1)
            elif features is None:
                features = self.encoder(images)  # (B, C, H, W)
            image, pos = self.image_embed(features)  # (B, HW, d), (1, HW, d)
            joints, joint_pos = self.pose_embed(joints2d)  # (B, N, d) each (positions: None without pose_positions)
            if self.prior_embed is not None:
                joints = joints + self.prior_embed(prior, joints)
            attention = []
            for layer in self.stage1_layers:
                joints, image, attn = layer(joints, image, pos, joint_pos)
                attention.append(attn)
            coarse = self.coarse_head(joints)
        return Stage1Output(joints, image, pos, coarse, attention, tuple(features.shape[-2:]), joint_pos)

    def stage2(self, s1: Stage1Output, retention: float | None = None) -> LiftingOutput:
        """Selection + stage 2 on cached stage-1 results; ``retention`` overrides the config's r."""
        r = self.config.retention if retention is None else retention
        out = LiftingOutput(
            coarse=s1.coarse, refined=s1.coarse, stage1_attention=s1.attention, grid=s1.grid, retention=r, stage1=s1
        )
        if not self.stage2_layers:
            return out
        joints, image, pos = s1.joints, s1.image, s1.pos
        if self.config.detach_stage1:
            joints, image = joints.detach(), image.detach()
        chosen = self.selection(s1.attention[-1].detach(), image, pos, r)
        kept, kept_pos = chosen.tokens, chosen.pos
        for layer in self.stage2_layers:
            joints, kept, attn = layer(joints, kept, kept_pos, s1.joint_pos)
            out.stage2_attention.append(attn)
        out.refined = self.refine_head(joints) if self.refine_head is not None else joints
        out.kept_indices = chosen.indices
        return out

    def forward(
        self,
        images: torch.Tensor | None,
        joints2d: torch.Tensor,
        retention: float | None = None,
        features: torch.Tensor | None = None,
        prior: torch.Tensor | None = None,
    ) -> LiftingOutput:
        return self.stage2(self.stage1(joints2d, images, features, prior), retention)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def plain_image_config(**overrides) -> LiftingConfig:
    """The paper's "straightforward image-based model": three plain TLs, no selection, no stage 2."""
    return LiftingConfig(**{"stage1": ("tl", "tl", "tl"), "stage2_depth": 0, **overrides})
