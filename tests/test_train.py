"""Training: progressive stages, baselines, resume, configs, the CLI, and DDP with gloo."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import annotation_row
from train import CONFIGS
from train.__main__ import main as train_main
from train.core.config import ConfigError, load_config
from train.core.engine import Objective, bone_loss, build_optimizer, fit, load_checkpoint, lr_factor, pose_loss

SMALL_MODEL = ["model.encoder=small_cnn", "model.dim=32", "model.heads=4", "model.mlp_ratio=2.0"]


def _overrides(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        f"data.train={root}/lab:train",
        f"data.eval={{lab-test: {root}/lab:test, wild-test: {root}/wild:test}}",
        "training.epochs=1",
        "training.batch_size=8",
        f"training.out={out}",
        *SMALL_MODEL,
        *extra,
    ]


def test_progressive_training_stage1_then_stage2(synth_root, tmp_path):
    cfg1 = load_config(
        str(CONFIGS / "synth/lbi_stage1.yaml"), _overrides(synth_root, tmp_path / "s1", "training.epochs=2")
    )
    results = fit(cfg1)
    assert set(results) == {"lab-test", "wild-test"}
    r = results["lab-test"]
    assert r.samples == 16 and r.mpjpe > 0 and 0 <= r.pck <= 100 and 0 < r.background_attention < 1
    assert r.mpjpe == pytest.approx(r.mpjpe_coarse)  # stage 1 reports its coarse pose
    run = tmp_path / "s1"
    assert {"checkpoint.pt", "model.safetensors", "metrics.csv", "results.md", "results.json", "config.json"} <= {
        p.name for p in run.iterdir()
    }
    assert len((run / "metrics.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs
    assert any((run / "tb").iterdir())

    cfg2 = load_config(
        str(CONFIGS / "synth/lbi_stage2.yaml"),
        _overrides(synth_root, tmp_path / "s2", f"training.init={run}/model.safetensors"),
    )
    results2 = fit(cfg2)
    assert results2["lab-test"].mpjpe_coarse == pytest.approx(r.mpjpe_coarse, rel=1e-4)  # stage 1 untouched
    s1, s2 = load_file(str(run / "model.safetensors")), load_file(str(tmp_path / "s2" / "model.safetensors"))
    assert all(torch.equal(s1[k], s2[k]) for k in s1 if k.startswith(("stage1_layers.", "coarse_head.", "pose_embed.")))
    assert any(not torch.equal(s1[k], s2[k]) for k in s1 if k.startswith("stage2_layers."))


@pytest.mark.parametrize("config", ["lifting_only", "plain_image", "lbi_end_to_end"])
def test_baselines_and_end_to_end_train(synth_root, tmp_path, config):
    overrides = _overrides(synth_root, tmp_path / config)
    if config == "lifting_only":  # no image encoder: swap the image-model overrides for a small MLP
        overrides = [o for o in overrides if not o.startswith("model.")] + ["model.hidden=64"]
    results = fit(load_config(f"{CONFIGS}/synth/{config}.yaml", overrides))
    assert results["wild-test"].samples == 16
    assert (results["wild-test"].background_attention is None) == (config == "lifting_only")


def test_resume_continues_where_a_run_stopped(synth_root, tmp_path):
    full = load_config(
        str(CONFIGS / "synth/lbi_stage1.yaml"), _overrides(synth_root, tmp_path / "full", "training.epochs=2")
    )
    fit(full)
    part = load_config(
        str(CONFIGS / "synth/lbi_stage1.yaml"), _overrides(synth_root, tmp_path / "part", "training.epochs=1")
    )
    fit(part)  # "killed" after epoch 1
    resumed = load_config(
        str(CONFIGS / "synth/lbi_stage1.yaml"), _overrides(synth_root, tmp_path / "part", "training.epochs=2")
    )
    fit(resumed, resume=True)
    a, b = (
        load_file(str(tmp_path / "full" / "model.safetensors")),
        load_file(str(tmp_path / "part" / "model.safetensors")),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert len((tmp_path / "part" / "metrics.csv").read_text().strip().splitlines()) == 3


def test_bf16_autocast_trains_on_cpu(synth_root, tmp_path):
    """precision: bf16 (the d = 192 synth configs) trains on CPU; evaluation stays fp32."""
    fp32 = fit(load_config(str(CONFIGS / "synth/lbi_stage1.yaml"), _overrides(synth_root, tmp_path / "fp32")))
    bf16 = fit(
        load_config(
            str(CONFIGS / "synth/lbi_stage1.yaml"), _overrides(synth_root, tmp_path / "bf16", "training.precision=bf16")
        )
    )
    a, b = (
        load_file(str(tmp_path / "fp32" / "model.safetensors")),
        load_file(str(tmp_path / "bf16" / "model.safetensors")),
    )
    floats = [v for v in b.values() if v.is_floating_point()]
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in floats)  # fp32 master weights
    assert any(not torch.equal(a[k], b[k]) for k in a)  # the steps did run in another precision
    assert bf16["lab-test"].mpjpe == pytest.approx(fp32["lab-test"].mpjpe, rel=0.2)


def test_training_on_two_splits_at_once(synth_root, tmp_path):
    """data.train may list several splits: the model trains on all of them (one shuffled set)."""
    from lbi.data.format import PreparedData
    from train.core.engine import build_datasets, build_experiment_model

    specs = [f"{synth_root}/lab:train", f"{synth_root}/upper:train"]
    cfg = load_config(
        str(CONFIGS / "synth/lbi_stage1.yaml"),
        [*_overrides(synth_root, tmp_path / "run"), f"data.train=[{specs[0]}, {specs[1]}]"],
    )
    train_set, _ = build_datasets(cfg, build_experiment_model(cfg), rank=0)
    sizes = [len(PreparedData(synth_root / name).indices("train")) for name in ("lab", "upper")]
    assert len(train_set) == sum(sizes) and min(sizes) > 0
    results = fit(cfg)
    assert np.isfinite(results["lab-test"].mpjpe)


def test_learning_rate_steps_then_anneals():
    """x lr_decay every lr_decay_every epochs; the last anneal_epochs fall by a cosine to anneal_to of that."""
    training = load_config(
        None,
        [
            "training.epochs=10",
            "training.lr_decay=0.5",
            "training.lr_decay_every=2",
            "training.anneal_epochs=4",
            "training.anneal_to=0.1",
        ],
    ).training
    factors = [lr_factor(training, epoch) for epoch in range(10)]
    assert factors[:7] == [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125]  # the anneal starts where the steps left off
    assert factors[7] == pytest.approx(0.125 * (0.1 + 0.9 * 0.75)) and factors[9] == pytest.approx(0.0125)
    plain = load_config(None, ["training.epochs=10", "training.lr_decay=0.5", "training.lr_decay_every=2"]).training
    assert [lr_factor(plain, epoch) for epoch in range(10)] == [0.5 ** (epoch // 2) for epoch in range(10)]


def test_pose_losses():
    """mse (Eq. 3): squared distances summed over joints, mean over the batch; mpjpe: the mean distance itself."""
    target = torch.zeros(2, 3, 3)
    pred = torch.zeros(2, 3, 3)
    pred[0, 0] = torch.tensor([3.0, 4.0, 0.0])  # one joint 5 away, one 1 away, the rest exact
    pred[1, 2, 2] = 1.0
    assert pose_loss(pred, target, "mse").item() == pytest.approx((25 + 1) / 2)
    assert pose_loss(pred, target, "mpjpe").item() == pytest.approx((5 + 1) / 6, abs=1e-3)
    pred.requires_grad_(True)
    pose_loss(pred, target, "mpjpe").backward()  # finite at the joints with zero distance
    assert torch.isfinite(pred.grad).all() and pred.grad[0, 0].norm().item() == pytest.approx(1 / 6, abs=1e-4)

    class Lifter(torch.nn.Module):  # stands in for the model: stage 1's coarse pose is `pred`
        def stage1(self, joints2d, images, features, prior=None):
            return SimpleNamespace(coarse=pred)

    batch = SimpleNamespace(joints2d=torch.zeros(2, 3, 2), target=target, image=None, features=None, prior=None)
    assert Objective(Lifter(), "stage1", "mpjpe")(batch).item() == pytest.approx((5 + 1) / 6, abs=1e-3)
    assert Objective(Lifter(), "stage1")(batch).item() == pytest.approx(13.0)  # Eq. 3 unless told otherwise
    with pytest.raises(ValueError, match="unknown pose loss 'l1'"):
        pose_loss(pred, target, "l1")
    with pytest.raises(ConfigError, match="training.loss must be one of"):
        load_config(None, ["training.loss=huber"])


def test_bone_loss_adds_the_bone_length_errors():
    """bone_loss: 0 for a rotated copy, the mean |length error| over the 16 bones otherwise; the
    Objective adds it times training.bone_weight."""
    target = torch.randn(2, 17, 3, generator=torch.Generator().manual_seed(0))
    rotation = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1)))[0]
    assert bone_loss(target @ rotation, target).item() == pytest.approx(0.0, abs=1e-5)
    pred = target.clone()
    pred[:, 13] = pred[:, 12] + 2 * (target[:, 13] - target[:, 12])  # the left forearm twice as long, hand moved
    forearm = (target[:, 13] - target[:, 12]).norm(dim=-1).mean().item()
    assert bone_loss(pred, target).item() == pytest.approx(forearm / 16, rel=1e-4)

    class Lifter(torch.nn.Module):
        def stage1(self, joints2d, images, features, prior=None):
            return SimpleNamespace(coarse=pred)

    batch = SimpleNamespace(joints2d=torch.zeros(2, 17, 2), target=target, image=None, features=None, prior=None)
    plain = Objective(Lifter(), "stage1", "mpjpe")(batch).item()
    weighted = Objective(Lifter(), "stage1", "mpjpe", bone_weight=2.0)(batch).item()
    assert weighted == pytest.approx(plain + 2 * forearm / 16, rel=1e-4)
    with pytest.raises(ConfigError, match="training.bone_weight must be 0 or more"):
        load_config(None, ["training.bone_weight=-1"])


@pytest.mark.slow
def test_resume_from_a_step_lr_checkpoint(tmp_path):
    """Checkpoints written with the former StepLR resume on the same schedule (it is a function of the epoch)."""
    training = load_config(
        None, ["training.epochs=12", "training.lr_decay=0.5", "training.lr_decay_every=2", "training.anneal_epochs=4"]
    ).training
    model = torch.nn.Linear(2, 2)
    old_optimizer = torch.optim.Adam(model.parameters(), lr=training.lr)
    old_scheduler = torch.optim.lr_scheduler.StepLR(old_optimizer, 2, 0.5)
    for _ in range(5):  # five epochs done
        old_optimizer.step()
        old_scheduler.step()
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": old_optimizer.state_dict(),
            "scheduler": old_scheduler.state_dict(),
            "epoch": 4,
            "history": "[]",
        },
        tmp_path / "checkpoint.pt",
    )
    optimizer, scheduler = build_optimizer(training, model)
    start, _ = load_checkpoint(tmp_path / "checkpoint.pt", model, optimizer, scheduler)
    assert start == 5 and optimizer.param_groups[0]["lr"] == pytest.approx(training.lr * 0.25)
    for epoch in range(6, 12):
        optimizer.step()
        scheduler.step()
        assert optimizer.param_groups[0]["lr"] == pytest.approx(training.lr * lr_factor(training, epoch))


def test_config_errors_are_specific(tmp_path):
    with pytest.raises(ValueError, match="unknown key\\(s\\) in section 'training': \\['epoch'\\]"):
        load_config(None, ["training.epoch=3"])
    with pytest.raises(ValueError, match="section.key=value"):
        load_config(None, ["epochs=3"])
    with pytest.raises(ValueError, match="stage2 needs training.init"):
        load_config(None, ["training.mode=stage2"])
    with pytest.raises(ValueError, match="training.precision must be one of"):
        load_config(None, ["training.precision=fp16"])
    with pytest.raises(ConfigError, match="anneal_epochs must be between 0 and training.epochs"):
        load_config(None, ["training.epochs=4", "training.anneal_epochs=5"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "broken.yaml").write_text("training:\n  epochs: [1\n")
    with pytest.raises(ConfigError, match="broken.yaml is not valid YAML"):
        load_config(tmp_path / "broken.yaml")
    cfg = load_config(str(CONFIGS / "synth/lbi_stage1.yaml"), ["training.lr=5e-4", "model.stage1=[tl, tl, tl]"])
    assert cfg.training.lr == 5e-4 and cfg.model["stage1"] == ["tl", "tl", "tl"]


def test_cli_reports_a_missing_data_folder(tmp_path, capsys):
    code = train_main(
        [
            "--config",
            str(CONFIGS / "synth/lbi_stage1.yaml"),
            "--set",
            f"data.train={tmp_path}/nope:train",
            f"training.out={tmp_path}/run",
            *SMALL_MODEL,
        ]
    )
    assert code == 2
    assert "dataset folder not found" in capsys.readouterr().err


@pytest.mark.slow
def test_distributed_training_with_gloo(synth_root, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
        "-m",
        "train",
        "--config",
        str(CONFIGS / "synth/lbi_stage1.yaml"),
        "--set",
        *_overrides(synth_root, tmp_path / "ddp"),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "ddp" / "model.safetensors").is_file()
    assert "lab-test" in (tmp_path / "ddp" / "results.md").read_text()


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.slow
def test_every_shipped_config_loads_and_builds(path):
    from lbi.model import build_model

    cfg = load_config(path)
    model_cfg = dict(cfg.model)
    model = build_model(model_cfg.pop("arch"), model_cfg)
    built = model.config.to_dict()
    for key, value in model_cfg.items():  # every setting of the file reaches the model
        assert built[key] == (tuple(value) if isinstance(value, list) else value), (path.name, key)
    with torch.inference_mode():  # and it lifts a crop-sized input to a pose
        w, h = model.config.crop_size
        images = torch.rand(1, 3, h, w) if hasattr(model, "encoder") else None
        out = model.eval()(images, torch.rand(1, 17, 2) * 2 - 1)
    assert out.refined.shape == (1, 17, 3) and torch.isfinite(out.refined).all()


def test_synth_table_writes_markdown_and_json(synth_root, tmp_path):
    import json

    from train.reports.synth_table import main as table_main

    def table(out: str) -> None:  # the second call reuses the run
        args = ["--data", str(synth_root), "--runs", str(tmp_path / "runs"), "--epochs", "1"]
        table_main([*args, "--out", str(tmp_path / out), "--only", "lifting-only (Martinez)"])

    table("table")
    markdown = (tmp_path / "table.md").read_text()
    assert "| lifting-only (Martinez) | lab-test | 16 |" in markdown and "wild-test" in markdown
    info = json.loads((tmp_path / "table.json").read_text())["info"]
    assert (
        info["command"].startswith("python -m train.reports.synth_table") and info["total_train_and_eval_seconds"] > 0
    )
    table("table2")
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert [line for line in (tmp_path / "table2.md").read_text().splitlines() if line.startswith("|")] == rows
    assert "Training time of these runs (sum of their epochs" in markdown
    # the reported training time is the run's own epochs from metrics.csv, not the wall time with evaluation
    import csv

    with open(tmp_path / "runs" / "lifting_only__martinez" / "metrics.csv", newline="") as handle:
        epochs = [float(row["seconds"]) for row in csv.DictReader(handle)]
    assert len(epochs) == 1 and info["train_seconds_per_run"] == {"lifting-only (Martinez)": round(sum(epochs), 1)}
    assert info["total_train_seconds"] == round(sum(epochs), 1) <= info["total_train_and_eval_seconds"]


@pytest.mark.slow
def test_a_longer_run_continues_the_shorter_runs_checkpoint(tmp_path):
    from train.reports.synth_table import RUNS, continue_from

    short, long = tmp_path / "short", tmp_path / "long"
    assert not continue_from(long, short)  # nothing to continue: trains from scratch
    short.mkdir()
    (short / "checkpoint.pt").write_bytes(b"epoch 20")
    assert continue_from(long, short) and (long / "checkpoint.pt").read_bytes() == b"epoch 20"
    (short / "checkpoint.pt").write_bytes(b"epoch 21")
    assert not continue_from(long, short) and (long / "checkpoint.pt").read_bytes() == b"epoch 20"  # never overwritten
    names = {row.name: row for row in RUNS}
    for row in RUNS:  # a continued row shares its source's config; referenced rows exist and come first
        for ref in filter(None, (row.init_from, row.continues)):
            assert list(names).index(ref) < list(names).index(row.name)
        if row.continues:
            assert names[row.continues].config == row.config


def test_the_bundled_chain_configs_start_where_the_run_before_ended(tmp_path):
    """train.release.default_weights.RUNS: each config loads, writes to runs/rand/<its name> and starts from the
    run listed before it (as the files say, for someone running `python -m train --config` by hand);
    --data and --runs move the data and runs folders."""
    from train.release.default_weights import CONFIGS, RUNS, relocated

    names = [Path(config).stem for config in RUNS]
    for i, config in enumerate(RUNS):
        training = load_config(CONFIGS / config).training
        assert training.out == f"runs/rand/{names[i]}"
        assert training.init == (f"runs/rand/{names[i - 1]}/model.safetensors" if i else None)
    assert load_config(CONFIGS / RUNS[-1]).training.mode == "stage2"
    assert all(load_config(CONFIGS / c).training.mode == "stage1" for c in RUNS[:-1])
    assert relocated("data/lbi-synth/rand:train", tmp_path / "d", tmp_path / "r") == f"{tmp_path}/d/rand:train"
    assert (
        relocated("runs/rand/x/model.safetensors", tmp_path / "d", tmp_path / "r")
        == f"{tmp_path}/r/x/model.safetensors"
    )
    assert relocated("weights/w.safetensors", tmp_path / "d", tmp_path / "r") == "weights/w.safetensors"


def test_evaluate_cli_on_a_saved_model(synth_root, tmp_path, capsys):
    import json

    from lbi.io.weights import save_model
    from lbi.model import LiftingByImage, LiftingConfig
    from train.core.evaluate import main as evaluate_main

    weights = save_model(
        LiftingByImage(LiftingConfig(encoder="small_cnn", dim=32, heads=4)), tmp_path / "m" / "model.safetensors"
    )
    assert (
        evaluate_main(
            [
                "--weights",
                str(weights),
                "--data",
                f"lab={synth_root}/lab:test",
                f"wild={synth_root}/wild:test",
                "--retention",
                "1.0",
                "--out",
                str(tmp_path / "eval"),
            ]
        )
        == 0
    )
    assert "| m | lab | 16 |" in capsys.readouterr().out
    results = json.loads((tmp_path / "eval.json").read_text())["results"]["m"]
    assert set(results) == {"lab", "wild"} and results["lab"]["mpjpe"] > 0
    args = [
        "--weights",
        str(weights),
        "--data",
        f"lab={synth_root}/lab:test",
        "--limit",
        "5",
        "--out",
        str(tmp_path / "few"),
    ]
    assert evaluate_main(args) == 0
    few = json.loads((tmp_path / "few.json").read_text())
    assert few["results"]["m"]["lab"]["samples"] == 5 and few["info"]["command"].endswith(" ".join(args))
    assert " ".join(args) in (tmp_path / "few.md").read_text()  # the table says how to regenerate it
    assert (
        evaluate_main(["--weights", str(tmp_path / "missing.safetensors"), "--data", f"lab={synth_root}/lab:test"]) == 2
    )
    assert "weights file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        evaluate_main(["--weights", str(weights), "--data", f"lab={synth_root}/lab:test", "--limit", "-1"])


def test_evaluation_uses_a_feature_cache_of_the_same_encoder(synth_root, tmp_path):
    """Cached float16 features give the numbers the crops give; another encoder's cache is not used."""
    import shutil

    from lbi.model import LiftingByImage, LiftingConfig, MartinezMLP
    from train.core.evaluate import evaluate
    from train.core.features import model_dataset

    root = tmp_path / "lab"
    shutil.copytree(synth_root / "lab", root, ignore=shutil.ignore_patterns("features"))
    torch.manual_seed(0)
    model = LiftingByImage(LiftingConfig(encoder="small_cnn", dim=32, heads=4)).eval()
    from_crops = model_dataset(model, root, "test")
    assert from_crops.features is None and "image" in from_crops[0]
    cached = model_dataset(model, root, "test", cache="build")
    assert cached.features is not None and "image" not in cached[0]
    assert model_dataset(model, root, "test").features is not None  # found again without building
    assert "image" in model_dataset(model, root, "test", cache="off")[0]  # a trained encoder reads crops
    a, b = evaluate(model, from_crops), evaluate(model, cached)
    assert b.mpjpe == pytest.approx(a.mpjpe, abs=0.5) and b.mpjpe_coarse == pytest.approx(a.mpjpe_coarse, abs=0.5)
    torch.manual_seed(1)
    other = LiftingByImage(LiftingConfig(encoder="small_cnn", dim=32, heads=4))
    assert model_dataset(other, root, "test").features is None  # different weights: its own (absent) cache
    assert not {"image", "features"} & set(model_dataset(MartinezMLP(), root, "test")[0])  # the MLP reads no image


