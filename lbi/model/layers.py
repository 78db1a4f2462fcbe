"""The paper's two layer types: the Transformer Layer (TL) and the Pose-guided Transformer Layer.

Both are pre-norm: MSA over the N keypoint tokens -> cross-attention between keypoints and the
HW image tokens -> FFN on keypoint tokens. Image tokens never attend to each other. Positions are
added to the image keys (and queries, for image-side attention), not to the tokens themselves;
likewise the keypoints' own positions, when the model has them, go into their queries only.

Shapes: keypoint tokens T_J (B, N, d); image tokens T_I (B, M, d) with M = HW or the kept count;
positions (1 or B, M, d); attention (B, heads, N, M).
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import FeedForward, MultiHeadAttention, merge_heads, split_heads

#: Table 11's normalisation strategies for the PGTL's image update.
PGTL_NORMS = ("before", "after", "double", "two_cross", "renorm")


class TransformerLayer(nn.Module):
    """TL: MSA (keypoints) -> MCA (keypoints query image tokens) -> FFN. Image tokens unchanged."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 3.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm_msa = nn.LayerNorm(dim)
        self.msa = MultiHeadAttention(dim, heads, dropout)
        self.norm_joints = nn.LayerNorm(dim)
        self.norm_image = nn.LayerNorm(dim)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, mlp_ratio, dropout)
        self.mca = MultiHeadAttention(dim, heads, dropout)

    def self_attend(self, joints: torch.Tensor) -> torch.Tensor:
        x = self.norm_msa(joints)
        return joints + self.msa(x, x, x)[0]

    def cross_attend(
        self, joints: torch.Tensor, image: torch.Tensor, pos: torch.Tensor, joint_pos: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns updated keypoint tokens, image tokens and the attention (B, h, N, M).
        ``joint_pos`` (B, N, d), when given, is added to the keypoint queries (as ``pos`` is to the keys)."""
        img = self.norm_image(image)
        x = self.norm_joints(joints)
        update, attn = self.mca(x if joint_pos is None else x + joint_pos, img + pos, img)
        return joints + update, image, attn

    def forward(
        self, joints: torch.Tensor, image: torch.Tensor, pos: torch.Tensor, joint_pos: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        joints = self.self_attend(joints)
        joints, image, attn = self.cross_attend(joints, image, pos, joint_pos)
        joints = joints + self.ffn(self.norm_ffn(joints))
        return joints, image, attn


class PoseGuidedLayer(TransformerLayer):
    """PGTL (Eq. 2): one keypoint-to-image attention map A updates both token sets.

    A = softmax(Q_J K_I^T / sqrt(d_h)) over the image axis (each keypoint's row sums to 1)
    T_J' = A V_I (projected) + T_J
    T_I' = A^T V_J + T_I          ("normalisation before transposition", the paper's choice)

    Because A is normalised per keypoint before it is transposed, an image token's total weight
    is the attention all keypoints pay it: tokens that matter collect much from the keypoints,
    background tokens collect little. ``norm`` selects Table 11's alternatives for the image update:
    ``after`` (softmax of the transposed logits over keypoints), ``double`` (softmax over the
    keypoint axis applied again to A^T) and ``two_cross`` (an independent image-to-keypoint
    cross-attention with its own queries and keys); ``renorm`` (a deviation: "double normalisation" read as
    rescaling A^T so that each image token's weights over the keypoints sum to 1, not as a second softmax).
    """

    def __init__(
        self, dim: int, heads: int, mlp_ratio: float = 3.0, dropout: float = 0.0, norm: str = "before"
    ) -> None:
        super().__init__(dim, heads, mlp_ratio, dropout)
        if norm not in PGTL_NORMS:
            raise ValueError(f"unknown PGTL normalisation {norm!r}; choose one of {PGTL_NORMS}")
        self.norm = norm
        self.heads = heads
        self.v_joints = nn.Linear(dim, dim)  # V_J
        if norm == "two_cross":
            self.q_image = nn.Linear(dim, dim)
            self.k_joints = nn.Linear(dim, dim)

    def cross_attend(
        self, joints: torch.Tensor, image: torch.Tensor, pos: torch.Tensor, joint_pos: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.norm_joints(joints)
        img = self.norm_image(image)
        mca = self.mca
        q = split_heads(mca.q(x if joint_pos is None else x + joint_pos), self.heads)  # (B, h, N, dh)
        k = split_heads(mca.k(img + pos), self.heads)  # (B, h, M, dh)
        logits = (q @ k.transpose(-2, -1)) * mca.scale  # (B, h, N, M)
        attn = logits.softmax(dim=-1)  # normalised over the image axis
        v_image = split_heads(mca.v(img), self.heads)  # (B, h, M, dh)
        joints = joints + mca.proj(merge_heads(mca.drop(attn) @ v_image))

        v_joints = split_heads(self.v_joints(x), self.heads)  # (B, h, N, dh)
        image_to_joints = self.image_weights(attn, logits, x, img, pos)  # (B, h, M, N)
        image = image + merge_heads(image_to_joints @ v_joints)  # (B, M, d)
        return joints, image, attn

    def image_weights(
        self, attn: torch.Tensor, logits: torch.Tensor, x: torch.Tensor, img: torch.Tensor, pos: torch.Tensor
    ) -> torch.Tensor:
        """How much each image token takes from each keypoint: (B, h, M, N)."""
        if self.norm == "before":
            return attn.transpose(-2, -1)
        if self.norm == "after":
            return logits.transpose(-2, -1).softmax(dim=-1)
        if self.norm == "double":
            return attn.transpose(-2, -1).softmax(dim=-1)
        if self.norm == "renorm":
            taken = attn.transpose(-2, -1)
            return taken / taken.sum(dim=-1, keepdim=True).clamp_min(1e-9)
        q = split_heads(self.q_image(img + pos), self.heads)  # two_cross: (B, h, M, dh)
        k = split_heads(self.k_joints(x), self.heads)  # (B, h, N, dh)
        return ((q @ k.transpose(-2, -1)) * self.mca.scale).softmax(dim=-1)


def build_layer(kind: str, dim: int, heads: int, mlp_ratio: float, dropout: float, pgtl_norm: str) -> TransformerLayer:
    """``tl`` -> TransformerLayer, ``pgtl`` -> PoseGuidedLayer."""
    if kind == "tl":
        return TransformerLayer(dim, heads, mlp_ratio, dropout)
    if kind == "pgtl":
        return PoseGuidedLayer(dim, heads, mlp_ratio, dropout, pgtl_norm)
    raise ValueError(f"unknown layer kind {kind!r}; use 'tl' or 'pgtl'")
