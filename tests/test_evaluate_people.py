"""Multi-person recall and phantoms (train.reports.evaluate_people): the matching rule and the CLI, on fabricated
photos."""

import json

import cv2
import numpy as np
import pytest

from lbi.pose2d.landmarks import Pose2D
from train.reports.evaluate_people import (
    H36M,
    JOINTS,
    LANDMARKS,
    SWAP,
    Annotated,
    AnnotatedImage,
    PeopleSetError,
    evaluate_image,
    evaluate_people,
    load_folder,
    main,
    share,
    twelve_joints,
)


def person(x0: float, y0: float, labelled: int = 12) -> Annotated:
    """An annotated person: 12 joints in a 100 x 200 px box from (x0, y0); the first ``labelled`` joints labelled."""
    rng = np.random.default_rng(int(x0 + 7 * y0))
    joints = np.column_stack([x0 + rng.uniform(0, 100, 12), y0 + rng.uniform(0, 200, 12)])
    return Annotated((x0, y0, 100.0, 200.0), joints, np.arange(12) < labelled)


def found(joints12: np.ndarray) -> Pose2D:
    """A detector's person whose 33 landmarks carry the given 12 joints (the rest far away)."""
    landmarks = np.full((33, 2), -1e4)
    landmarks[list(LANDMARKS)] = joints12
    pose = Pose2D.from_joints(np.zeros((17, 2)))
    pose.landmarks, pose.visibility = landmarks, np.ones(33)
    return pose


def test_the_twelve_joints_from_landmarks_or_h36m_joints():
    joints = np.arange(24.0).reshape(12, 2)
    np.testing.assert_array_equal(twelve_joints(found(joints)), joints)
    h36m = np.zeros((17, 2))
    h36m[list(H36M)] = joints
    np.testing.assert_array_equal(twelve_joints(Pose2D.from_joints(h36m)), joints)
    assert [JOINTS[i] for i in SWAP[:4]] == ["right_shoulder", "left_shoulder", "right_elbow", "left_elbow"]


def test_a_perfect_match_and_a_left_right_swapped_one():
    a, b = person(0, 0), person(300, 0)
    image = AnnotatedImage("x.jpg", "coco", [a, b])
    result = evaluate_image(image, [found(a.joints), found(b.joints[list(SWAP)])])
    assert (result.counted, result.found, result.matched, result.phantoms, result.other) == (2, 2, 2, 0, 0)
    assert [p["share"] for p in result.people] == [1.0, 1.0]
    assert share(b.joints[list(SWAP)], b) == 1.0


def test_a_miss_a_phantom_and_a_second_find():
    a, b = person(0, 0), person(300, 0)
    image = AnnotatedImage("x.jpg", "coco", [a, b])
    far = found(a.joints + 5000.0)
    result = evaluate_image(image, [found(a.joints), far, found(a.joints + 2.0)])
    # b is missed; the far one is a phantom; the second find of a is matched to no one (one-to-one) but is no phantom
    assert (result.counted, result.matched, result.phantoms, result.other) == (2, 1, 1, 1)
    assert result.people[0]["found"] == 0 and result.people[1]["found"] is None


def test_greedy_one_to_one_by_share():
    a = person(0, 0)
    radius = 0.15 * 200
    near = a.joints.copy()
    near[:4] += 3 * radius  # 8 of 12 joints close
    result = evaluate_image(AnnotatedImage("x.jpg", "aic", [a]), [found(near), found(a.joints)])
    assert result.people[0]["found"] == 1 and result.people[0]["share"] == 1.0  # the better share wins
    assert (result.matched, result.other, result.phantoms) == (1, 1, 0)


def test_who_counts_and_the_half_and_quarter_rules():
    radius = 0.15 * 200
    full, barely = person(0, 0), person(400, 0, labelled=4)
    assert full.counts and not barely.counts
    half = full.joints.copy()
    half[6:] += 3 * radius  # exactly half of the 12 labelled joints within the radius: a match
    assert share(half, full) == 0.5
    less = full.joints.copy()
    less[5:] += 3 * radius  # 5 of 12: no match
    image = AnnotatedImage("x.jpg", "crowdpose", [full, barely])
    assert evaluate_image(image, [found(half)]).matched == 1
    unmatched = evaluate_image(image, [found(less)])
    assert (unmatched.matched, unmatched.phantoms, unmatched.other) == (0, 0, 1)  # 5/12 >= a quarter: no phantom
    # the barely annotated person (4 labelled) is not counted, but a find at a quarter of their joints is no phantom
    quarter = barely.joints.copy()
    quarter[1:] += 3 * radius  # 1 of 4 labelled joints
    result = evaluate_image(image, [found(full.joints), found(quarter)])
    assert (result.counted, result.matched, result.phantoms, result.other) == (1, 1, 0, 1)
    none = barely.joints + 3 * radius
    assert evaluate_image(image, [found(full.joints), found(none)]).phantoms == 1


def write_folder(root, people_per_image=((0, 0),), size=(400, 600)) -> None:
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for k, origins in enumerate([people_per_image, people_per_image[:1]]):
        cv2.imwrite(str(root / f"img{k}.png"), np.full((*size, 3), 90, np.uint8))
        people = []
        for x0, y0 in origins:
            p = person(x0, y0)
            joints = [[float(x), float(y), int(v)] for (x, y), v in zip(p.joints, p.labelled)]
            people.append({"box": list(p.box), "joints": joints})
        entries.append({"image": f"img{k}.png", "source": "coco" if k == 0 else "aic", "people": people})
    (root / "gt.json").write_text(json.dumps({"joints": list(JOINTS), "images": entries}))


def test_evaluating_a_folder_with_any_detector(tmp_path):
    write_folder(tmp_path / "set", ((0, 0), (300, 100)))
    images = load_folder(tmp_path / "set")
    truth = {img.name: img for img in images}
    calls = []

    def detect(rgb):  # finds the first annotated person of whichever photo it is given, and a phantom
        calls.append(rgb.shape)
        name = f"img{len(calls) - 1}.png"
        return [found(truth[name].people[0].joints), found(np.full((12, 2), 5000.0))]

    report = evaluate_people([tmp_path / "set"], detect, "stub")
    assert calls == [(400, 600, 3), (400, 600, 3)]
    total = report.totals()
    assert (total["counted"], total["matched"], total["phantoms"]) == (3, 2, 2)
    assert total["recall"] == pytest.approx(2 / 3)
    assert report.totals("aic")["recall"] == 1.0 and report.totals("coco")["matched"] == 1
    text = report.markdown()
    assert "| **all** (2 images) | 3 | 2 | 0.67 |" in text and "img0.png (coco)" in text
    parsed = json.loads(report.to_json())
    assert parsed["overall"]["matched"] == 2 and set(parsed["sources"]) == {"aic", "coco"}


def test_cli_errors_on_a_missing_or_malformed_folder(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no such folder" in err and "\n" not in err
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "no gt.json" in capsys.readouterr().err
    bad = tmp_path / "bad"
    write_folder(bad)
    (bad / "gt.json").write_text('{"images": [{"image": "img0.png", "people": [{"box": [0, 0], "joints": []}]}]}')
    assert main([str(bad)]) == 2
    assert "not in the format" in capsys.readouterr().err
    (bad / "gt.json").write_text('{"images": [{"image": "gone.png", "people": []}]}')
    with pytest.raises(PeopleSetError, match="missing"):
        load_folder(bad)
