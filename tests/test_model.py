import math

import numpy as np
import pytest
import torch

from lbi.model import (
    FeatureSelection,
    LiftingByImage,
    LiftingConfig,
    MartinezMLP,
    PoseGuidedLayer,
    TransformerLayer,
    build_model,
    kept_count,
    plain_image_config,
)
from lbi.model.attention import merge_heads, split_heads


@pytest.mark.slow
@pytest.mark.parametrize("size", [(64, 48), (128, 96), (256, 192), (96, 96)])
def test_shapes_through_the_model(small_model, size):
    b, (h, w) = 3, size
    out = small_model(torch.rand(b, 3, h, w), torch.randn(b, 17, 2))
    hw = (h // 4) * (w // 4)
    k = math.ceil(0.3 * hw)
    assert out.coarse.shape == out.refined.shape == (b, 17, 3)
    assert out.grid == (h // 4, w // 4)
    assert len(out.stage1_attention) == 3 and len(out.stage2_attention) == 3
    assert all(a.shape == (b, 4, 17, hw) for a in out.stage1_attention)
    assert all(a.shape == (b, 4, 17, k) for a in out.stage2_attention)
    assert all(a.shape == (b, 4, 17, hw) for a in out.attention())
    assert out.kept_indices.shape == (b, k)
    assert out.kept_mask().shape == (b, h // 4, w // 4) and out.kept_mask().sum() == b * k
    assert torch.isfinite(out.refined).all()


def test_stage2_attention_scattered_onto_the_kept_tokens(small_model):
    out = small_model(torch.rand(2, 3, 64, 48), torch.randn(2, 17, 2))
    full = out.attention()[-1]  # (B, h, N, HW)
    mask = out.kept_mask().flatten(1)  # (B, HW)
    assert torch.all(full.masked_select(~mask[:, None, None, :].expand_as(full)) == 0)
    torch.testing.assert_close(full.sum(-1), torch.ones_like(full.sum(-1)))


def test_pgtl_attention_rows_sum_to_one_and_image_update_matches_eq2():
    torch.manual_seed(1)
    dim, heads, n, m = 32, 4, 17, 60
    layer = PoseGuidedLayer(dim, heads, mlp_ratio=2.0).eval()
    joints, image, pos = torch.randn(2, n, dim), torch.randn(2, m, dim), torch.randn(1, m, dim)
    new_joints, new_image, attn = layer(joints, image, pos)

    assert attn.shape == (2, heads, n, m)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, heads, n))  # softmax over the image axis

    # hand computation of Eq. 2 from the layer's own weights
    x = layer.self_attend(joints)
    xn, img = layer.norm_joints(x), layer.norm_image(image)
    q = split_heads(xn @ layer.mca.q.weight.T + layer.mca.q.bias, heads)
    k = split_heads((img + pos) @ layer.mca.k.weight.T + layer.mca.k.bias, heads)
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dim // heads), dim=-1)
    v_j = split_heads(xn @ layer.v_joints.weight.T + layer.v_joints.bias, heads)
    expected_image = merge_heads(a.transpose(-1, -2) @ v_j) + image  # A^T V_J + T_I
    torch.testing.assert_close(attn, a)
    torch.testing.assert_close(new_image, expected_image)
    # background-like tokens (low column mass) receive a smaller update than attended ones
    column_mass = a.sum(dim=2).mean(dim=1)  # (B, M)
    update = (new_image - image).norm(dim=-1)
    assert torch.corrcoef(torch.stack([column_mass.flatten(), update.flatten()]))[0, 1] > 0.5


def test_plain_transformer_layer_leaves_image_tokens_alone():
    layer = TransformerLayer(32, 4)
    image = torch.randn(2, 10, 32)
    _, new_image, attn = layer(torch.randn(2, 17, 32), image, torch.zeros(1, 10, 32))
    assert new_image is image
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 4, 17))


@pytest.mark.parametrize("norm", ["after", "double", "two_cross"])
def test_pgtl_normalisation_variants(norm):
    torch.manual_seed(2)
    joints, image, pos = torch.randn(2, 17, 32), torch.randn(2, 40, 32), torch.randn(1, 40, 32)
    before = PoseGuidedLayer(32, 4, norm="before").eval()
    variant = PoseGuidedLayer(32, 4, norm=norm).eval()
    variant.load_state_dict(before.state_dict(), strict=False)
    _, img_before, attn_before = before(joints, image, pos)
    _, img_variant, attn_variant = variant(joints, image, pos)
    torch.testing.assert_close(attn_variant, attn_before)  # keypoint side is the same
    assert not torch.allclose(img_variant, img_before)
    if norm == "after":  # each image token's weights over the keypoints sum to one
        x = variant.self_attend(joints)
        q = split_heads(variant.mca.q(variant.norm_joints(x)), 4)
        k = split_heads(variant.mca.k(variant.norm_image(image) + pos), 4)
        weights = variant.image_weights(None, (q @ k.transpose(-1, -2)) * variant.mca.scale, None, None, None)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 40))


