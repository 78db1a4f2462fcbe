"""Everyone in a stream of frames (a clip, a webcam), each with an id that follows them.

Each person is looked for where their landmarks of the frame before put them
(:attr:`lbi.pose2d.people.Person.next_region`), as MediaPipe's video mode follows its one person: one landmark run
per person and frame. The detector
(:meth:`lbi.pose2d.people.PeopleDetector.people`, the photo's search) runs on the first frame, then every
``detect_every`` frames (every :data:`REACQUIRE_EVERY` while someone lost waits for their id), and in every frame
where someone was lost or nobody is followed, to find newcomers; with ``max_people`` followed it does not run.
So the first frame of a stream gives the people a photo of it gives.

Ids. A person followed keeps their id. A newcomer takes the id of a person lost in the last ``patience`` frames
whose last box is nearest theirs (centres closer than the larger box's width), else a new one. When two people
cross, the one in front covers the one behind: the two finds repeat each other (the same body) and the more
recent id gives way; when the one behind reappears, the detector finds them and they take back their id if they
reappear near where they were lost. Ids can still swap when people cross close together and both change
direction behind each other: nothing here knows what a person looks like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..pose2d.landmarks import Pose2D
from ..pose2d.people import PeopleDetector, Person

Box = tuple[float, float, float, float]  # (x, y, w, h) pixels

#: the detector looks for newcomers every this many frames (besides frames where someone was lost): about a second
DETECT_EVERY = 30
#: frames a lost person's id waits to be taken back
PATIENCE = 30
#: while someone lost waits for their id, the detector looks for them every this many frames
REACQUIRE_EVERY = 3


@dataclass
class Track:
    id: int
    person: Person
    pose: Pose2D  # the person's 2D pose (its box places a lost person)
    last_frame: int


@dataclass
class PeopleTracker:
    """Follows up to ``max_people`` people through consecutive frames (see the module). Not thread-safe: one per
    stream."""

    detector: PeopleDetector
    max_people: int = 4
    detect_every: int = DETECT_EVERY
    patience: int = PATIENCE
    tracks: list[Track] = field(default_factory=list)
    lost: list[Track] = field(default_factory=list)
    frame: int = -1
    next_id: int = 0

    def __call__(self, rgb: np.ndarray) -> list[tuple[int, Pose2D]]:
        """The next frame (H, W, 3) uint8 -> (id, 2D pose) of everyone followed in it, ids ascending."""
        self.frame += 1
        answers = self.detector.follow(rgb, [t.person.next_region for t in self.tracks])
        kept: list[Track] = []
        for track, person in zip(self.tracks, answers):  # ids ascending: the one followed longer keeps a body
            if person is None or person.repeats([t.person for t in kept]):
                self.lost.append(track)  # gone, or now on someone followed longer (they crossed)
                continue
            track.person, track.pose, track.last_frame = person, person.pose2d(), self.frame
            kept.append(track)
        lost_now = len(kept) < len(self.tracks)
        self.tracks = kept
        self.lost = [t for t in self.lost if self.frame - t.last_frame <= self.patience]
        room = self.max_people - len(self.tracks)
        due = self.frame % (REACQUIRE_EVERY if self.lost else self.detect_every) == 0
        if room > 0 and (lost_now or not self.tracks or due):
            for person in self.detector.people(rgb, room, known=[t.person for t in self.tracks]):
                pose = person.pose2d()
                self.tracks.append(Track(self._id_for(pose.box), person, pose, self.frame))
            self.tracks.sort(key=lambda t: t.id)
        return [(t.id, t.pose) for t in self.tracks]

    def close(self) -> None:
        """Closes the detector's MediaPipe graphs."""
        self.detector.close()

    def _id_for(self, box: Box) -> int:
        """A newcomer's id: that of the nearest person lost recently (see the module), else a new one."""
        near = [(d, t) for t in self.lost if (d := _distance(box, t.pose.box)) < max(box[2], t.pose.box[2])]
        if near:
            track = min(near, key=lambda pair: pair[0])[1]
            self.lost.remove(track)
            return track.id
        self.next_id += 1
        return self.next_id - 1


def _distance(a: Box, b: Box) -> float:
    """Distance (px) between the centres of two (x, y, w, h) boxes."""
    return math.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2)
