"""The training loop: progressive stages, checkpoints with resume, logging, DDP, bf16 autocast.

    fit(cfg, resume=True)   # = build the model and data -> resume -> train_one_epoch ... -> export

Every step below is a function of its own: ``build_experiment_model``, ``build_datasets``,
``load_checkpoint`` (resume), ``train_one_epoch``, ``RunLog`` (metrics.csv, TensorBoard, checkpoints) and ``export``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import pickle
import time
import zipfile
from contextlib import nullcontext
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import ConcatDataset, DataLoader, DistributedSampler, Sampler, Subset
from tqdm import tqdm

from lbi.crop.codec import InputCodec
from lbi.data.dataset import Batch, PoseDataset
from lbi.data.format import PreparedData
from lbi.geometry.skeleton import bone_lengths
from lbi.io.files import atomic_path, atomic_write_text
from lbi.io.weights import load_weights, read_header, save_model
from lbi.model import Lifter, LiftingByImage, build_model

from .augment import Augment2D, AugmentPrior, mirror_batch
from .config import LOSSES, ConfigError, ExperimentConfig, TrainingConfig, TrainingMode, split_spec
from .evaluate import EvalResult, evaluate, with_peer, write_results
from .evaluate_photos import measure
from .features import model_dataset

CHECKPOINT = "checkpoint.pt"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed from: unreadable, truncated, or of another model."""


def pose_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """``mse``, Eq. 3: squared joint distances summed over joints, averaged over the batch;
    ``mpjpe``: the distances themselves, averaged over joints and batch."""
    squared = ((pred.float() - target) ** 2).sum(dim=-1)  # (B, N)
    if kind == "mse":
        return squared.sum(dim=-1).mean()
    if kind == "mpjpe":
        return (squared + 1e-8).sqrt().mean()  # the epsilon keeps the gradient finite at zero distance
    raise ValueError(f"unknown pose loss {kind!r}; use one of {LOSSES}")


def bone_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The bones' length errors, |predicted - true| over ``BONES``, averaged over bones and batch:
    a pose loss alone lets uncertain limbs shrink towards their mean position (short forearms)."""
    return (bone_lengths(pred.float()) - bone_lengths(target)).abs().mean()


class Objective(nn.Module):
    """Model + the loss of a training mode, so that DDP wraps one forward that returns a loss:
    the pose loss plus ``bone_weight`` times :func:`bone_loss`."""

    def __init__(self, model: nn.Module, mode: TrainingMode, loss: str = "mse", bone_weight: float = 0.0) -> None:
        super().__init__()
        self.model, self.mode, self.loss, self.bone_weight = model, TrainingMode(mode), loss, bone_weight

    def criterion(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = pose_loss(pred, target, self.loss)
        return loss + self.bone_weight * bone_loss(pred, target) if self.bone_weight else loss

    def forward(self, batch: Batch) -> torch.Tensor:
        if self.mode.coarse_only:  # stage 2 is not run at all
            s1 = cast(LiftingByImage, self.model).stage1(  # only lbi has stages
                batch.joints2d, batch.image, batch.features, batch.prior
            )
            return self.criterion(s1.coarse, batch.target)
        out = self.model(batch.image, batch.joints2d, features=batch.features, prior=batch.prior)
        losses = [self.criterion(getattr(out, output), batch.target) for output in self.mode.losses]
        return sum(losses[1:], losses[0])  # started at a tensor, not at 0


# ------------------------------------------------------------------------------------ set-up
def _distributed() -> tuple[int, int]:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _device(rank: int) -> torch.device:
    if torch.cuda.is_available():
        index = int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count()
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return torch.device("cpu")


def build_experiment_model(cfg: ExperimentConfig) -> Lifter:
    """The model of a config, prepared for its training mode (init weights, freezing, detaching)."""
    model_cfg = dict(cfg.model)
    arch = model_cfg.pop("arch", "lbi")
    mode = cfg.training.mode
    if arch == "lbi" and mode.end_to_end:
        model_cfg["detach_stage1"] = False
    try:
        model = build_model(arch, model_cfg)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"model section: {err}") from None
    if cfg.training.init:
        load_weights(model, cfg.training.init, prefixes=init_parts(model, cfg.training))
    if mode is TrainingMode.STAGE2:
        cast(LiftingByImage, model).freeze_stage1()  # a stage-2 run trains lbi (only it has stages)
    elif cfg.training.freeze_encoder and hasattr(model, "encoder"):
        model.encoder.requires_grad_(False)
    if mode.coarse_only and isinstance(model, LiftingByImage):  # the lifter with a stage 2
        for module in model.stage2_modules():  # unused in stage 1: keep them out of the optimiser
            module.requires_grad_(False)
    return model


def init_parts(model: nn.Module, training: TrainingConfig) -> tuple[str, ...]:
    """The parts of ``model`` that ``training.init`` gives (empty: all of them). Stage 2 takes only stage 1 from the
    file (its stage 2 is untrained), unless ``init_stage2``; a model that reads a 3D prior, started from weights
    that do not, keeps the prior's embedding at its zero start (so it begins as the model it was started from)."""
    parts: tuple[str, ...] = ()
    if training.mode is TrainingMode.STAGE2 and not training.init_stage2:
        parts = cast(LiftingByImage, model).STAGE1_PARTS  # a stage-2 run trains lbi (only it has stages)
    if getattr(model.config, "prior", False):
        assert training.init is not None  # asked only for a run that starts from weights
        if not read_header(training.init)["config"].get("prior"):
            parts = tuple(name for name in parts or dict(model.named_children()) if name != "prior_embed")
    return parts