def test_mediapipe_detections_as_a_2d_input(synth_root, tmp_path):
    """train.data.detect_2d adds MediaPipe's 2D joints as an input kind; a dataset then serves them."""
    import shutil

    from lbi.data.dataset import PoseDataset
    from lbi.data.format import PreparedData
    from train.data.detect_2d import crop_pixel_error
    from train.data.detect_2d import main as detect_2d

    root = tmp_path / "wild"
    shutil.copytree(synth_root / "wild", root)
    detect_2d(["--data", str(root), "--splits", "test"])
    data = PreparedData(root)
    assert "mediapipe" in data.meta.inputs_2d and data.meta.info["mediapipe"]["detected"] >= 14  # of 16
    indices = data.indices("test")
    error = crop_pixel_error(data, data.ann["joints2d_mediapipe"], indices)
    assert 0 < error["median_crop_px"] < 20  # MediaPipe on the renders: a few pixels off, not the GT itself
    sample = PoseDataset(root, "test", inputs_2d="mediapipe")[0]
    assert sample["joints2d"].shape == (17, 2) and torch.isfinite(sample["joints2d"]).all()


def test_image_reliance_ablation(synth_root, tmp_path):
    """train.reports.image_reliance evaluates with own, another sample's and batch-mean image features."""
    import json

    from lbi.io.weights import save_model
    from lbi.model import LiftingByImage, LiftingConfig
    from train.reports.image_reliance import main as image_reliance

    weights = save_model(
        LiftingByImage(LiftingConfig(encoder="blazepose_s8", dim=32, heads=4)), tmp_path / "m.safetensors"
    )
    image_reliance(
        ["--weights", str(weights), "--data", f"lab-test={synth_root}/lab:test", "--out", str(tmp_path / "r")]
    )
    rows = json.loads((tmp_path / "r.json").read_text())["lab-test"]
    assert set(rows) == {"own image", "another sample's image", "batch-mean image"}
    errors = [rows[v]["mpjpe"] for v in rows]
    assert len(set(errors)) == 3  # the features reach the output: changing them changes the pose
    assert "batch-mean image" in (tmp_path / "r.md").read_text()


