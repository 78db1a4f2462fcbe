"""The bundled weights on the example photos give exactly the pinned joints (a refactor guard): the lifter alone
(the paper's model) and the default fusion with MediaPipe's 3D.

The pins in ``tests/data/example_pins.json`` belong to the bundled weights files (their SHA-256 are stored
with them) and to the 2D pass (lbi.pose2d.people). After changing either on purpose, regenerate them with

    python tests/test_example_pins.py --update
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "tests" / "data" / "example_pins.json"
FIELDS = ("joints3d_mm", "coarse3d_mm", "joints3d_mm_r1", "joints2d_px", "fused3d_mm")


def weights_sha256() -> str:
    """The bundled lifter's and the ensemble's prior lifter's SHA-256."""
    from lbi.io.weights import BUNDLED_PRIOR_LIFTER, BUNDLED_WEIGHTS

    return " ".join(hashlib.sha256(path.read_bytes()).hexdigest() for path in (BUNDLED_WEIGHTS, BUNDLED_PRIOR_LIFTER))


def example_outputs() -> dict[str, dict]:
    """What the estimator gives on every example photo: refined, coarse and r = 1 joints of the lifter alone, the 2D
    input, and the default fusion's pose."""
    from lbi.io.images import read_image
    from lbi.pipeline.estimator import Estimator

    estimator = Estimator(device="cpu")
    out = {}
    for path in sorted((ROOT / "assets").glob("*.jpg")):
        estimate = estimator.predict(read_image(path), fusion="none")
        out[path.name] = {
            "joints3d_mm": estimate.pose.joints3d_mm.tolist(),
            "coarse3d_mm": estimate.pose.coarse3d_mm.tolist(),
            "joints3d_mm_r1": estimator.refine(estimate, 1.0).pose.joints3d_mm.tolist(),
            "joints2d_px": estimate.pose.joints2d_px.tolist(),
            "kept_tokens": estimate.diagnostics.kept_tokens,
            "fused3d_mm": estimator.predict(read_image(path)).pose.joints3d_mm.tolist(),
        }
    return out


@pytest.mark.slow
def test_examples_give_the_pinned_joints():
    pins = json.loads(PINS.read_text())
    assert pins["weights_sha256"] == weights_sha256(), (
        "the bundled weights changed: if on purpose, run `python tests/test_example_pins.py --update`"
    )
    now = example_outputs()
    assert set(now) == set(pins["examples"])
    for name, pinned in pins["examples"].items():
        for key in FIELDS:  # the same joints up to how another CPU or thread count rounds (XNNPACK, PyTorch's kernels)
            atol = 0.5 if key == "joints2d_px" else 2.0  # px, mm: a changed model moves joints by tens of mm
            np.testing.assert_allclose(now[name][key], pinned[key], atol=atol, rtol=0, err_msg=f"{name} {key}")
        assert now[name]["kept_tokens"] == pinned["kept_tokens"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(__doc__)
    from lbi.io.files import atomic_write_text

    atomic_write_text(PINS, json.dumps({"weights_sha256": weights_sha256(), "examples": example_outputs()}, indent=1))
    print(f"wrote {PINS}")