class LimitedPart(Subset):
    """The first ``limit`` samples of a training split (``data.train_limit``); says whether it has images."""

    def __init__(self, dataset: PoseDataset, limit: int) -> None:
        super().__init__(dataset, range(min(limit, len(dataset))))
        self.has_image = dataset.has_image


def build_datasets(
    cfg: ExperimentConfig, model: nn.Module, rank: int
) -> tuple[PoseDataset | LimitedPart | ConcatDataset, dict[str, PoseDataset]]:
    """The training split(s) and the evaluation splits as ``model`` reads them. A frozen encoder reads
    cached features (rank 0 builds the cache, the others wait for it); a trained one the crops; pose-only
    data (``meta.images`` false) the ground-truth 2D alone, with the image absent.
    With a noise model, training keeps the samples whose detector found nobody (their 2D input is
    always the noisy ground truth); evaluation leaves them out."""
    frozen = isinstance(model, LiftingByImage) and not any(p.requires_grad for p in model.encoder.parameters())
    cache = "build" if cfg.data.cache_features and frozen else "off"
    loaded: dict[str, PreparedData] = {}

    def make(spec: str, evaluation: bool) -> PoseDataset:
        missing = "ground_truth" if cfg.training.noise_model and not evaluation else "drop"
        mirrored = cfg.training.flip > 0 and not evaluation
        root, split = split_spec(spec)
        data = loaded.setdefault(root, PreparedData(root))
        inputs_2d = cfg.data.inputs_2d if data.meta.images else "gt"  # pose-only pairs: no detector ran on them
        if cache == "build" and dist.is_initialized():
            if rank == 0:
                model_dataset(model, data, split, inputs_2d, cache="build", mirrored=mirrored)
            dist.barrier()
        return model_dataset(
            model, data, split, inputs_2d, cache=cache, silhouettes=evaluation, missing=missing, mirrored=mirrored
        )

    specs = [cfg.data.train] if isinstance(cfg.data.train, str) else list(cfg.data.train)
    datasets = [make(spec, False) for spec in specs]
    parts: list[PoseDataset | LimitedPart] = list(datasets)
    if cfg.data.train_limit:
        parts = [LimitedPart(p, cfg.data.train_limit) for p in datasets]
    train_set: PoseDataset | LimitedPart | ConcatDataset = parts[0] if len(parts) == 1 else ConcatDataset(parts)
    return train_set, {name: make(spec, True) for name, spec in cfg.data.eval.items()}