def test_model_card_from_run_records(tmp_path, monkeypatch):
    """train.release.default_weights writes the card from the records the steps leave: data meta, runs, results."""
    import json

    from lbi.data.format import DatasetMeta, DatasetWriter
    from train.core.evaluate import PEER, EvalResult
    from train.release import default_weights, model_card

    data = tmp_path / "data"
    row = annotation_row()
    for domain in ("rand", "lab", "wild"):
        writer = DatasetWriter(
            data / domain,
            DatasetMeta(
                domain,
                (192, 256),
                {"test": ["S"]},
                info={
                    "render_seconds": 600.0,
                    "mediapipe": {"seconds": 120.0, "detected": 1, "missed": 0, "median_crop_px": 4.2},
                },
            ),
        )
        writer.add(np.zeros((256, 192, 3), np.uint8), **row)
        writer.close()
    for run, epochs in (("s1", 30), ("s1a", 6), ("s1f", 4), ("s1m", 5), ("s2", 8)):
        (tmp_path / run).mkdir()
        (tmp_path / run / "config.json").write_text(
            json.dumps(
                {
                    "model": {"retention": 0.3, "dim": 64, "heads": 4, "encoder": "blazepose_s8", "stage2_depth": 3},
                    "data": {"train": "data/rand:train" if run == "s1" else ["data/rand:train", "data/upper:train"]},
                    "training": {
                        "epochs": epochs,
                        "batch_size": 128,
                        "lr": 1e-3,
                        "lr_decay": 0.9,
                        "lr_decay_every": 2,
                        "anneal_epochs": epochs if run in ("s1a", "s1f", "s1m") else 0,
                        "anneal_to": 0.02,
                        "noise_2d_px": 1.0,
                        "flip": 0.0 if run in ("s1", "s1a") else 0.5,
                        "loss": "mpjpe" if run in ("s1m", "s2") else "mse",
                        "bone_weight": 0.5 if run == "s1m" else 0.0,
                    },
                }
            )
        )
        (tmp_path / run / "metrics.csv").write_text("epoch,seconds\n1,200.0\n2,200.0\n")
    noise = tmp_path / "noise.json"
    noise.write_text(json.dumps({"flip_rate": 0.021, "swap_rates": [0.01, 0.05], "gross_rates": [0.02, 0.08]}))
    monkeypatch.setattr(model_card, "NOISE_MODEL", noise)
    monkeypatch.setattr(model_card, "RESULTS", tmp_path)
    result = EvalResult(
        samples=10,
        mpjpe=61.2,
        p_mpjpe=40.1,
        pck=90.0,
        auc=50.0,
        mpjpe_coarse=62.0,
        background_attention=0.4,
        attention={"stage 1 · layer 3 (TL)": {"off_silhouette": 0.7, "off_silhouette_uniform": 0.85}},
    )
    after = {
        "bundled, MediaPipe 2D": {"rand-test": result},
        PEER: {"rand-test": EvalResult(**{**result.__dict__, "mpjpe": 99.0})},
    }
    (tmp_path / "w.safetensors").write_bytes(b"0" * 2048)
    records = [default_weights.RunRecord.of(tmp_path / r) for r in ("s1", "s1a", "s1f", "s1m", "s2")]
    photos = {
        "sets": ["h36m_s9"],
        "means": {
            "lbi, MediaPipe 2D": {"n": 38, "mpjpe14": 90.04, "pa14": 70.06, "mpjpe17": 80.0, "pa17": 65.0},
            "twin, MediaPipe 2D": {"n": 38, "mpjpe14": 95.0, "pa14": 71.5, "mpjpe17": 85.0, "pa17": 66.0},
            "MediaPipe world landmarks": {"n": 38, "mpjpe14": 117.6, "pa14": 72.4, "mpjpe17": 109.3, "pa17": 74.4},
        },
    }
    photos_before = {
        "sets": ["h36m_s9"],
        "means": {
            "lbi, MediaPipe 2D": {"n": 38, "mpjpe14": 97.6, "pa14": 80.4, "mpjpe17": 86.6, "pa17": 72.7},
            "MediaPipe world landmarks": {"n": 38, "mpjpe14": 117.6, "pa14": 72.4, "mpjpe17": 109.3, "pa17": 74.4},
        },
    }
    card = model_card.model_card(
        after,
        {"previous, MediaPipe 2D": {"rand-test": result}},
        records,
        tmp_path / "w.safetensors",
        data,
        {"a.jpg": (290.0, 240.0), "b.jpg": (300.0, 120.0)},
        "The release before:",
        photos,
        photos_before,
    )
    sections = [line[3:] for line in card.splitlines() if line.startswith("## ")]
    assert sections[:4] == ["Retrain", "Model", "Data", "Real photos (mm)"] and "Limits" in sections
    runs = [line for line in card.splitlines() if line.lstrip()[:3] in ("1. ", "2. ", "3. ", "4. ")]
    assert [r.split("`")[1] for r in runs] == ["s1.yaml", "s1a.yaml", "s1f.yaml", "s1m.yaml"]
    assert [int(r.split(": ")[1].split()[0]) for r in runs] == [30, 6, 4, 5]  # each run's epochs
    assert "45 epochs in 4 runs" in card and "`s2.yaml`: 8 epochs" in card  # stage 1 and stage 2 totals
    assert "33.3 min (26.7 stage 1, 6.7 stage 2" in card  # the runs' epoch times
    assert "rendering 10.0 min, MediaPipe 2.0 min" in card and "2.1%" in card  # data costs, the noise model
    rows = {tuple(c.strip() for c in line.strip("|").split("|")) for line in card.splitlines() if line.startswith("| ")}
    assert any(r[:5] == ("bundled, MediaPipe 2D", "rand-test", "10", "61.2", "40.1") for r in rows)
    assert any(r[:4] == (PEER, "rand-test", "10", "99.0") for r in rows)
    real = {r[:2]: r[2:] for r in rows if r[0] in ("these", "previous")}
    assert real[("these", "lbi, MediaPipe 2D")] == ("38", "90.0", "70.1", "80.0", "65.0")
    assert real[("these", "twin, MediaPipe 2D")][2] == "71.5" and real[("previous", "lbi, MediaPipe 2D")][2] == "80.4"
    assert ("previous", "MediaPipe world landmarks") not in real  # the peer once, with these weights
    assert "b.jpg" in card and "290" in card  # the portraits' arms
    assert "higher than the previous weights'" not in card
    better = {"previous, MediaPipe 2D": {"rand-test": EvalResult(**{**result.__dict__, "mpjpe": 60.0})}}
    card = model_card.model_card(after, better, records, tmp_path / "w.safetensors", data, {"a.jpg": (290.0, 240.0)})
    assert "rand-test (+1.2 mm)" in card and "Real photos" not in card  # no photos given: no section