def test_unknown_pgtl_norm_is_rejected():
    with pytest.raises(ValueError, match="normalisation"):
        PoseGuidedLayer(32, 4, norm="sideways")


def test_selection_keeps_ceil_r_hw_highest_scoring_tokens():
    torch.manual_seed(3)
    b, h, n, hw, d = 2, 4, 17, 101, 8
    attn = torch.rand(b, h, n, hw).softmax(-1)
    tokens, pos = torch.randn(b, hw, d), torch.randn(1, hw, d)
    for r in (0.01, 0.3, 0.5, 0.999):
        chosen = FeatureSelection()(attn, tokens, pos, r)
        k = math.ceil(r * hw)
        assert chosen.indices.shape == (b, k)
        scores = attn.mean(1).sum(1)
        torch.testing.assert_close(chosen.scores, scores)
        for i in range(b):
            kept = set(chosen.indices[i].tolist())
            assert len(kept) == k
            threshold = scores[i, chosen.indices[i]].min()
            dropped = [j for j in range(hw) if j not in kept]
            assert torch.all(scores[i, dropped] <= threshold)
            torch.testing.assert_close(chosen.tokens[i], tokens[i, chosen.indices[i]])
            torch.testing.assert_close(chosen.pos[i], pos[0, chosen.indices[i]])


def test_retention_one_keeps_everything_and_bad_r_is_rejected():
    attn = torch.rand(1, 2, 17, 30).softmax(-1)
    chosen = FeatureSelection()(attn, torch.randn(1, 30, 4), torch.randn(1, 30, 4), 1.0)
    assert sorted(chosen.indices[0].tolist()) == list(range(30))
    assert kept_count(0.01, 3072) == 31 and kept_count(0.3, 3072) == 922
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="retention"):
            kept_count(bad, 100)
    with pytest.raises(ValueError):
        LiftingConfig(retention=0.0)


def test_retention_is_a_call_argument_and_stage2_reruns_from_cache(small_model):
    images, joints2d = torch.rand(2, 3, 64, 48), torch.randn(2, 17, 2)
    with torch.no_grad():
        out = small_model(images, joints2d, retention=0.3)
        again = small_model.stage2(out.stage1, retention=0.3)
        wide = small_model.stage2(out.stage1, retention=1.0)
        narrow = small_model.stage2(out.stage1, retention=0.01)
    assert out.kept_indices.shape[1] == math.ceil(0.3 * 192)
    assert wide.kept_indices.shape[1] == 192 and narrow.kept_indices.shape[1] == 2
    torch.testing.assert_close(again.refined, out.refined)
    torch.testing.assert_close(wide.coarse, out.coarse)
    assert not torch.allclose(wide.refined, narrow.refined)


