"""lbi: Lifting by Image - 3D human pose from a 2D pose that queries image features.

The module map, in the order a photo goes through it (``tests/test_layout.py`` keeps it true):

    pose2d/     landmarks, regions, graphs, people      photo -> everyone's 2D pose: MediaPipe's BlazePose graphs
    crop/       affine, codec                           2D pose -> the person crop and the model's inputs
    encoders/   base, blazepose, hrnet, small_cnn, tflite_graph          crop -> image features
    model/      embedding, attention, layers, prior, selection, lifter, baselines, flip, dict_config
                                                        stage 1, feature selection, stage 2: the lifter
    pipeline/   estimator, estimate, fusion, export, onnx_lifter         photo -> 3D pose, joined with
                                                        MediaPipe's 3D; the same as one ONNX graph
    views/      draw, figure3d, photo, live, live_stream, clip, player, files
                                                        what the app shows (no Gradio)
    motion/     video, tracking, bvh                    clip -> motion: frames, people followed, BVH

Beside that path:

    geometry/   skeleton, camera, metrics               joint sets, cameras, the measures of a pose
    io/         images, files, weights                  photos in, atomic writes, model files
    data/       format, dataset, h36m, mpi_inf_3dhp, safe_npz            prepared data sets: readers, writers
    data/synth/ kinematics, body, scenes, poses, people, backgrounds, randomised, render, generate, clip,
                upper, pairs                            LBI-Synth, the project's synthetic people
    (top)       cli, bench, app, estimator, image_io    ``lbi COMMAND``; latency; the Gradio app (only
                                                        ``lbi app`` imports it); re-exports for user code

The dependencies run one way: nothing imports ``app``; ``model`` never imports ``data``.
"""

from .encoders.blazepose import check_mediapipe

check_mediapipe()  # before anything reads its graphs: the one version whose files lbi knows

from .model import LiftingByImage, LiftingConfig, LiftingOutput, build_model  # noqa: E402

__version__ = "0.1.0"
__all__ = ["LiftingByImage", "LiftingConfig", "LiftingOutput", "build_model", "__version__"]
