"""Training and evaluation for lbi: progressive stages, baselines, data preparation, result tables.

Entry points (one per task):
    python -m train --config CONFIG.yaml [--resume] [--set section.key=value ...]   train + evaluate
    python -m train.evaluate --weights W --data name=root:split ...                evaluate a model
    python -m train.make_synth --out data/lbi-synth [--size default]               generate LBI-Synth
    python -m train.prepare_h36m ...                                               prepare Human3.6M
    python -m train.prepare_3dhp ...                                               prepare 3DHP test set
    python -m train.synth_table                                                    the LBI-Synth table
"""
