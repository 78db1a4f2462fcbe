"""MediaPipe's two BlazePose stages as separate native graphs: the person detector, and the landmark network on a
region of the photo.

The legacy ``mp.solutions.pose`` graph chains them for one person: it detects on the whole photo, keeps the best
detection and runs the landmarks in the region it gives. The wheel registers both stages as subgraphs
(``PoseDetectionCpu``, ``PoseLandmarkByRoiCpu``), so they run here on their own, with MediaPipe's calculators and
TFLite runtime, at the legacy graph's speed: the detector on any view of a photo, the landmarks in any region, as
often per photo as there are people. The landmarks are nearly the legacy graph's (on the real validation photos
the lifted poses agree to 0.05 mm; joints guessed outside a photo can move by some pixels).

Each graph is built once per instance, in :data:`COPIES` copies that compute at once; not thread-safe.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .regions import Region

#: the stages' side packets and streams, as the legacy graph wires them (model_complexity 1: the full model, the
#: one the wheel ships)
_DETECTOR_GRAPH = """
input_stream: "image"
output_stream: "detections"
node {
  calculator: "PoseDetectionCpu"
  input_stream: "IMAGE:image"
  output_stream: "DETECTIONS:detections"
}
"""
_LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "landmarks"
output_stream: "auxiliary"
output_stream: "world"
%(mask_stream)s
node {
  calculator: "PoseLandmarkByRoiCpu"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_side_packet: "ENABLE_SEGMENTATION:enable_segmentation"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  output_stream: "LANDMARKS:landmarks"
  output_stream: "AUXILIARY_LANDMARKS:auxiliary"
  output_stream: "WORLD_LANDMARKS:world"
  %(mask_node)s
}
"""


#: copies of each graph: MediaPipe runs one inference at a time per graph, so the views of a photo and the people of a
#: frame are dealt out over copies that compute at once. More copies than a small machine's cores: the cores are
#: shared among them, and a frame of three people takes one round instead of two
COPIES = 3


@dataclass
class Detections:
    """The detector's people in image px, best first."""

    keypoints: np.ndarray  # (K, 4, 2) hip centre, full-body size/rotation point, shoulder centre, upper-body point
    scores: np.ndarray  # (K,) in [0, 1]

    def __len__(self) -> int:
        return len(self.scores)


@dataclass
class Landmarks:
    """The landmark network's answer in one region (absent when its pose flag says nobody is there)."""

    xy: np.ndarray  # (33, 2) image px
    visibility: np.ndarray  # (33,) in [0, 1]
    auxiliary: np.ndarray  # (2, 2) image px: the hip centre and the full-body size/rotation point (the next region)
    world_m: np.ndarray  # (33, 3) metres, hip-centred, in the photo's axes (MediaPipe's world landmarks)
    mask: np.ndarray | None = None  # (H, W) float32 in [0, 1]: the person's segmentation in the photo


class _Graph:
    """One running MediaPipe graph. Inputs go in at consecutive timestamps; the packets of each output stream are
    collected by timestamp, so several inputs can be in flight at once (the graph pipelines them)."""

    def __init__(self, config: str, outputs: list[str], side_packets: dict | None = None) -> None:
        import mediapipe as mp
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python._framework_bindings import calculator_graph, resource_util

        resource_util.set_resource_dir(os.path.dirname(os.path.dirname(mp.__file__)))  # the wheel's model files
        self.graph = calculator_graph.CalculatorGraph(
            graph_config=text_format.Parse(config, calculator_pb2.CalculatorGraphConfig())
        )
        self.out: dict[int, dict[str, object]] = {}
        for name in outputs:
            self.graph.observe_output_stream(name, self._collect)
        self.graph.start_run(input_side_packets=side_packets or {})
        self.timestamp = 0

    def _collect(self, stream: str, packet) -> None:
        self.out.setdefault(packet.timestamp.value, {})[stream] = packet

    def submit(self, inputs: list[dict[str, object]]) -> list[int]:
        """Puts one dict of input packets per run (stream -> packet) into the graph, without waiting; returns their
        timestamps (for :meth:`collect`)."""
        stamps = []
        for packets in inputs:
            for stream, packet in packets.items():
                self.graph.add_packet_to_input_stream(stream, packet.at(self.timestamp))  # type: ignore[attr-defined]
            stamps.append(self.timestamp)
            self.timestamp += 1
        return stamps

    def collect(self, stamps: list[int]) -> list[dict[str, object]]:
        """Waits for the graph, then one dict of output packets per submitted run (a stream missing where the graph
        gave nothing)."""
        self.graph.wait_until_idle()
        answers = [self.out.pop(stamp, {}) for stamp in stamps]
        self.out.clear()
        return answers

    def close(self) -> None:
        self.graph.close()


