"""Training and evaluation for lbi: the training core, data preparation, reports and the release.

    train/core/      configs, the training loop, evaluation, feature caches, the 2D and 3D input noise
    train/data/      LBI-Synth renders, Human3.6M and 3DHP, MediaPipe on every crop
    train/reports/   tables and measurements: real photos, several people, the study, synthetic tables
    train/release/   the bundled weights in one command, their model card, the examples, the fusion's runs
    train/configs/   flat YAML configs (``base:`` inherits); train/results/   the committed tables

Entry points (one per task):
    python -m train --config CONFIG.yaml [--resume] [--set section.key=value ...]   train + evaluate
    python -m train.core.evaluate --weights W --data name=root:split ...            evaluate a model
    python -m train.data.make_synth --out data/lbi-synth [--size default]           generate LBI-Synth
    python -m train.data.prepare_h36m ... / prepare_3dhp ...                        prepare Human3.6M / 3DHP
    python -m train.core.evaluate_photos DIR...                                  real annotated photos
    python -m train.release.default_weights                                         the bundled weights
"""

from pathlib import Path

#: the package's folders: configs and committed results; the checkout's docs and example assets beside it
CONFIGS = Path(__file__).resolve().parent / "configs"
RESULTS = Path(__file__).resolve().parent / "results"
DOCS = Path(__file__).resolve().parents[1] / "docs"