def test_stage2_alone_on_the_stage1_of_a_weights_file(tmp_path, monkeypatch):
    """default_weights --stage1-from: only stage 2 is fitted, initialised from that file; the stage-1 runs'
    records come from the kept records file, and all five are written back; a missing record is refused."""
    from train.release import default_weights
    from train.release import records as release_records

    fitted = []

    def fake_fit(cfg, resume):
        fitted.append(cfg)
        out = Path(cfg.training.out)
        out.mkdir(parents=True)
        (out / "config.json").write_text(json.dumps(cfg.to_dict()))
        (out / "metrics.csv").write_text("epoch,seconds\n1,60.0\n2,90.5\n")
        (out / "results.json").write_text("{}")

    records = tmp_path / "runs.json"
    monkeypatch.setattr(default_weights, "fit", fake_fit)
    monkeypatch.setattr(default_weights, "RUN_RECORDS", records)
    monkeypatch.setattr(release_records, "RUN_RECORDS", records)  # where save/load_run_records read it
    stage1 = [
        default_weights.RunRecord(Path(c).stem, {"training": {"epochs": i + 1}}, 100.0 * i)
        for i, c in enumerate(default_weights.RUNS[:-1])
    ]
    default_weights.save_run_records(stage1)
    trained = default_weights.train_runs(
        tmp_path / "data", tmp_path / "runs", stage1_from=Path("weights/w.safetensors")
    )
    assert [c.training.mode for c in fitted] == ["stage2"] and fitted[0].training.init == "weights/w.safetensors"
    assert trained[:-1] == stage1 and trained[-1].name == "lbi_stage2" and trained[-1].seconds == 150.5
    default_weights.save_run_records(trained)
    assert list(default_weights.load_run_records().values()) == trained
    default_weights.save_run_records(stage1[1:])
    with pytest.raises(SystemExit, match="has no record of lbi_stage1;"):
        default_weights.train_runs(tmp_path / "data", tmp_path / "runs2", stage1_from=Path("w.safetensors"))


