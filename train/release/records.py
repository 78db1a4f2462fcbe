"""What the model card says of the bundled weights' training, kept in git so that the card can be written on a
machine without the runs: each run's name, config and training time, and where the shared records live."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from lbi.io.files import atomic_write_text

from .. import RESULTS
from ..core.engine import epoch_seconds

#: the measured 2D noise model of MediaPipe on the training crops (python -m train.core.noise_2d)
NOISE_MODEL = RESULTS / "mediapipe_noise_2d.json"
#: the chain's run records
RUN_RECORDS = RESULTS / "bundled_runs.json"


def run_config(run: Path) -> dict:
    """The config a run was trained with (its config.json)."""
    return json.loads((run / "config.json").read_text())


@dataclass
class RunRecord:
    """What the model card says of one run of the chain: its name, its config and its training time."""

    name: str
    config: dict
    seconds: float  # the sum of its epochs' times

    @classmethod
    def of(cls, run: Path) -> RunRecord:
        return cls(run.name, run_config(run), epoch_seconds(run))


def load_run_records(path: Path | None = None) -> dict[str, RunRecord]:
    path = path or RUN_RECORDS
    if not path.is_file():
        return {}
    return {name: RunRecord(name, **record) for name, record in json.loads(path.read_text())["runs"].items()}


def save_run_records(records: list[RunRecord], path: Path | None = None) -> None:
    runs = {r.name: {k: v for k, v in asdict(r).items() if k != "name"} for r in records}
    atomic_write_text(path or RUN_RECORDS, json.dumps({"runs": runs}, indent=1) + "\n")