def _autocast(precision: str, device: torch.device):
    """bf16 autocast for the training step: "auto" uses it on CUDA only; "bf16" also on CPU
    (several times faster on a CPU with AVX512-BF16; docs/training.md); evaluation stays fp32."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def build_optimizer(training: TrainingConfig, model: nn.Module):
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ConfigError("nothing to train: every parameter is frozen")
    optimizer = torch.optim.Adam(trainable, lr=training.lr, weight_decay=training.weight_decay)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, partial(lr_factor, training))


def lr_factor(training: TrainingConfig, epoch: int) -> float:
    """The learning rate of (0-based) ``epoch`` over ``training.lr``: x ``lr_decay`` every ``lr_decay_every``
    epochs, then a cosine over the last ``anneal_epochs`` from there down to ``anneal_to`` times that."""
    anneal_start = training.epochs - training.anneal_epochs
    step = training.lr_decay ** (min(epoch, anneal_start) // training.lr_decay_every)
    if epoch < anneal_start:
        return step
    progress = (epoch - anneal_start) / max(training.anneal_epochs - 1, 1)
    return step * (training.anneal_to + (1 - training.anneal_to) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


class PartBatches(Sampler[list[int]]):
    """Batches of a ConcatDataset that each come from one of its parts (a pose-only part has no image
    to stack with the others'), reshuffled every epoch (``set_epoch``); with ``world`` processes, each
    rank takes every world-th batch. A part's last, incomplete batch is dropped (unless it is its only one)."""

    def __init__(self, sizes: list[int], batch_size: int, seed: int = 0, rank: int = 0, world: int = 1) -> None:
        self.sizes, self.batch_size, self.seed, self.rank, self.world = list(sizes), batch_size, seed, rank, world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        batches, offset = [], 0
        for n in self.sizes:
            order = offset + rng.permutation(n)
            end = n if n < self.batch_size else n - n % self.batch_size
            batches += [order[i : i + self.batch_size].tolist() for i in range(0, end, self.batch_size)]
            offset += n
        return [batches[i] for i in rng.permutation(len(batches))][self.rank :: self.world]

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())


