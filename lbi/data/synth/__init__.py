"""LBI-Synth: synthetic people rendered by ray casting, in a "lab" and a "wild" domain.

body.py (shapes, pose sampler, primitives) -> render.py (ray casting into the crop) ->
scenes.py (cameras, backgrounds, lights per domain) -> generate.py (the data set writer).
"""
