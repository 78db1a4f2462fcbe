import pytest
import torch

from lbi.model import LiftingByImage, LiftingConfig


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