# ------------------------------------------------------------------------------ checkpoints
def build_loader(
    cfg: ExperimentConfig, train_set: PoseDataset | LimitedPart | ConcatDataset, rank: int, world: int
) -> tuple[DataLoader, PartBatches | DistributedSampler]:
    """The training batches of this rank and their sampler (``set_epoch`` reshuffles): batches of one part each
    when the parts differ in whether they carry images (:class:`PartBatches`), else shuffled across parts."""
    training = cfg.training
    if isinstance(train_set, ConcatDataset):
        parts = cast("list[PoseDataset | LimitedPart]", train_set.datasets)  # as build_datasets joins them
        if len({part.has_image for part in parts}) > 1:
            sizes = [len(part) for part in parts]
            batches = PartBatches(sizes, training.batch_size // world, training.seed, rank, world)
            return DataLoader(
                train_set, batch_sampler=batches, num_workers=cfg.data.workers, collate_fn=Batch.collate
            ), batches
    sampler: DistributedSampler[int] = DistributedSampler(
        train_set, num_replicas=world, rank=rank, shuffle=True, seed=training.seed
    )
    loader = DataLoader(
        train_set,
        batch_size=training.batch_size // world,
        sampler=sampler,
        collate_fn=Batch.collate,
        num_workers=cfg.data.workers,
        drop_last=len(train_set) >= training.batch_size,
    )
    return loader, sampler


def save_checkpoint(path: Path, model: nn.Module, optimizer, scheduler, epoch: int, history: list[dict]) -> None:
    """Everything needed to resume; tensors and plain values only, so weights_only loading works."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": epoch,
        "history": json.dumps(history),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, model: nn.Module, optimizer, scheduler) -> tuple[int, list[dict]]:
    """Loads a checkpoint (never unpickling code) -> (first epoch to run, history so far)."""
    hint = f"delete {path} to start this run over"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        start, history = state["epoch"] + 1, json.loads(state["history"])
    except (
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        EOFError,
        RuntimeError,
        OSError,
        KeyError,
        TypeError,
        ValueError,
    ) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{path} is not a readable lbi checkpoint ({reason[:200]}); {hint}") from None
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        # the schedule is a function of the epoch; checkpoints written with a StepLR carry its extra fields
        schedule = {k: v for k, v in state["scheduler"].items() if k not in ("step_size", "gamma")}
        scheduler.load_state_dict({"lr_lambdas": [None] * len(scheduler.lr_lambdas), **schedule})
    except (RuntimeError, ValueError, KeyError) as err:
        reason = " ".join(str(err).split())[:300]
        raise CheckpointError(
            f"{path} belongs to another model or optimiser than this config ({reason}); {hint} "
            "or point training.out elsewhere"
        ) from None
    return start, history


# ----------------------------------------------------------------------------------- epochs
def train_one_epoch(
    objective: nn.Module,
    loader: DataLoader,
    optimizer,
    autocast,
    augment: Augment2D,
    rng: np.random.Generator,
    show_progress: bool,
    desc: str,
    flip: float = 0.0,
    augment_prior: AugmentPrior | None = None,
) -> tuple[float, int]:
    """One pass over ``loader`` with the 2D input augmented by ``augment`` (and the 3D prior by ``augment_prior``)
    and a ``flip`` share of each batch mirrored (encoded by ``augment.codec``). Returns the mean training loss and
    the number of samples seen."""
    objective.train()
    device = next(objective.parameters()).device
    total, count = 0.0, 0
    for batch in tqdm(loader, desc=desc, unit="batch", disable=not show_progress, leave=False):
        batch = batch.to(device)
        batch = replace(batch, joints2d=augment(batch, rng))
        if augment_prior is not None:
            batch = replace(batch, prior=augment_prior(batch, rng))
        if flip > 0:
            which = torch.from_numpy(rng.random(len(batch)) < flip).to(device)
            batch = mirror_batch(batch, which, augment.codec)
        with autocast:
            loss = objective(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
        count += len(batch)
    return total / max(count, 1), count


def metrics_row(results: dict[str, EvalResult]) -> dict[str, float]:
    row = {}
    for name, r in results.items():
        row.update({f"{name}/mpjpe": r.mpjpe, f"{name}/pck": r.pck})
        if r.background_attention is not None:
            row[f"{name}/bg_attention"] = r.background_attention
    return row


class RunLog:
    """A run's records on rank 0: config.json, metrics.csv, TensorBoard scalars and the console."""

    def __init__(self, out: Path, cfg: ExperimentConfig) -> None:
        from torch.utils.tensorboard import SummaryWriter

        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.json", json.dumps(cfg.to_dict(), indent=2))
        self.out = out
        self.tensorboard = SummaryWriter(str(out / "tb"))

    def epoch(self, row: dict, history: list[dict]) -> None:
        keys = sorted({k for r in history for k in r}, key=lambda k: (k != "epoch", k))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
        atomic_write_text(self.out / "metrics.csv", buf.getvalue())
        for key, value in row.items():
            if key != "epoch":
                self.tensorboard.add_scalar(key, value, row["epoch"])
        tqdm.write(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))

    def close(self) -> None:
        self.tensorboard.close()


def export(
    model: Lifter,
    cfg: ExperimentConfig,
    results: dict[str, EvalResult],
    eval_sets: dict[str, PoseDataset],
    info: dict,
) -> None:
    """The trained model file and the results table of a finished run (with the peer row)."""
    out = Path(cfg.training.out)
    save_model(model, out / "model.safetensors", extra={"training": asdict(cfg.training)})
    write_results(
        with_peer({out.name: results}, eval_sets),
        out / "results",
        title=out.name,
        info={"config": cfg.to_dict(), **info},
    )
    if cfg.data.photos:  # real annotated photos, next to the synthetic results (a stage-1 run: its coarse pose)
        report = measure(cfg.data.photos, {out.name: model}, out / "realval", coarse=cfg.training.mode.coarse_only)
        if report is not None:
            tqdm.write(report.markdown())


