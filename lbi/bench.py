"""Per-module latency of LiftingByImage, printed as JSON.

    python -m lbi.bench --encoders hrnet_w32 blazepose_s4 --batches 1 32

For each encoder and batch size: median milliseconds of the encoder, stage 1 (embeddings +
TL/PGTL/TL + coarse head, from encoder features), stage 2 (selection + 3 TLs + refine head, from
cached stage-1 results) and the whole forward pass. Weights are random: latency does not depend
on them. On CUDA, bf16 autocast is used.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext

import torch

from .encoders import ENCODERS
from .model import LiftingByImage, LiftingConfig


def _median_ms(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000.0)
    return round(statistics.median(times), 2)


def bench_model(encoder: str, batch: int, device: torch.device, repeats: int, retention: float = 0.3,
                size: tuple[int, int] = (256, 192)) -> dict:
    model = LiftingByImage(LiftingConfig(encoder=encoder, retention=retention)).to(device).eval()
    images = torch.rand(batch, 3, *size, device=device)
    joints2d = torch.rand(batch, 17, 2, device=device) * 2 - 1
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    with torch.inference_mode(), autocast:
        features = model.encoder(images)
        s1 = model.stage1(joints2d, features=features)
        result = {
            "encoder": encoder,
            "batch": batch,
            "tokens": features.shape[-2] * features.shape[-1],
            "kept_tokens": model(None, joints2d, features=features).kept_indices.shape[1],
            "encoder_ms": _median_ms(lambda: model.encoder(images), repeats, device),
            "stage1_ms": _median_ms(lambda: model.stage1(joints2d, features=features), repeats, device),
            "stage2_ms": _median_ms(lambda: model.stage2(s1), repeats, device),
            "total_ms": _median_ms(lambda: model(images, joints2d), repeats, device),
        }
    result["encoder_params_m"] = round(sum(p.numel() for p in model.encoder.parameters()) / 1e6, 2)
    result["lifter_params_m"] = round(sum(p.numel() for p in model.parameters()) / 1e6 - result["encoder_params_m"], 2)
    result["per_sample_ms"] = round(result["total_ms"] / batch, 2)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", nargs="+", default=["hrnet_w32", "blazepose_s4"], choices=ENCODERS)
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    runs = [bench_model(enc, b, device, args.repeats) for enc in args.encoders for b in args.batches]
    info = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
            "threads": torch.get_num_threads(), "torch": torch.__version__, "input": "256x192"}
    print(json.dumps({"system": info, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
