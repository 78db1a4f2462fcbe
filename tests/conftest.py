import numpy as np
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


@pytest.fixture(autouse=True, scope="session")
def _onnx_cache(tmp_path_factory):
    """Graphs the estimator exports for onnxruntime go to a folder of the test session, not the user's cache."""
    import os

    os.environ["LBI_CACHE"] = str(tmp_path_factory.mktemp("lbi_cache"))


@pytest.fixture(autouse=True, scope="session")
def _committed_files_untouched():
    """No test writes into the committed results, weights or assets (a monkeypatch that misses the module a path is
    read from would): their bytes after the session are those before it."""
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]

    def snapshot() -> dict[str, str]:
        folders = ("train/results", "weights", "assets")
        files = [p for d in folders for p in sorted((root / d).rglob("*")) if p.is_file()]
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    before = snapshot()
    yield
    after = snapshot()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"the tests changed committed files: {changed}"


#: fixtures that render or prepare data sets: a test that needs one is slow (pytest -m "not slow" skips it)
SLOW_FIXTURES = {"synth_root", "h36m_prepared", "h36m_source"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def annotation_row(**fields) -> dict:
    """One sample's fields for lbi.data.format.DatasetWriter, zeros unless given."""
    return {
        "subject": "S",
        "action": "a",
        "camera": "c",
        "frame": 0,
        "joints3d": np.zeros((17, 3)),
        "joints2d_gt": np.zeros((17, 2)),
        "center": np.zeros(2),
        "scale": np.ones(2),
        "image_size": (10, 10),
        "intrinsics": np.zeros(4),
        **fields,
    }


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