def epoch_seconds(run: Path) -> float:
    """Training time of a run: the sum of its epochs' seconds in metrics.csv (resumes included,
    evaluation excluded)."""
    with open(run / "metrics.csv", newline="") as handle:
        return round(sum(float(row["seconds"]) for row in csv.DictReader(handle)), 1)


# -------------------------------------------------------------------------------------- fit
def fit(cfg: ExperimentConfig, resume: bool = False) -> dict[str, EvalResult]:
    """Trains per ``cfg`` and evaluates on ``cfg.data.eval``; returns the final results (rank 0).
    ``resume`` continues from ``<training.out>/checkpoint.pt`` when there is one."""
    wall_start = time.perf_counter()
    rank, world = _distributed()
    device = _device(rank)
    training, out = cfg.training, Path(cfg.training.out)
    torch.manual_seed(training.seed)
    model = build_experiment_model(cfg).to(device)
    train_set, eval_sets = build_datasets(cfg, model, rank)
    optimizer, scheduler = build_optimizer(training, model)
    objective = Objective(model, training.mode, training.loss, training.bone_weight)
    wrapped = DistributedDataParallel(objective) if world > 1 else objective
    loader, sampler = build_loader(cfg, train_set, rank, world)

    start_epoch = 0
    history: list[dict] = []
    if resume and (out / CHECKPOINT).is_file():
        start_epoch, history = load_checkpoint(out / CHECKPOINT, model, optimizer, scheduler)
        if rank == 0:
            print(f"resuming {out} after epoch {start_epoch}")
    elif resume and rank == 0:
        print(f"no checkpoint in {out}: starting from scratch")
    log = RunLog(out, cfg) if rank == 0 else None

    def evaluate_all() -> dict[str, EvalResult]:
        return {
            name: evaluate(
                model, ds, device=device, limit=training.eval_limit, coarse_only=training.mode.coarse_only
            )  # stage 2 is untrained then
            for name, ds in eval_sets.items()
        }

    autocast = _autocast(training.precision, device)
    augment = Augment2D(training, InputCodec.for_model(model))
    augment_prior = AugmentPrior(training) if getattr(model.config, "prior", False) else None
    results: dict[str, EvalResult] = {}
    for epoch in range(start_epoch, training.epochs):
        torch.manual_seed(training.seed * 1000 + epoch)  # per-epoch seeds: a resumed run repeats exactly
        rng = np.random.default_rng([training.seed, epoch, rank])
        sampler.set_epoch(epoch)
        start = time.perf_counter()
        loss, count = train_one_epoch(
            wrapped,
            loader,
            optimizer,
            autocast,
            augment,
            rng,
            rank == 0,
            f"epoch {epoch + 1}/{training.epochs}",
            training.flip,
            augment_prior,
        )
        scheduler.step()
        seconds = time.perf_counter() - start
        row = {
            "epoch": epoch + 1,
            "train_loss": loss,
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": round(seconds, 1),
            "samples_per_s": round(count * world / seconds, 1),
        }
        last = epoch + 1 == training.epochs
        if rank == 0 and (last or (training.eval_every and (epoch + 1) % training.eval_every == 0)):
            results = evaluate_all()
            row.update(metrics_row(results))
        if rank == 0:
            assert log is not None  # rank 0 keeps the log
            history.append(row)
            log.epoch(row, history)
            save_checkpoint(out / CHECKPOINT, model, optimizer, scheduler, epoch, history)
    if rank == 0:
        results = results or evaluate_all()
        export(
            model,
            cfg,
            results,
            eval_sets,
            {"wall_seconds": round(time.perf_counter() - wall_start, 1), "world_size": world, "device": str(device)},
        )
        assert log is not None
        log.close()
    if dist.is_initialized():
        dist.barrier()
    return results
