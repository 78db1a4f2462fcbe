"""lbi: Lifting by Image - 3D human pose from a 2D pose that queries image features.

Layout (data -> model -> estimator -> app):
    skeleton, camera, crop      joint sets, cameras, person crops
    codec                       the model's input codec: crop size and 2D normalisation
    encoders/                   image encoders behind one interface (BlazePose, HRNet-w32, small CNN)
    model/                      TL, PGTL, feature selection, the two-stage LiftingByImage, baselines
    data/                       prepared-dataset format, Human3.6M, 3DHP, LBI-Synth, PoseDataset (readers only)
    metrics                     MPJPE, P-MPJPE, PCK/AUC, background-attention ratio
    weights, fileio             safetensors model files, atomic writes
    pose2d, estimator           MediaPipe 2D pose; photo -> 3D pose in named, timed stages
    draw, views, cli            pictures of an estimate, what the app shows, python -m lbi
"""

from .model import LiftingByImage, LiftingConfig, LiftingOutput, build_model

__version__ = "0.1.0"
__all__ = ["LiftingByImage", "LiftingConfig", "LiftingOutput", "build_model", "__version__"]
