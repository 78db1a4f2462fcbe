"""python -m train.release.default_weights [--data data/lbi-synth] [--runs runs/rand] [--out weights] [--workers 2]

Retrains the bundled default weights in one command, every step resumable and skipped when its
output exists (each output records its own cost: render and detection seconds in the data's
meta.json, feature caching in features/<cache>.json, training in each run's metrics.csv):

1. LBI-Synth: the lab and wild test splits (for comparison with earlier weights), the
   domain-randomised split (train + test) and upper (its crops cut below the shoulders, as
   portraits and webcams at a desk are), ``train.data.make_synth``;
2. MediaPipe Pose on every crop, ``train.data.detect_2d``: the 2D input the model trains and is tested on,
   and MediaPipe's own 3D estimate (the peer row);
3. MediaPipe's 2D errors on the training crops as a noise model, ``train.core.noise_2d``;
4. LBI stage 1 (rand), stage 1 continued with an annealed learning rate (rand + upper), once more with
   flip augmentation (rand + upper, half of each batch mirrored), once more with the joint distances as
   the loss (``training.loss: mpjpe``) and stage 2 (rand + upper, flips, the same loss;
   ``train/configs/rand/``), then ``<out>/lbi_synth.safetensors`` (the BlazePose
   trunk is left out: it is re-read from the mediapipe wheel);
5. the exported weights evaluated with ground-truth and MediaPipe 2D on rand-test, upper-test,
   wild-test and lab-test, with the flip test (as the app runs them) and, for MediaPipe 2D, without
   (peer rows, where the attention looks) into ``train/results/bundled.{md,json}``, and
   ``<out>/MODEL_CARD.md`` with these numbers next to the previous weights'
   (``train/results/bundled_before.json``: ``--before FILE`` re-evaluates a weights file for it).

6. the lifting-only twin (``lifting_only_bundled_twin.yaml``: the chain's data, no image) into
   ``<out>/lifting_only.safetensors``, and both on the real annotated photos of ``--photos``
   (``train.core.evaluate_photos``; skipped where they are not) into ``train/results/realval_bundled.{md,json}``
   and the card.

Each run's config and training time is also kept in ``train/results/bundled_runs.json``, so the card can be
written on a machine without the runs. ``--stage1-from WEIGHTS`` retrains stage 2 only, on the frozen stage 1
of WEIGHTS (the bundled weights hold the last stage-1 run's stage 1), and takes the stage-1 runs' records from
that file. ``--card-only`` trains nothing but the twin (when missing) and rewrites the card from those records.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from lbi.data.format import PreparedData
from lbi.io.files import atomic_write_text
from lbi.io.weights import load_model, save_model, tensors_sha256

from .. import CONFIGS as CONFIG_ROOT
from .. import RESULTS
from ..core.config import load_config
from ..core.engine import fit
from ..core.evaluate import EvalResult, evaluate, with_peer, write_results
from ..core.evaluate_photos import measure
from ..core.features import model_dataset
from .records import NOISE_MODEL, RUN_RECORDS, RunRecord, load_run_records, run_config, save_run_records

CONFIGS = CONFIG_ROOT / "rand"
ASSETS = RESULTS.parents[1] / "assets"
PORTRAITS = ("astronaut.jpg", "grace_hopper.jpg")
SPLITS = {"rand-test": "rand:test", "upper-test": "upper:test", "wild-test": "wild:test", "lab-test": "lab:test"}


def prepare_data(data: Path, workers: int) -> None:
    """Steps 1-3: renders (and the pose-only pairs), detections and the noise model, each only when missing."""
    from ..core import noise_2d
    from ..data import detect_2d, make_synth

    if not (data / "rand" / "meta.json").is_file():
        make_synth.main(["--out", str(data), "--domains", "rand", "--workers", str(workers), "--resume"])
    if not (data / "upper" / "meta.json").is_file():
        make_synth.main(["--out", str(data), "--domains", "upper"])
    if not (data / "pairs" / "meta.json").is_file():
        make_synth.main(["--out", str(data), "--domains", "pairs", "--workers", str(workers), "--resume"])
    missing = [p for p, d in (("lab_test", "lab"), ("wild_test", "wild")) if not (data / d / "meta.json").is_file()]
    if missing:
        make_synth.main(
            ["--out", str(data), "--domains", "lab", "wild", "--parts", *missing, "--workers", str(workers)]
        )
    for domain in ("rand", "upper", "lab", "wild"):
        if detect_2d.KIND not in PreparedData(data / domain).meta.inputs_2d:
            detect_2d.main(["--data", str(data / domain), "--workers", str(workers)])
    if not NOISE_MODEL.is_file():
        noise_2d.main(["--data", str(data / "rand"), "--split", "train", "--out", str(NOISE_MODEL)])


#: the runs behind the bundled weights, in order (the last one is stage 2); each config names its training data,
#: the run it starts from and its output under DATA and RUNS, which --data and --runs move elsewhere
RUNS = ("lbi_stage1.yaml", "lbi_stage1_anneal.yaml", "lbi_stage1_flip.yaml", "lbi_stage1_mpjpe.yaml", "lbi_stage2.yaml")
#: the lifting-only twin of the chain: the same data, no image (bundled as weights/lifting_only.safetensors)
TWIN = "lifting_only_bundled_twin.yaml"
DATA, RUNS_DIR = "data/lbi-synth", "runs/rand"
#: real annotated photos the weights are measured on (python -m train.core.evaluate_photos; skipped when absent)
PHOTOS = "../shared/realval/h36m_s9"


def relocated(path: str, data: Path, runs: Path) -> str:
    """A path from a chain config with its data folder and runs folder replaced by ``data`` and ``runs``."""
    for default, new in ((DATA, data), (RUNS_DIR, runs)):
        if path == default or path.startswith(default + "/"):
            return str(new) + path[len(default) :]
    return path


def train_runs(data: Path, runs: Path, stage1_from: Path | None = None) -> list[RunRecord]:
    """Step 4: the RUNS in order (the last one is stage 2), each resuming where it stopped. With
    ``stage1_from``, stage 2 alone, on that file's stage 1; the stage-1 runs' records are the kept ones."""
    splits = "{" + ", ".join(f"{name}: {data}/{spec}" for name, spec in SPLITS.items()) + "}"
    common = [f"data.eval={splits}", f"training.noise_model={NOISE_MODEL}"]
    kept, records = load_run_records(), []
    for config in RUNS:
        run, stage2 = runs / Path(config).stem, config == RUNS[-1]
        if stage1_from and not stage2:
            if run.name not in kept:
                raise SystemExit(f"error: {RUN_RECORDS} has no record of {run.name}; train the whole chain instead")
            records.append(kept[run.name])
            continue
        cfg = load_config(CONFIGS / config, [*common, f"training.out={run}"])
        train = [cfg.data.train] if isinstance(cfg.data.train, str) else cfg.data.train
        cfg.data.train = [relocated(spec, data, runs) for spec in train]
        if cfg.training.init:
            cfg.training.init = str(stage1_from) if stage1_from else relocated(cfg.training.init, data, runs)
        if not (run / "results.json").is_file() or run_config(run)["training"]["epochs"] != cfg.training.epochs:
            fit(cfg, resume=True)  # a config with more epochs than the run has continues its checkpoint
        records.append(RunRecord.of(run))
    return records


def train_twin(data: Path, runs: Path) -> Path:
    """The lifting-only twin (TWIN) on the chain's data, resuming where it stopped; returns its model file."""
    cfg = load_config(
        CONFIGS / TWIN,
        [f"training.out={runs / Path(TWIN).stem}", f"training.noise_model={NOISE_MODEL}", "data.photos=[]"],
    )
    train = [cfg.data.train] if isinstance(cfg.data.train, str) else cfg.data.train
    cfg.data.train = [relocated(spec, data, runs) for spec in train]
    cfg.data.eval = {name: relocated(spec, data, runs) for name, spec in cfg.data.eval.items()}
    run = Path(cfg.training.out)
    if not (run / "results.json").is_file():
        fit(cfg, resume=True)
    return run / "model.safetensors"


