"""Who is who across video frames: each frame's people matched to the tracks of the frames before.

Matching is by box overlap (intersection over union), best pairs first, so a person keeps their id while their
box moves less than its own size between frames. People found anew get new ids; a track that finds nobody for
``patience`` frames ends. When two people cross, their boxes overlap and the ids can swap or pass to whoever
reappears first: overlap says where a box was, not whose body is in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..pose2d.landmarks import box_iou

Box = tuple[float, float, float, float]  # (x, y, w, h) pixels


@dataclass
class Track:
    id: int
    box: Box
    last_frame: int


@dataclass
class Tracker:
    min_iou: float = 0.2
    patience: int = 15  # frames a track survives without its person
    tracks: list[Track] = field(default_factory=list)
    next_id: int = 0

    def assign(self, boxes: list[Box], frame: int) -> list[int]:
        """The track id of each box of ``frame`` (frames in increasing order)."""
        self.tracks = [t for t in self.tracks if frame - t.last_frame <= self.patience]
        pairs = sorted(
            ((box_iou(box, track.box), i, k) for i, box in enumerate(boxes) for k, track in enumerate(self.tracks)),
            reverse=True,
        )
        ids: list[int | None] = [None] * len(boxes)
        taken: set[int] = set()
        for iou, i, k in pairs:
            if iou < self.min_iou:
                break
            if ids[i] is None and k not in taken:
                ids[i], taken = self.tracks[k].id, taken | {k}
                self.tracks[k].box, self.tracks[k].last_frame = boxes[i], frame
        for i, box in enumerate(boxes):
            if ids[i] is None:
                ids[i] = self.next_id
                self.tracks.append(Track(self.next_id, box, frame))
                self.next_id += 1
        return [i for i in ids if i is not None]
