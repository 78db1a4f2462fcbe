import pytest
import torch

from lbi.model import LiftingByImage, LiftingConfig


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory):
    """A tiny LBI-Synth (lab + wild + rand + upper + pose-only pairs), rendered once per test session."""
    from lbi.data.synth.generate import generate, generate_pairs, generate_randomised
    from lbi.data.synth.upper import generate_upper

    root = tmp_path_factory.mktemp("lbi_synth")
    generate(root, "tiny", seed=0, workers=1)
    generate_randomised(root, "tiny", seed=0, workers=1)
    generate_upper(root, "tiny", seed=0)
    generate_pairs(root, "tiny", seed=0, workers=1)
    return root


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def small_config() -> LiftingConfig:
    """A small LiftingByImage on the tiny CNN encoder: fast enough for many tests."""
    return LiftingConfig(encoder="small_cnn", dim=64, heads=4, mlp_ratio=2.0)


@pytest.fixture
def small_model(small_config) -> LiftingByImage:
    return LiftingByImage(small_config).eval()
