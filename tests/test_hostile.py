"""Hostile and odd files: every one gives pixels or a specific ImageError, in the library and the
CLI, which still writes every good result (``python -m tests.harness.stress`` runs the same files and more
through the app under load)."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lbi.io.images import MAX_SIDE, WORK_SIDE, ImageError, read_photo
from tests.harness.stress import hostile_files

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = {
    "empty",
    "random bytes",
    "truncated",
    "huge header",
    "decompression bomb",
    "text-chunk bomb",
    "odd mode",
    "odd format",
    "tiny",
    "extreme aspect",
    "large photo",
    "byte-flipped",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return hostile_files(tmp_path_factory.mktemp("hostile"), count=120, seed=1)


@pytest.mark.slow
def test_hostile_files_give_pixels_or_a_specific_error(files):
    """Every kind of hostile file (each present: the test says nothing otherwise) gives pixels or a specific error."""
    assert set(Counter(c for _, c in files)) >= CATEGORIES
    refused: Counter = Counter()
    for path, category in files:
        try:
            photo = read_photo(path)
        except ImageError as err:
            refused[category] += 1
            message = str(err)
            assert path.name in message and len(message) > 30, message
            continue
        rgb = photo.rgb
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and max(rgb.shape[:2]) <= WORK_SIDE
        assert max(photo.original_size) <= MAX_SIDE
    for category in ("empty", "random bytes", "huge header", "text-chunk bomb", "tiny"):
        assert refused[category] == sum(c == category for _, c in files), category


@pytest.mark.slow
def test_cli_reports_each_bad_file_and_keeps_the_good_results(files, tmp_path):
    good = ROOT / "assets" / "grace_hopper.jpg"
    paths = [str(p) for p, _ in files[::4]] + [str(good)]
    out = tmp_path / "poses.json"
    proc = subprocess.run(
        [sys.executable, "-m", "lbi", "predict", *paths, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    results = json.loads(out.read_text())["results"]
    assert [r["image"] for r in results] == paths
    assert "joints3d_mm" in results[-1]["people"][0]  # the good photo's result is written despite the bad ones
    assert all("error" in r or "people" in r for r in results)


@pytest.mark.slow
def test_stress_script_reports_a_clean_run(capsys):
    """python -m tests.harness.stress end to end, at a small size: the app under concurrent load and hostile
    uploads, the CLI on the same files, crafted path requests; the JSON says nothing went wrong."""
    from tests.harness.stress import main as stress

    stress(["--clients", "3", "--requests", "4", "--hostile", "40", "--seed", "2"])
    report = json.loads(capsys.readouterr().out)
    assert report["load"]["requests"] == 12 and report["load"]["errors"] == 0, report["load"]
    assert report["hostile_app"]["files"] == 40 and report["hostile_app"]["crashes"] == 0
    assert report["hostile_app"]["generic_messages"] == 0
    assert report["server_tracebacks_load_and_hostile"] == 0
    assert report["hostile_cli"]["entries"] == 40 and report["hostile_cli"]["tracebacks"] == 0
    assert report["traversal"]["refused"] == report["traversal"]["attempts"] > 0
    assert 0 < report["max_rss_mb"] < 1536 and report["app_tmp_mb"]["max"] < 200