def test_frozen_stage1_is_untouched_by_a_stage2_step(small_config):
    model = LiftingByImage(small_config)
    model.freeze_stage1()
    model.train()
    before = {k: v.clone() for m in model.stage1_modules() for k, v in m.state_dict().items()}
    stage2_before = [p.clone() for m in model.stage2_modules() for p in m.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    out = model(torch.rand(4, 3, 64, 48), torch.randn(4, 17, 2))
    loss = ((out.refined - torch.randn(4, 17, 3)) ** 2).sum(-1).mean()
    loss.backward()
    optimizer.step()
    after = {k: v for m in model.stage1_modules() for k, v in m.state_dict().items()}
    for key, value in before.items():  # parameters and BatchNorm statistics alike
        assert torch.equal(value, after[key]), key
    stage2_after = [p for m in model.stage2_modules() for p in m.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(stage2_before, stage2_after))
    assert all(not m.training for m in model.stage1_modules()) and model.stage2_layers.training


@pytest.mark.slow
def test_detach_controls_whether_stage2_loss_reaches_stage1(small_config):
    images, joints2d = torch.rand(2, 3, 64, 48), torch.randn(2, 17, 2)
    for detach, reaches in ((True, False), (False, True)):
        small_config.detach_stage1 = detach
        model = LiftingByImage(small_config)
        model(images, joints2d).refined.square().sum().backward()
        grad = model.stage1_layers[0].mca.q.weight.grad
        assert (grad is not None and grad.abs().sum() > 0) == reaches


def test_plain_image_model_and_martinez_baseline():
    plain = LiftingByImage(plain_image_config(encoder="small_cnn", dim=32, heads=4)).eval()
    assert all(
        isinstance(layer, TransformerLayer) and not isinstance(layer, PoseGuidedLayer) for layer in plain.stage1_layers
    )
    out = plain(torch.rand(2, 3, 64, 48), torch.randn(2, 17, 2))
    assert out.kept_indices is None and len(out.attention()) == 3
    assert torch.equal(out.refined, out.coarse)

    mlp = build_model("martinez", {"hidden": 64}).eval()
    assert isinstance(mlp, MartinezMLP)
    pose = mlp(None, torch.randn(5, 17, 2)).refined
    assert pose.shape == (5, 17, 3)
    with pytest.raises(ValueError, match="architecture"):
        build_model("resnet")


def test_stage1_placement_ablations_build():
    for layers in (("pgtl", "pgtl", "tl"), ("tl", "tl", "tl"), ("tl", "pgtl", "tl")):
        model = LiftingByImage(LiftingConfig(encoder="small_cnn", dim=32, heads=4, stage1=layers))
        kinds = tuple("pgtl" if isinstance(layer, PoseGuidedLayer) else "tl" for layer in model.stage1_layers)
        assert kinds == layers
    with pytest.raises(ValueError, match="layer kind"):
        LiftingByImage(LiftingConfig(encoder="small_cnn", dim=32, heads=4, stage1=("tl", "mlp")))


def test_precomputed_features_give_the_same_result(small_model):
    images, joints2d = torch.rand(2, 3, 64, 48), torch.randn(2, 17, 2)
    with torch.no_grad():
        direct = small_model(images, joints2d)
        cached = small_model(None, joints2d, features=small_model.encoder(images))
    torch.testing.assert_close(direct.refined, cached.refined)


def test_keypoint_positions_match_the_image_token_they_lie_on():
    """With pose_positions, a keypoint's query position is the sine embedding of the token under its joint."""
    from lbi.crop.codec import InputCodec
    from lbi.model.embedding import PoseEmbedding, sine_positional_embedding

    codec = InputCodec()
    embed = PoseEmbedding(17, 64, positional=True, aspect=256 / 192)
    with torch.no_grad():
        embed.proj.weight.zero_(), embed.proj.bias.zero_(), embed.joint.zero_()
    grid = sine_positional_embedding(32, 24, 64)  # stride 8
    rows, cols = np.random.default_rng(0).integers(0, 32, 17), np.random.default_rng(1).integers(0, 24, 17)
    px = np.stack([cols * 8 + 3.5, rows * 8 + 3.5], axis=1)  # token centres (pixel-centre convention)
    tokens, positions = embed(torch.from_numpy(codec.normalize(px))[None])
    assert torch.equal(tokens, torch.zeros_like(tokens))  # the positions stay out of the tokens
    nearest = (positions[0] @ grid.T).argmax(dim=1).numpy()
    np.testing.assert_array_equal(nearest, rows * 24 + cols)


def test_keypoint_positions_reach_stage2_reruns_and_batches():
    model = LiftingByImage(LiftingConfig(encoder="small_cnn", dim=32, heads=4, pose_positions=True)).eval()
    images, joints2d = torch.rand(3, 3, 64, 48), torch.rand(3, 17, 2) * 2 - 1
    with torch.no_grad():
        out = model(images, joints2d)
        assert out.stage1.joint_pos.shape == (3, 17, 32)
        again = model.stage2(out.stage1.select(1))
        torch.testing.assert_close(again.refined, out.refined[1:2])
        moved = model(images, joints2d + 0.3)  # the queries follow the joints: the attention moves
        assert not torch.allclose(moved.stage1_attention[0], out.stage1_attention[0])


def test_the_image_absent_is_one_token_of_zero_features(small_model):
    """Neither images nor features: the pose path alone answers (pose-only training and the image-absent
    evaluation), the same as an explicit 1x1 map of zero features."""
    joints2d = torch.randn(3, 17, 2) * 0.3
    absent = small_model(None, joints2d)
    explicit = small_model(None, joints2d, features=torch.zeros(3, small_model.encoder.out_channels, 1, 1))
    assert absent.refined.shape == (3, 17, 3) and absent.grid == (1, 1)
    assert torch.allclose(absent.refined, explicit.refined) and torch.allclose(absent.coarse, explicit.coarse)
    images = torch.rand(3, 3, 256, 192)
    assert not torch.allclose(absent.coarse, small_model(images, joints2d).coarse)  # an image does change it
