import json
from pathlib import Path

import pytest
import torch

from lbi.bench import bench_model, bench_pipeline
from lbi.cli import main

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.mark.slow
def test_bench_reports_every_stage():
    result = bench_model("small_cnn", batch=2, device=torch.device("cpu"), repeats=5, crop_size=(48, 64))
    assert result["tokens"] == 16 * 12 and result["kept_tokens"] == 58  # ceil(0.3 * 192)
    parts = result["encoder_ms"] + result["stage1_ms"] + result["stage2_ms"]
    # the whole forward pass is the three parts run in a row: their sum, up to timer noise
    assert min(result[k] for k in ("encoder_ms", "stage1_ms", "stage2_ms")) > 0
    assert 0.4 < result["total_ms"] / parts < 2.5


@pytest.mark.slow
def test_bench_cli_prints_json(capsys):
    assert main(["bench", "--lifter", "--encoders", "small_cnn", "--batches", "1", "--repeats", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["runs"][0]["encoder"] == "small_cnn" and report["runs"][0]["batch"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("live", [False, True])
def test_pipeline_bench_times_what_the_app_runs(live):
    """Photo mode times Estimator.predict_people (flip test) + views.photo_view, live mode views.live_frame."""
    from lbi.io.images import read_image
    from lbi.pipeline.estimator import Estimator

    result = bench_pipeline(Estimator(device="cpu"), read_image(ASSETS / "lbi_synth_lab.jpg"), repeats=2, live=live)
    stages = ("detector_ms", "crop_ms", "encoder_ms", "stage1_ms", "stage2_ms", "drawing_ms")
    assert result["mode"] == ("live" if live else "photo") and all(result[k] > 0 for k in stages)
    assert result["flip_test"] is not live  # photos: the estimator's default; live frames skip it
    assert sum(result[k] for k in stages) == pytest.approx(result["total_ms"], rel=0.3)


@pytest.mark.slow
def test_video_bench_runs_a_clip_of_three_people_through_lbi_video():
    from lbi.bench import bench_videos
    from lbi.pipeline.estimator import Estimator

    result = bench_videos(Estimator(device="cpu"), people=(3,), frames=6, repeats=1)[0]
    assert result["mode"] == "video, 3 people" and result["clip"] == "640x480, 6 frames" and result["smoothing"]
    assert result["people_found_per_frame"] == 3.0  # everyone, in every frame
    assert result["fps"] == pytest.approx(1000 / result["ms_per_frame"], rel=0.02)
