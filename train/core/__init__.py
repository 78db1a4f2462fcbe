"""The training core: configs, the loop, evaluation, feature caches, the 2D and 3D input noise."""