def evaluate_weights(weights: Path, data: Path, name: str) -> dict[str, dict[str, EvalResult]]:
    """A weights file on every test split with ground-truth and with MediaPipe 2D, with the flip test
    (as the app runs it), with MediaPipe 2D also without it (``--no-flip-test``, live mode), plus the peer rows
    (MediaPipe's own 3D on the crops where it found the person)."""
    model = load_model(weights)
    table: dict[str, dict[str, EvalResult]] = {}
    for inputs, flip in (("gt", True), ("mediapipe", True), ("mediapipe", False)):
        results, datasets = {}, {}
        for split, spec in SPLITS.items():
            root, part = spec.split(":")
            datasets[split] = model_dataset(
                model, data / root, part, inputs, cache="build", silhouettes=True, mirrored=flip
            )
            results[split] = evaluate(model, datasets[split], flip=flip)
        label = f"{name}, {'ground-truth' if inputs == 'gt' else 'MediaPipe'} 2D" + ("" if flip else ", no flip test")
        table.update(with_peer({label: results}, datasets) if inputs == "mediapipe" and flip else {label: results})
    return table


def _table(payload: dict) -> dict[str, dict[str, EvalResult]]:
    """The results of a :func:`write_results` JSON, already read."""
    return {run: {split: EvalResult(**r) for split, r in splits.items()} for run, splits in payload["results"].items()}


