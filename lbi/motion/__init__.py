"""Clip -> motion: frames streamed, identities across frames, smoothing, BVH."""
