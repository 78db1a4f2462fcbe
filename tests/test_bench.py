import json

import torch

from lbi.bench import bench_model, main


def test_bench_reports_every_stage():
    result = bench_model("small_cnn", batch=2, device=torch.device("cpu"), repeats=1, size=(64, 48))
    assert result["tokens"] == 16 * 12 and result["kept_tokens"] == 58  # ceil(0.3 * 192)
    for key in ("encoder_ms", "stage1_ms", "stage2_ms", "total_ms"):
        assert result[key] > 0


def test_bench_cli_prints_json(capsys):
    main(["--lifter", "--encoders", "small_cnn", "--batches", "1", "--repeats", "1"])
    report = json.loads(capsys.readouterr().out)
    assert report["runs"][0]["encoder"] == "small_cnn" and report["runs"][0]["batch"] == 1