def _run_spread(graphs: list[_Graph], inputs: list[dict[str, object]]) -> list[dict[str, object]]:
    """The runs dealt out over ``graphs`` (copies of one graph) in turn, all submitted before any is awaited, so
    that the copies compute at once on separate cores; the answers in the order of ``inputs``."""
    stamps = [graph.submit(inputs[k :: len(graphs)]) for k, graph in enumerate(graphs)]
    answers: list[dict[str, object]] = [{} for _ in inputs]
    for k, (graph, mine) in enumerate(zip(graphs, stamps)):
        answers[k :: len(graphs)] = graph.collect(mine)
    return answers


def _image_packet(rgb: np.ndarray):
    from mediapipe.python import packet_creator
    from mediapipe.python._framework_bindings import image_frame

    return packet_creator.create_image_frame(image_format=image_frame.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


class BlazePoseGraphs:
    """The detector and the landmark network of the mediapipe wheel, each callable on its own."""

    def __init__(self, segmentation: bool = False) -> None:
        self.segmentation = segmentation
        self.detectors = [_Graph(_DETECTOR_GRAPH, ["detections"]) for _ in range(COPIES)]
        self._landmarkers: dict[bool, list[_Graph]] = {}  # with and without the segmentation, built when first asked

    def landmarkers(self, segmentation: bool) -> list[_Graph]:
        """The copies of the landmark graph, with or without the person's segmentation (which costs time)."""
        from mediapipe.python import packet_creator

        if segmentation not in self._landmarkers:
            mask = {"mask_stream": 'output_stream: "mask"', "mask_node": 'output_stream: "SEGMENTATION_MASK:mask"'}
            none = {"mask_stream": "", "mask_node": ""}
            self._landmarkers[segmentation] = [
                _Graph(
                    _LANDMARK_GRAPH % (mask if segmentation else none),
                    ["landmarks", "auxiliary", "world"] + (["mask"] if segmentation else []),
                    {
                        "model_complexity": packet_creator.create_int(1),
                        "enable_segmentation": packet_creator.create_bool(segmentation),
                    },
                )
                for _ in range(COPIES)
            ]
        return self._landmarkers[segmentation]

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """Images (H, W, 3) uint8 -> the people the detector finds in each (letterboxed to its square, as MediaPipe
        runs it), best first, in that image's pixels. The images go through the graph together."""
        from mediapipe.python import packet_getter

        answers = []
        inputs: list[dict[str, object]] = [{"image": _image_packet(rgb)} for rgb in images]
        for rgb, out in zip(images, _run_spread(self.detectors, inputs)):
            height, width = rgb.shape[:2]
            found = packet_getter.get_proto_list(out["detections"]) if "detections" in out else []
            keypoints = np.array(
                [[[k.x * width, k.y * height] for k in d.location_data.relative_keypoints] for d in found], np.float64
            ).reshape(-1, 4, 2)
            scores = np.array([d.score[0] for d in found], np.float64)
            order = np.argsort(-scores, kind="stable")
            answers.append(Detections(keypoints[order], scores[order]))
        return answers

    def landmarks(
        self, rgb: np.ndarray, regions: list[Region], segmentation: bool | None = None
    ) -> list[Landmarks | None]:
        """The landmark network in each of ``regions`` of rgb (H, W, 3) uint8; None where its pose flag finds nobody.
        The regions go through the graph together. ``segmentation``: whether each gets their mask (None: as the
        instance was built)."""
        from mediapipe.framework.formats import rect_pb2
        from mediapipe.python import packet_creator, packet_getter

        height, width = rgb.shape[:2]
        image = _image_packet(rgb)
        inputs = [
            {
                "image": image,
                "roi": packet_creator.create_proto(
                    rect_pb2.NormalizedRect(
                        x_center=r.centre[0] / width,
                        y_center=r.centre[1] / height,
                        width=r.size / width,
                        height=r.size / height,
                        rotation=r.rotation,
                    )
                ),
            }
            for r in regions
        ]
        answers: list[Landmarks | None] = []
        segmentation = self.segmentation if segmentation is None else segmentation
        for out in _run_spread(self.landmarkers(segmentation), inputs):
            if "landmarks" not in out:
                answers.append(None)
                continue
            points = packet_getter.get_proto(out["landmarks"]).landmark
            auxiliary = packet_getter.get_proto(out["auxiliary"]).landmark
            world = packet_getter.get_proto(out["world"]).landmark
            mask = None
            if "mask" in out:
                mask = np.asarray(packet_getter.get_image(out["mask"]).numpy_view(), np.float32)
                mask = mask.reshape(height, width)
            answers.append(
                Landmarks(
                    xy=np.array([[p.x * width, p.y * height] for p in points]),
                    visibility=np.array([p.visibility for p in points]),
                    auxiliary=np.array([[p.x * width, p.y * height] for p in auxiliary])[:2],
                    world_m=np.array([[p.x, p.y, p.z] for p in world]),
                    mask=mask,
                )
            )
        return answers

    def close(self) -> None:
        for graph in self.detectors + [g for copies in self._landmarkers.values() for g in copies]:
            graph.close()
