"""python -m train.reports.synth_coverage [--size default] [--out train/results/lbi_synth_rand_coverage]

What the domain-randomised LBI-Synth split covers: poses (families and arm gestures), camera
heights, pitches, fields of view and distances, and how often MediaPipe finds the person (when
``--data`` holds the rendered split with its detections). The cameras are recomputed from the
split's seeds (cheap: nothing is rendered), so the table describes exactly the rendered data.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from lbi.data.format import PreparedData
from lbi.data.synth.generate import RAND_SIZES, rand_jobs, rand_person
from lbi.data.synth.randomised import camera_pitch_deg, shoot
from lbi.io.files import atomic_write_text


def coverage(size: str, seed: int = 0) -> dict:
    """Per split: counts of pose families and gestures, and camera statistics."""
    out = {}
    for split in ("train", "test"):
        jobs = [j for j in rand_jobs(seed, RAND_SIZES[size]) if j.split == split]
        families: Counter[str] = Counter()
        gestures: Counter[str] = Counter()
        heights: list[float] = []
        pitches: list[float] = []
        fovs: list[float] = []
        distances: list[float] = []
        for job in jobs:
            rng, person = rand_person(job)
            spec, skeleton, camera = shoot(rng, person)
            families[spec.family] += 1
            gestures[spec.gesture] += 1
            heights.append(camera.position[1])
            pitches.append(camera_pitch_deg(camera))
            fovs.append(np.degrees(2 * np.arctan(camera.size[0] / 2 / camera.K[0, 0])))
            distances.append(float(np.linalg.norm(camera.to_camera(skeleton.joints[:1]))))
        out[split] = {
            "poses": len(jobs),
            "families": dict(families.most_common()),
            "gestures": dict(gestures.most_common()),
            "camera_height_m": _histogram(heights, [0.3, 0.6, 0.9, 1.2, 1.5, 1.9, 2.4, 2.9, 3.3]),
            "pitch_deg": _histogram(pitches, [-40, -10, 0, 10, 20, 30, 45, 60, 90]),
            "fov_deg": _histogram(fovs, [35, 45, 55, 65, 75, 85, 95]),
            "distance_m": _histogram(distances, [1.5, 2.5, 3.5, 5, 7, 10]),
        }
    return out


def _histogram(values: list[float], edges: list[float]) -> dict[str, int]:
    counts, _ = np.histogram(values, bins=edges)
    return {f"{lo:g} to {hi:g}": int(c) for lo, hi, c in zip(edges[:-1], edges[1:], counts)}


def detection_rates(data: Path) -> dict[str, float]:
    """Share of crops per pose family in which MediaPipe found the person."""
    prepared = PreparedData(data)
    if "joints2d_mediapipe" not in prepared.ann:
        return {}
    found = np.isfinite(prepared.ann["joints2d_mediapipe"]).all(axis=(1, 2))
    families = np.array([a.split()[0] for a in prepared.ann["action"]])
    return {f: round(float(found[families == f].mean()), 3) for f in sorted(set(families))}


def markdown(cov: dict, rates: dict) -> str:
    lines = ["### LBI-Synth rand: what it covers", ""]
    for key, title in (
        ("families", "pose family"),
        ("gestures", "arm gesture"),
        ("camera_height_m", "camera height (m)"),
        ("pitch_deg", "camera pitch (degrees down)"),
        ("fov_deg", "horizontal field of view (degrees)"),
        ("distance_m", "camera to pelvis (m)"),
    ):
        lines += [
            f"| {title} | train poses | test poses |"
            + (" MediaPipe found the person |" if key == "families" and rates else ""),
            "|---|---|---|" + ("---|" if key == "families" and rates else ""),
        ]
        for name in cov["train"][key]:
            row = f"| {name} | {cov['train'][key][name]} | {cov['test'][key].get(name, 0)} |"
            if key == "families" and rates:
                row += f" {rates.get(name, float('nan')):.1%} |"
            lines.append(row)
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="default", choices=sorted(RAND_SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="data/lbi-synth/rand", help="the rendered split, for detection rates")
    parser.add_argument("--out", default="train/results/lbi_synth_rand_coverage")
    args = parser.parse_args(argv)
    cov = coverage(args.size, args.seed)
    rates = detection_rates(Path(args.data)) if Path(args.data, "meta.json").is_file() else {}
    atomic_write_text(
        Path(args.out).with_suffix(".json"), json.dumps({"coverage": cov, "mediapipe_found": rates}, indent=1)
    )
    atomic_write_text(Path(args.out).with_suffix(".md"), markdown(cov, rates))
    print(markdown(cov, rates))


if __name__ == "__main__":
    main()
