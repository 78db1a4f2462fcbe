"""LBI-Synth: synthetic people rendered by ray casting, written through :mod:`lbi.data.format`'s writer.

kinematics.py: the kinematic core every domain's people stand on (joint order, bone lengths, forward kinematics
of spine, head and limbs, skin tones).

lab / wild (the first benchmark): body.py (shapes, pose sampler, primitives) -> render.py (ray
casting into the crop) -> scenes.py (4 fixed lab scenes; random wild ones) -> generate.py.

rand (domain-randomised, what the bundled weights learn from): poses.py (everyday poses, arm
gestures by IK) -> people.py (bodies, skin, hair, clothes) -> randomised.py (any camera; each pose
on several backgrounds from backgrounds.py) -> render.py -> generate.py.

photo: rand's renders under the cameras of everyday photos (randomised.PHOTO_CAMERAS).
upper (portraits, webcams at a desk): rand's crops with the photo's edge below the shoulders (upper.py).
pairs (no images): procedural poses and their projections under PHOTO_CAMERAS (pairs.py).
"""
