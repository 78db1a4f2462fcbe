"""Geometry: the H36M skeleton and the maps onto it, cameras, and the measures of a pose."""