def portrait_arms(weights: Path) -> dict[str, tuple[float, float]]:
    """Upper-arm and forearm length (mm, mean of left and right, refined pose) on the example portraits,
    where MediaPipe cannot see the hands: the failure the upper split is there to fix."""
    from lbi.geometry.skeleton import BONES, H36M_JOINTS, bone_lengths
    from lbi.io.images import read_image
    from lbi.pipeline.estimator import Estimator

    estimator, arms = Estimator(weights, device="cpu"), {}
    for name in PORTRAITS:
        lengths = bone_lengths(estimator.predict(read_image(ASSETS / name)).pose.joints3d_mm)
        bone = {H36M_JOINTS[child]: length for (child, _), length in zip(BONES, lengths)}  # named by the child joint
        arms[name] = ((bone["left_elbow"] + bone["right_elbow"]) / 2, (bone["left_wrist"] + bone["right_wrist"]) / 2)
    return arms


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/lbi-synth")
    parser.add_argument("--runs", default="runs/rand")
    parser.add_argument("--out", default="weights")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--before", default=None, help="re-evaluate this weights file as the previous weights")
    parser.add_argument(
        "--stage1-from",
        default=None,
        type=Path,
        help="retrain stage 2 only, on this weights file's frozen stage 1 (e.g. the bundled weights)",
    )
    parser.add_argument(
        "--photos",
        nargs="*",
        default=[PHOTOS],
        help="folders of real annotated photos to measure on (train.core.evaluate_photos; skipped when absent)",
    )
    parser.add_argument(
        "--card-only",
        action="store_true",
        help="train and render nothing: measure the bundled weights and their twin on the photos and rewrite the card "
        "from the committed records (bundled_runs.json, bundled.json; the data only when the weights' tensors differ "
        "from those bundled.json was measured on, or the twin is missing)",
    )
    args = parser.parse_args(argv)
    data, runs = Path(args.data), Path(args.runs)
    if not args.card_only or args.before:
        prepare_data(data, args.workers)
    if args.card_only:
        kept = load_run_records()
        trained = [kept[Path(config).stem] for config in RUNS]
    else:
        trained = train_runs(data, runs, args.stage1_from)
        save_run_records(trained)
    if args.before:
        command = " ".join(["python -m train.release.default_weights", *sys.argv[1:]])
        write_results(
            evaluate_weights(Path(args.before), data, "previous"),
            RESULTS / "bundled_before",
            title="Previous bundled weights",
            info={"weights": args.before, "command": command, "description": f"`{args.before}`, re-evaluated:"},
        )
        measure(args.photos, {"lbi": load_model(args.before)}, RESULTS / "realval_previous", weights=args.before)
    twin = Path(args.out) / "lifting_only.safetensors"
    if not args.card_only or not twin.is_file():
        twin = save_model(
            load_model(train_twin(data, runs)),
            twin,
            extra={"twin_of": "lbi_synth.safetensors", "config": f"train/configs/rand/{TWIN}"},
        )
    weights = Path(args.out) / "lbi_synth.safetensors"
    if not args.card_only:
        save_model(
            load_model(runs / trained[-1].name / "model.safetensors"),
            weights,
            extra={"trained_on": "LBI-Synth rand:train + upper:train", "configs": "train/configs/rand"},
        )
    digest, tensors = hashlib.sha256(weights.read_bytes()).hexdigest(), tensors_sha256(weights)
    after_path = RESULTS / "bundled.json"
    evaluated = json.loads(after_path.read_text()) if after_path.is_file() else None
    if evaluated and (evaluated["info"].get("sha256") == digest or evaluated["info"].get("tensors_sha256") == tensors):
        after = _table(evaluated)  # these very weights (their tensors) were evaluated already
    else:
        after = evaluate_weights(weights, data, "bundled")
        info = {"weights": str(weights), "sha256": digest, "tensors_sha256": tensors}
        write_results(after, RESULTS / "bundled", title="Bundled weights", info=info)
    before_path = RESULTS / "bundled_before.json"
    previous = json.loads(before_path.read_text()) if before_path.is_file() else None
    before, description = (_table(previous), previous["info"].get("description")) if previous else (None, None)
    photos = measure(
        args.photos,
        {"lbi": load_model(weights), "twin": load_model(twin)},
        RESULTS / "realval_bundled",
        weights=str(weights),
        twin=str(twin),
    )
    photos_before = RESULTS / "realval_previous.json"
    from .model_card import FUSION_REPORT, model_card

    atomic_write_text(
        Path(args.out) / "MODEL_CARD.md",
        model_card(
            after,
            before,
            trained,
            weights,
            data,
            portrait_arms(weights),
            description,
            json.loads(photos.to_json()) if photos else None,
            json.loads(photos_before.read_text()) if photos_before.is_file() else None,
            json.loads(FUSION_REPORT.read_text()) if FUSION_REPORT.is_file() else None,
        ),
    )
    print(f"wrote {weights}, {Path(args.out) / 'MODEL_CARD.md'} and {RESULTS / 'bundled.md'}")


if __name__ == "__main__":
    main()