def test_cli_reports_broken_checkpoints_and_configs_in_one_line(synth_root, tmp_path, capsys):
    """Truncated, garbage or foreign checkpoints and YAML syntax errors: exit 2, one line naming the file."""
    run = tmp_path / "run"
    args = ["--config", str(CONFIGS / "synth/lbi_stage1.yaml"), "--resume", "--set", *_overrides(synth_root, run)]
    assert train_main(args) == 0
    good = (run / "checkpoint.pt").read_bytes()
    capsys.readouterr()
    cases = {"truncated": good[: len(good) // 2], "garbage": b"\x80\x04not a checkpoint at all", "empty": b""}
    for name, data in cases.items():
        (run / "checkpoint.pt").write_bytes(data)
        assert train_main(args) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {run / 'checkpoint.pt'} is not a readable lbi checkpoint") and "\n" not in err, (
            err
        )
        assert "weights_only=False" not in err
    (run / "checkpoint.pt").write_bytes(good)  # a checkpoint of another architecture (wider model)
    assert train_main([*args, "model.dim=64"]) == 2
    err = capsys.readouterr().err.strip()
    assert "belongs to another model" in err and "\n" not in err
    (tmp_path / "bad.yaml").write_text("training:\n  epochs: 3\n lr: [\n")
    assert train_main(["--config", str(tmp_path / "bad.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"error: {tmp_path / 'bad.yaml'} is not valid YAML" in err and "\n" not in err


def test_training_on_mediapipe_inputs_with_the_noise_model(synth_root, tmp_path):
    """The rand configs' path: MediaPipe detections as the 2D input, a measured noise model, keypoint
    positions; evaluation adds the peer row and where each stage-1 layer's attention looks."""
    import json
    import shutil

    from train.core.noise_2d import main as noise_2d
    from train.data.detect_2d import main as detect_2d

    root = tmp_path / "rand"
    shutil.copytree(synth_root / "rand", root)
    detect_2d(["--data", str(root)])
    noise_2d(["--data", str(root), "--split", "train", "--out", str(tmp_path / "noise.json")])
    overrides = [
        f"data.train={root}:train",
        f"data.eval={{rand-test: {root}:test}}",
        "training.epochs=1",
        "training.batch_size=8",
        f"training.out={tmp_path / 'run'}",
        f"training.noise_model={tmp_path / 'noise.json'}",
        *SMALL_MODEL,
    ]
    results = fit(load_config(str(CONFIGS / "rand/lbi_stage1.yaml"), overrides))
    r = results["rand-test"]
    assert r.samples > 0 and set(r.attention) == {
        "stage 1 · layer 1 (TL)",
        "stage 1 · layer 2 (PGTL)",
        "stage 1 · layer 3 (TL)",
    }
    layer = r.attention["stage 1 · layer 3 (TL)"]
    assert 0 < layer["off_silhouette"] < 1 and 0.5 < layer["off_silhouette_uniform"] < 1
    payload = json.loads((tmp_path / "run" / "results.json").read_text())
    assert "MediaPipe world landmarks (peer)" in payload["results"]
    assert "off silhouette: model / uniform" in (tmp_path / "run" / "results.md").read_text()


def test_part_batches_come_from_one_part_and_cover_each_epoch():
    from train.core.engine import PartBatches

    sizes = [10, 7, 3]
    sampler = PartBatches(sizes, batch_size=4, seed=1)
    batches = list(sampler)
    bounds = np.cumsum([0, *sizes])
    part = [int(np.searchsorted(bounds, b[0], side="right") - 1) for b in batches]
    assert all(bounds[p] <= i < bounds[p + 1] for b, p in zip(batches, part) for i in b)  # one part per batch
    # full batches only, except a part smaller than a batch (its one batch)
    assert sorted(len(b) for b in batches) == [3, 4, 4, 4]
    assert len(sampler) == 4 and len({i for b in batches for i in b}) == 15
    sampler.set_epoch(1)
    assert list(sampler) != batches
    ranks = [list(PartBatches(sizes, 4, seed=1, rank=r, world=2)) for r in (0, 1)]
    assert sorted(map(tuple, ranks[0] + ranks[1])) == sorted(map(tuple, batches))


def test_pose_only_pairs_train_beside_renders_and_real_photos_are_measured(synth_root, tmp_path):
    """data.train mixes renders (with images) and pose-only pairs (image absent) in batches of one kind each;
    pairs are evaluated without attention metrics; data.photos adds the real-photo report."""
    from tests.test_evaluate_photos import photo_folder, random_pose

    photos = photo_folder(tmp_path / "photos", [random_pose(0), random_pose(1)])
    specs = f"[{synth_root}/lab:train, {synth_root}/pairs:train]"
    cfg = load_config(
        str(CONFIGS / "synth/lbi_stage1.yaml"),
        [
            *_overrides(synth_root, tmp_path / "run"),
            f"data.train={specs}",
            "training.flip=0.5",
            f"data.eval={{lab-test: {synth_root}/lab:test, pairs-test: {synth_root}/pairs:test}}",
            f"data.photos=[{photos}, {tmp_path / 'not-there'}]",
        ],
    )
    seen = []
    original = Objective.forward

    def spy(self, batch):
        seen.append(batch.has_image)
        return original(self, batch)

    Objective.forward = spy
    try:
        results = fit(cfg)
    finally:
        Objective.forward = original
    assert True in seen and False in seen  # both kinds of batch, never mixed (collating would have failed)
    assert results["pairs-test"].samples == 16 and results["pairs-test"].background_attention is None
    assert results["lab-test"].background_attention is not None
    assert not (tmp_path / "run" / "realval.md").exists()  # one folder missing: reported, nothing written

    cfg = load_config(
        str(CONFIGS / "synth/lbi_stage1.yaml"),
        [*_overrides(synth_root, tmp_path / "run2"), f"data.train={specs}", f"data.photos=[{photos}]"],
    )
    fit(cfg)
    report = json.loads((tmp_path / "run2" / "realval.json").read_text())
    assert {"run2, ground-truth 2D", "run2, image absent, ground-truth 2D"} <= set(report["means"])


def test_lifting_only_twin_trains_on_pose_only_pairs(synth_root, tmp_path):
    overrides = [o for o in _overrides(synth_root, tmp_path / "twin") if not o.startswith("model.")]
    cfg = load_config(
        str(CONFIGS / "rand/lifting_only_twin.yaml"),
        [
            *overrides,
            "model.hidden=64",
            "training.anneal_epochs=1",
            "data.inputs_2d=gt",
            "training.noise_model=",
            f"data.train=[{synth_root}/rand:train, {synth_root}/pairs:train]",
            f"data.eval={{pairs-test: {synth_root}/pairs:test}}",
            "data.photos=[]",
        ],
    )
    results = fit(cfg)
    assert results["pairs-test"].samples == 16
    # the exported file is the model that was evaluated: the same error on the same pose-only test pairs
    from lbi.io.weights import load_model
    from train.core.evaluate import evaluate
    from train.core.features import model_dataset

    twin = load_model(tmp_path / "twin" / "model.safetensors")
    again = evaluate(twin, model_dataset(twin, synth_root / "pairs", "test", "gt"))
    assert type(twin).__name__ == "MartinezMLP" and again.mpjpe == pytest.approx(results["pairs-test"].mpjpe, abs=1e-3)


def test_configs_inherit_their_base(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "data:\n  inputs_2d: mediapipe\nmodel:\n  dim: 64\ntraining:\n  epochs: 3\n  lr: 2.0e-4\n"
    )
    (tmp_path / "mid.yaml").write_text("base: base.yaml\ntraining:\n  epochs: 5\n")
    (tmp_path / "run.yaml").write_text("base: mid.yaml\nmodel:\n  heads: 4\n")
    cfg = load_config(tmp_path / "run.yaml", ["training.seed=3"])
    assert cfg.data.inputs_2d == "mediapipe" and cfg.model == {"arch": "lbi", "dim": 64, "heads": 4}
    assert (cfg.training.epochs, cfg.training.lr, cfg.training.seed) == (5, 2e-4, 3)
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="loop"):
        load_config(tmp_path / "loop.yaml")
    (tmp_path / "orphan.yaml").write_text("base: nowhere.yaml\n")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "orphan.yaml")


def test_photo_table_puts_real_and_synthetic_numbers_side_by_side(tmp_path, capsys):
    from train.reports.photo_table import main as photo_table

    run = tmp_path / "runA"
    run.mkdir()
    (run / "metrics.csv").write_text("epoch,seconds\n1,60.0\n2,120.0\n")
    results = {"results": {"runA": {"rand-test": {"mpjpe": 101.25, "p_mpjpe": 77.5}}}}
    (run / "results.json").write_text(json.dumps(results))
    means = {
        "runA, MediaPipe 2D": {"n": 38, "mpjpe14": 97.61, "pa14": 80.44},
        "MediaPipe world landmarks": {"n": 38, "mpjpe14": 117.6, "pa14": 72.4},
    }
    (run / "realval.json").write_text(json.dumps({"means": means}))
    assert photo_table([str(run), "--out", str(tmp_path / "table")]) == 0
    table = (tmp_path / "table.md").read_text()
    assert "| runA | 3.0 | 80.4 / 97.6 | 72.4 / 117.6 | 101.2 / 77.5 |" in table
    assert json.loads((tmp_path / "table.json").read_text())["runs"][0]["minutes"] == 3.0
    assert photo_table([str(tmp_path / "nothing")]) == 2 and "not finished" in capsys.readouterr().err


def test_prior_noise_is_structured():
    """The training prior: each bone turned by its own rotation (lengths kept when only the bones turn), the errors
    carried down the limbs, the whole pose turned, every joint jittered; sizes as configured."""
    from lbi.geometry.skeleton import BONES, bone_lengths
    from train.core.prior_noise import PriorNoise

    rng = np.random.default_rng(0)
    pose = torch.from_numpy(rng.normal(0, 0.3, (500, 17, 3))).float()
    pose = pose - pose[:, :1]
    generator = torch.Generator().manual_seed(0)
    torch.testing.assert_close(PriorNoise(0, 0, 0, 0).sample(pose, generator), pose, atol=1e-6, rtol=0)
    turned = PriorNoise(bone_deg=15, length_sd=0, turn_deg=0, jitter_mm=0).sample(pose, generator)
    torch.testing.assert_close(bone_lengths(turned), bone_lengths(pose), atol=1e-5, rtol=1e-5)
    child, parent = np.array(BONES).T
    true_bones, noisy_bones = pose[:, child] - pose[:, parent], turned[:, child] - turned[:, parent]
    cosine = (true_bones * noisy_bones).sum(-1) / (true_bones.norm(dim=-1) * noisy_bones.norm(dim=-1))
    angle = torch.rad2deg(torch.arccos(cosine.clamp(-1, 1)))
    assert 5 < float(angle.mean()) < 20  # rotations of 15 degrees s.d. about random axes
    wrist = 13  # the left wrist moves with the errors of the elbow and shoulder before it
    assert (turned[:, wrist] - pose[:, wrist]).norm(dim=-1).mean() > (turned[:, 11] - pose[:, 11]).norm(dim=-1).mean()
    stretched = PriorNoise(bone_deg=0, length_sd=0.1, turn_deg=0, jitter_mm=0).sample(pose, generator)
    ratio = bone_lengths(stretched) / bone_lengths(pose)
    assert 0.07 < float(ratio.std()) < 0.13 and abs(float(ratio.mean()) - 1) < 0.02


def test_the_training_prior_replaces_a_share_and_every_missing_one():
    from train.core.augment import AugmentPrior
    from train.core.config import TrainingConfig

    target = torch.randn(400, 17, 3) * 0.3
    own = target + 0.05
    own[:100] = float("nan")  # MediaPipe found nobody on these crops
    batch = SimpleNamespace(prior=own, target=target)
    rng = np.random.default_rng(0)
    kept = AugmentPrior(TrainingConfig(prior_noise_share=0.0))(batch, rng)
    assert torch.isfinite(kept).all() and torch.equal(kept[100:], own[100:])  # MediaPipe's where it has one
    replaced = AugmentPrior(TrainingConfig(prior_noise_share=0.5))(batch, rng)
    mine = torch.isclose(replaced[100:], own[100:]).all(dim=-1).all(dim=-1)
    assert 0.4 < float(mine.float().mean()) < 0.6
    assert AugmentPrior(TrainingConfig())(SimpleNamespace(prior=None, target=target), rng) is None


def test_a_model_that_reads_a_prior_trains_from_the_papers_weights(synth_root, tmp_path):
    """model.prior started from weights without one: everything but the prior's embedding is loaded, the run
    starts as that model; stage 1 and then stage 2 (stage 2 continued from the file, init_stage2) train with
    the noisy-truth prior and prior dropout; the model file reads a prior."""
    from lbi.io.weights import load_model, read_header

    paper = tmp_path / "paper"
    fit(load_config(str(CONFIGS / "synth/lbi_stage1.yaml"), _overrides(synth_root, paper)))
    prior = ["model.prior=true", "training.prior_bone_deg=10"]
    stage1 = tmp_path / "fused1"
    config = load_config(
        str(CONFIGS / "synth/lbi_stage1.yaml"),
        _overrides(synth_root, stage1, f"training.init={paper}/model.safetensors", *prior),
    )
    from train.core.engine import build_experiment_model

    started = build_experiment_model(config)
    assert started.prior_embed is not None and all((p == 0).all() for p in started.prior_embed.mlp[-1].parameters())
    fit(config)
    assert read_header(stage1 / "model.safetensors")["config"]["prior"] is True
    stage2 = tmp_path / "fused2"
    fit(
        load_config(
            str(CONFIGS / "synth/lbi_stage2.yaml"),
            _overrides(
                synth_root, stage2, f"training.init={stage1}/model.safetensors", "training.init_stage2=true", *prior
            ),
        )
    )
    model = load_model(stage2 / "model.safetensors")
    assert model.config.prior and model.prior_embed is not None
